/** Field forms shared by the query payloads of several kinds. */
import { z } from 'zod';

/** Free text of a filter (a URL, a reference). */
export const FilterText = z.string().min(1, 'must not be empty').max(2048, 'must be at most 2048 characters');

/** A name prefix filter. */
export const NamePrefix = z.string().min(1, 'must not be empty').max(128);

/** One value or a non-empty list of values. */
export function oneOrMany<const T extends readonly [string, ...string[]]>(values: T) {
  const expected = `must be one of ${values.join(', ')}, or a list of them`;
  const one = z.enum(values, { error: expected });
  return z.union([one, z.array(one).min(1, 'must not be empty')], { error: expected });
}
