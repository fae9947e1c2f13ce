/**
 * Opaque page cursors: base64url of `{ v, l, k }` — format version, the list it belongs to
 * (`module.list`, `package.status`, …) and the position (the last key served). Keyset
 * pagination: a cursor stays valid while records are added, and a page never repeats or
 * skips a record that existed when the first page was read.
 */

const VERSION = 1;

/** Encode the position after `key` in list `list`. */
export function encodeCursor(list: string, key: string | number): string {
  return Buffer.from(JSON.stringify({ v: VERSION, l: list, k: key }), 'utf8').toString('base64url');
}

export type DecodedCursor<K> = { ok: true; key: K } | { ok: false; message: string };

/** Decode a cursor of list `list`; the message says why it does not fit. */
export function decodeCursor<K extends string | number>(
  list: string,
  cursor: string,
  keyType: K extends string ? 'string' : 'number',
): DecodedCursor<K> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, message: 'is not a cursor of this service: pass next_cursor of the previous page unchanged' };
  }
  if (typeof parsed !== 'object' || parsed === null) {
    return { ok: false, message: 'is not a cursor of this service: pass next_cursor of the previous page unchanged' };
  }
  const c = parsed as { v?: unknown; l?: unknown; k?: unknown };
  if (c.v !== VERSION || typeof c.l !== 'string' || typeof c.k !== keyType) {
    return { ok: false, message: 'is not a cursor of this service: pass next_cursor of the previous page unchanged' };
  }
  if (c.l !== list) return { ok: false, message: `belongs to ${c.l}, not to ${list}: start ${list} without a cursor` };
  return { ok: true, key: c.k as K };
}
