import { describe, expect, it } from 'vitest';
import { REDACTED, STREAM_LIMITS, eventPayload, sanitize } from '../../../src/inspection/sanitize.js';

describe('sanitize', () => {
  it('redacts values under credential-like keys at any depth', () => {
    const out = sanitize({ a: { password: 'x', token: 'y', nkey_seed: 'z', apiKey: 'k', name: 'ok' } }) as { a: Record<string, unknown> };
    expect(out.a).toEqual({ password: REDACTED, token: REDACTED, nkey_seed: REDACTED, apiKey: REDACTED, name: 'ok' });
  });

  it('bounds strings, arrays, keys and depth', () => {
    const big = {
      s: 'x'.repeat(1_000),
      arr: Array.from({ length: 100 }, (_, i) => i),
      deep: { a: { b: { c: { d: 1 } } } },
      ...Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i])),
    };
    const out = sanitize(big, STREAM_LIMITS) as Record<string, unknown>;
    expect((out['s'] as string).length).toBeLessThan(200);
    expect(out['arr']).toHaveLength(STREAM_LIMITS.array + 1);
    expect(JSON.stringify(out['deep'])).toBe('{"a":{"b":"{…}"}}');
    expect(Object.keys(out)).toHaveLength(STREAM_LIMITS.keys + 1);
    expect(out['…']).toMatch(/more keys/);
  });

  it('makes any value JSON-safe', () => {
    const out = sanitize({ n: Number.NaN, big: 10n, f: () => 1, d: new Date(0), m: new Map([[1, 2]]), u: undefined });
    expect(out).toEqual({ n: 'NaN', big: '10', d: '1970-01-01T00:00:00.000Z', m: '{Map of 1}' });
  });

  it('takes an event payload without its type, or nothing for a bare event', () => {
    expect(eventPayload({ type: 'x' })).toBeUndefined();
    expect(eventPayload({ type: 'x', name: 'n' })).toEqual({ name: 'n' });
  });
});
