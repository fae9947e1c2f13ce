/**
 * Outgoing NATS headers, written once as their wire form.
 *
 * Why: nats.js's `headers().set()` re-validates the key, lists and filters every existing key
 * and wraps the value in an array on each call, and `encode()` rebuilds the text; for the
 * ~25 headers a command sends (store, seed event, reply) that was the largest source of
 * garbage in the service, about 40 % of what a command allocated. Here names and values are
 * kept in one array and written once into one buffer (no line strings, no text encoder). It
 * implements `MsgHdrs`, so reading it back works as usual, plus the `encode()` that nats.js's
 * publish calls.
 */
import type { Match, MsgHdrs } from '@nats-io/transport-node';

const KEY = /^[!-9;-~]+$/;
const BREAK = /[\r\n]/;
const CR = 13;
const LF = 10;
/** `NATS/1.0`, the first line. */
const VERSION = [78, 65, 84, 83, 47, 49, 46, 48];

export class WireHeaders implements MsgHdrs {
  hasError = false;
  status = '';
  code = 0;
  description = '';
  /** Names and values, alternating, in the order appended. */
  private readonly flat: string[] = [];
  private bytes: Uint8Array | undefined;

  /** Headers from name/value pairs (checked: a token name, no line break in a value). */
  constructor(pairs: Record<string, string> = {}) {
    for (const key in pairs) this.append(key, pairs[key] as string);
  }

  /**
   * What nats.js's publish sends: the lines written straight into one buffer (from Node's
   * pool), with no intermediate strings.
   */
  encode(): Uint8Array {
    if (this.bytes) return this.bytes;
    const f = this.flat;
    // `NATS/1.0`, then `\r\n<name>: <value>` per header, then `\r\n\r\n`.
    let size = VERSION.length + 4;
    for (let i = 0; i < f.length; i += 2) size += 4 + f[i]!.length + Buffer.byteLength(f[i + 1]!, 'utf8');
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    for (const b of VERSION) out[at++] = b;
    for (let i = 0; i < f.length; i += 2) {
      out[at++] = CR;
      out[at++] = LF;
      at += out.write(f[i]!, at, 'latin1');
      out[at++] = 58; // ':'
      out[at++] = 32; // ' '
      at += out.write(f[i + 1]!, at, 'utf8');
    }
    out[at++] = CR;
    out[at++] = LF;
    out[at++] = CR;
    out[at++] = LF;
    this.bytes = out;
    return out;
  }

  append(k: string, v: string): void {
    if (!KEY.test(k)) throw new Error(`invalid header name '${k}'`);
    if (BREAK.test(v)) throw new Error(`header ${k}: values cannot contain \\r or \\n`);
    this.flat.push(k, v.trim());
    this.bytes = undefined;
  }

  set(k: string, v: string): void {
    if (this.has(k)) this.delete(k);
    this.append(k, v);
  }

  delete(k: string): void {
    const f = this.flat;
    let kept = 0;
    for (let i = 0; i < f.length; i += 2) {
      if (f[i] === k) continue;
      f[kept++] = f[i]!;
      f[kept++] = f[i + 1]!;
    }
    f.length = kept;
    this.bytes = undefined;
  }

  get(k: string, _match?: Match): string {
    const f = this.flat;
    for (let i = 0; i < f.length; i += 2) if (f[i] === k) return f[i + 1]!;
    return '';
  }

  last(k: string, _match?: Match): string {
    return this.values(k).at(-1) ?? '';
  }

  has(k: string, _match?: Match): boolean {
    const f = this.flat;
    for (let i = 0; i < f.length; i += 2) if (f[i] === k) return true;
    return false;
  }

  keys(): string[] {
    const out = new Set<string>();
    for (let i = 0; i < this.flat.length; i += 2) out.add(this.flat[i]!);
    return [...out];
  }

  values(k: string, _match?: Match): string[] {
    const out: string[] = [];
    const f = this.flat;
    for (let i = 0; i < f.length; i += 2) if (f[i] === k) out.push(f[i + 1]!);
    return out;
  }

  *[Symbol.iterator](): Iterator<[string, string[]]> {
    for (const key of this.keys()) yield [key, this.values(key)];
  }
}
