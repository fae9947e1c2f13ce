/**
 * Actor names for the inspector: an aggregate's natural key, read from its context by its
 * kind's own `naturalKey` (machines/index.ts), bounded for the wire.
 */
import { registry, type AggregateContext, type AggregateKind } from '../../machines/index.js';
import { NAME_MAX } from './wire.js';

/** The natural key of an aggregate of `kind` with `context`, or undefined (not an aggregate, or not known yet). */
export function naturalKeyOf(kind: string, context: unknown): string | undefined {
  if (!Object.hasOwn(registry, kind) || context === null || typeof context !== 'object') return undefined;
  const key = registry[kind as AggregateKind].naturalKey(context as AggregateContext);
  if (typeof key !== 'string' || key === '') return undefined;
  return key.length > NAME_MAX ? `${key.slice(0, NAME_MAX - 1)}…` : key;
}
