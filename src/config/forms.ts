/**
 * The forms a setting's value may take, as zod schemas: numbers and booleans from the
 * environment's strings, NATS and websocket URLs, hosts to bind, Nix store URLs.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

/** Strings from the environment (or quoted in the file) become numbers when they look like one. */
export const asNumber = (v: unknown): unknown => {
  if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  return v;
};

const asBoolean = (v: unknown): unknown => {
  if (typeof v !== 'string') return v;
  const s = v.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  return v;
};

export const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.preprocess(asNumber, z.number().int().min(min).max(max));
export const bool = z.preprocess(asBoolean, z.boolean());
export const text = z.string().trim().min(1);
export const SEED_RE = /^SU[A-Z2-7]{56}$/;
export const TOKEN_RE = /^[A-Za-z0-9_-]+$/;

/** One word of a closed set, in any letter case. */
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), z.enum(values));

/** `nats://host:port` or `tls://…`, several comma-separated (the file may give a list). */
export const natsUrls = z.preprocess(
  (v) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.join(',') : v),
  z.string().transform((s, ctx) => {
    const parts = s
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p.length > 0);
    if (parts.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'empty' });
      return z.NEVER;
    }
    const out: string[] = [];
    for (const p of parts) {
      const withScheme = /^[a-z]+:\/\//i.test(p) ? p : `nats://${p}`;
      let u: URL;
      try {
        u = new URL(withScheme.replace(/^(nats|tls):/i, 'http:'));
      } catch {
        ctx.addIssue({ code: 'custom', message: p });
        return z.NEVER;
      }
      if (!/^(nats|tls):\/\//i.test(withScheme) || !u.hostname || (u.pathname !== '/' && u.pathname !== '')) {
        ctx.addIssue({ code: 'custom', message: p });
        return z.NEVER;
      }
      out.push(withScheme);
    }
    return out;
  }),
);

export const wsUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === 'ws:' || u.protocol === 'wss:') && u.hostname.length > 0;
  } catch {
    return false;
  }
});

/** A whole number ≥ 1, or forever (`null`; also "infinite", -1). */
export const maxAttempts = z.preprocess(
  (v) => {
    if (v === null) return null;
    if (typeof v === 'string' && ['infinite', 'infinity', 'unlimited', 'forever'].includes(v.trim().toLowerCase())) return null;
    const n = asNumber(v);
    if (n === -1) return null;
    return n;
  },
  z.union([z.null(), z.number().int().min(1)]),
);

/** An IP address or a host name to bind to. */
export const bindHost = z
  .string()
  .trim()
  .refine((s) => isIP(s) !== 0 || /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(s));

/** Is `host` a loopback address (127.0.0.0/8, ::1, localhost)? Anything else reaches beyond this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** A Nix store URL the operator chooses (any scheme nix copies to). */
export const storeUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return ['file:', 'http:', 'https:', 's3:', 'ssh:', 'ssh-ng:'].includes(u.protocol);
  } catch {
    return false;
  }
});
