/**
 * Bounded, secret-free copies of event payloads and contexts for the inspection stream:
 * depth, string length, array length and key count are capped, and values under keys that
 * look like credentials are replaced, so nothing large or secret leaves the process.
 */

/** How much of a value survives sanitising. */
export interface SanitizeLimits {
  depth: number;
  string: number;
  array: number;
  keys: number;
}

/** Limits for the live stream (every event): small. */
export const STREAM_LIMITS: SanitizeLimits = { depth: 3, string: 160, array: 12, keys: 16 };
/** Limits for on-demand detail (one actor's context, a history step). */
export const DETAIL_LIMITS: SanitizeLimits = { depth: 6, string: 2_000, array: 100, keys: 100 };

/** Keys whose values are never published. */
export const SECRET_KEY = /pass(word|wd|phrase)?$|secret|token|seed|nkey|creds?$|credential|authori[sz]ation|private|api[_-]?key|cookie/i;

export const REDACTED = '[redacted]';

/** A JSON-safe copy of `value` within `limits`. */
export function sanitize(value: unknown, limits: SanitizeLimits = STREAM_LIMITS): unknown {
  return walk(value, limits, 0);
}

function walk(value: unknown, limits: SanitizeLimits, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      return value.length > limits.string ? `${value.slice(0, limits.string)}… (${value.length} chars)` : value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return null;
  if (value instanceof Date) return value.toISOString();
  if (depth >= limits.depth) return Array.isArray(value) ? `[${value.length} items]` : '{…}';
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    const n = Math.min(value.length, limits.array);
    for (let i = 0; i < n; i++) out.push(walk(value[i], limits, depth + 1) ?? null);
    if (value.length > n) out.push(`… ${value.length - n} more`);
    return out;
  }
  if (value instanceof Map || value instanceof Set) return `{${value.constructor.name} of ${value.size}}`;
  const out: Record<string, unknown> = {};
  let kept = 0;
  let skipped = 0;
  for (const key in value as Record<string, unknown>) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    if (kept >= limits.keys) {
      skipped++;
      continue;
    }
    kept++;
    if (SECRET_KEY.test(key)) {
      out[key] = REDACTED;
      continue;
    }
    const v = walk((value as Record<string, unknown>)[key], limits, depth + 1);
    if (v !== undefined) out[key] = v;
  }
  if (skipped > 0) out['…'] = `${skipped} more keys`;
  return out;
}

/** An event object's payload (everything but `type`), sanitised; undefined when empty. */
export function eventPayload(event: { type: string } & Record<string, unknown>, limits: SanitizeLimits = STREAM_LIMITS): unknown {
  let empty = true;
  for (const key in event) {
    if (key !== 'type') {
      empty = false;
      break;
    }
  }
  if (empty) return undefined;
  const { type: _type, ...rest } = event;
  return walk(rest, limits, 0);
}
