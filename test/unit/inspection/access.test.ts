import { describe, expect, it } from 'vitest';
import { bearerMatches, checkAccess, loopbackHosts } from '../../../src/inspection/access.js';
import { isLoopbackHost } from '../../../src/config.js';

const TOKEN = 'a-token-of-the-right-length-0123';

describe('inspector access', () => {
  it('accepts exactly `Bearer <token>` (scheme in any case) and nothing else', () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`Bearer ${TOKEN}x`, TOKEN)).toBe(false);
    expect(bearerMatches(`Bearer ${TOKEN.slice(0, -1)}`, TOKEN)).toBe(false);
    expect(bearerMatches(TOKEN, TOKEN)).toBe(false);
    expect(bearerMatches(`Basic ${TOKEN}`, TOKEN)).toBe(false);
    expect(bearerMatches(`Bearer ${TOKEN} extra`, TOKEN)).toBe(false);
    expect(bearerMatches('Bearer ', TOKEN)).toBe(false);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
    // An empty given token never matches, not even an empty configured one.
    expect(bearerMatches('Bearer ', '')).toBe(false);
  });

  it('with a token, asks every request for it (401) whatever its Host', () => {
    const rule = { token: TOKEN, hosts: loopbackHosts(8787) };
    expect(checkAccess({ host: 'evil.example:8787' }, rule)).toMatchObject({ ok: false, status: 401 });
    expect(checkAccess({ host: '127.0.0.1:8787' }, rule)).toMatchObject({ ok: false, status: 401 });
    expect(checkAccess({ host: '192.0.2.2:8787', authorization: `Bearer ${TOKEN}` }, rule)).toEqual({ ok: true });
  });

  it('without a token (loopback only), answers only requests that name this machine (no DNS rebinding)', () => {
    const rule = { token: undefined, hosts: loopbackHosts(8787) };
    for (const host of ['127.0.0.1:8787', 'localhost:8787', '[::1]:8787', 'LOCALHOST:8787'])
      expect(checkAccess({ host }, rule)).toEqual({ ok: true });
    for (const host of ['evil.example:8787', 'rebound.attacker.test', '127.0.0.1:9999', ''])
      expect(checkAccess({ host }, rule)).toMatchObject({ ok: false, status: 421 });
  });

  it('knows loopback addresses from the rest', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1', 'LocalHost'])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.0.2.2', '10.0.0.1', 'example.org', '128.0.0.1', 'localhost.example.org'])
      expect(isLoopbackHost(h), h).toBe(false);
  });
});
