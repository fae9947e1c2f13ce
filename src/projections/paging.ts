/**
 * Pages of read-model records as query replies: cursors resolved and encoded, filters of the
 * collections' indexes, and replies that can be cut shorter when they would exceed the
 * server's max payload. Used by every kind's query runners.
 */
import { DEFAULT_LIMIT } from '../domain/queries.js';
import { ValidationError } from '../errors.js';
import type { Collection, IndexFilter, Page } from './collection.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import type { QueryOutcome } from './kindProjection.js';

/** A filter value as a list (a single value, or the list as given). */
export const asList = <T extends string>(v: T | readonly T[] | undefined): readonly T[] | undefined =>
  v === undefined ? undefined : typeof v === 'string' ? [v] : v;

/** Resolve a cursor into the key after which the page starts. */
export function after<K extends string | number>(list: string, cursor: string | undefined, keyType: K extends string ? 'string' : 'number'): K | undefined {
  if (cursor === undefined) return undefined;
  const decoded = decodeCursor<K>(list, cursor, keyType);
  if (!decoded.ok) throw new ValidationError(`cursor ${decoded.message}`, { fields: ['cursor'] });
  return decoded.key;
}

/** A page of a collection as a reply, with its shrink. */
export function pageReply<R>(list: string, page: Page<R>, wire: (r: R) => unknown): QueryOutcome {
  const body = (keep: number): Record<string, unknown> => {
    const n = Math.min(keep, page.items.length);
    const more = page.more || n < page.items.length;
    return {
      status: 'ok',
      items: page.items.slice(0, n).map(wire),
      next_cursor: more && n > 0 ? encodeCursor(list, page.keys[n - 1]!) : null,
    };
  };
  return { body: body(page.items.length), shrink: body };
}

/** A history (newest first, numbered entries) as a reply, with its shrink. */
export function historyReply<E>(list: string, page: { items: E[]; more: boolean }, entryOf: (e: E) => number, head: Record<string, unknown>, field = 'history'): QueryOutcome {
  const body = (keep: number): Record<string, unknown> => {
    const n = Math.min(keep, page.items.length);
    const more = page.more || n < page.items.length;
    return { status: 'ok', ...head, [field]: page.items.slice(0, n), next_cursor: more && n > 0 ? encodeCursor(list, entryOf(page.items[n - 1]!)) : null };
  };
  return { body: body(page.items.length), shrink: body };
}

/** One page of a collection after the payload's cursor. */
export function listPage<R>(
  list: string,
  collection: Collection<R>,
  p: { limit?: number | undefined; cursor?: string | undefined },
  where: IndexFilter[],
  prefix?: string,
  test?: (r: R) => boolean,
): Page<R> {
  const start = after<string>(list, p.cursor, 'string');
  return collection.page({
    limit: p.limit ?? DEFAULT_LIMIT,
    ...(start !== undefined ? { after: start } : {}),
    ...(prefix !== undefined ? { prefix } : {}),
    where,
    ...(test ? { test } : {}),
  });
}

/** An index filter when the payload gives values for it. */
export const filter = (index: string, values: readonly string[] | undefined): IndexFilter[] => (values === undefined ? [] : [{ index, values }]);
