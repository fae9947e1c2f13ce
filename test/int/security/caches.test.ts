/**
 * Issue 12, class 5: a command's `cache_url` may only name a `file://` cache inside the
 * workspace (and not in a reserved place). Local stores elsewhere, bare paths, the daemon,
 * ssh, s3 and http caches are refused with `forbidden` before any event, and nothing is
 * written where they point.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR, expectRefused, handFlake, startHarness, type Harness } from './harness.js';

let h: Harness;
let outside: string;
const pkg = { flake_ref: 'path:app', attribute: ATTR };

beforeAll(async () => {
  h = await startHarness();
  outside = mkdtempSync(join(tmpdir(), 'cim-sec-cache-'));
  handFlake(h.svc.workspace, 'app');
  // package.cache needs a built package: without it the old code answered not_found first.
  const built = await h.cmd('package.build', pkg);
  expect((built['events'] as { event_type: string }[]).map((e) => e.event_type)).toContain('PackageBuilt');
});

afterAll(async () => {
  await h?.stop();
  rmSync(outside, { recursive: true, force: true });
});

describe('cache URLs (issue 12, class 5)', () => {
  const cases: [string, () => string][] = [
    ['a local store elsewhere', () => `local?root=${outside}/root`],
    ['a local:// store URL', () => `local://?root=${outside}/root2`],
    ['a bare absolute path', () => `${outside}/bare`],
    ['a bare relative path', () => 'relative-cache'],
    ['the daemon', () => 'daemon'],
    ['auto', () => 'auto'],
    ['an ssh store', () => 'ssh://root@127.0.0.1'],
    ['an ssh-ng store', () => 'ssh-ng://127.0.0.1'],
    ['an s3 bucket', () => 's3://bucket?endpoint=127.0.0.1'],
    ['an http cache', () => 'http://127.0.0.1:1/cache'],
    ['an https cache', () => 'https://cache.example.org'],
    ['a file:// cache outside', () => `file://${outside}/file-cache`],
    ['a relative file:// cache (nix resolves it against its cwd)', () => 'file://rel-cache'],
    ['a file:// cache with .. out of the workspace', () => `file://${h.svc.workspace}/../${outside.split('/').pop()}/dotdot`],
    ['a file:// cache with a local-nar-cache elsewhere', () => `file://${h.svc.workspace}/c1?local-nar-cache=${outside}/nars`],
    ['a file:// cache with a secret key read from elsewhere', () => `file://${h.svc.workspace}/c2?secret-key=/etc/shadow`],
    ['a file:// cache in .git', () => `file://${h.svc.workspace}/.git/cache`],
    ['a file:// cache in modules/', () => `file://${h.svc.workspace}/modules`],
    ['a file:// cache in hosts/', () => `file://${h.svc.workspace}/hosts/x`],
    ['a file:// cache in .nats', () => `file://${h.svc.workspace}/.nats`],
    ['a file:// cache that is the workspace root', () => `file://${h.svc.workspace}`],
    ['an upper-case FILE:// scheme outside', () => `FILE://${outside}/upper`],
  ];

  it.each(cases)('refuses %s with forbidden naming cache_url', async (_name, url) => {
    await expectRefused(h, 'package.cache', { ...pkg, cache_url: url() }, 'forbidden', /cache_url/);
    expect(readdirSync(outside)).toEqual([]);
    for (const reserved of ['.git/cache', 'modules', 'hosts', 'c1', 'c2', 'rel-cache', 'relative-cache']) {
      expect(existsSync(join(h.svc.workspace, reserved)), reserved).toBe(false);
    }
  });

  it('still caches to the default cache and to a file:// cache inside the workspace', async () => {
    expect(await h.cmd('package.cache', pkg)).toMatchObject({ status: 'ok', events: [{ event_type: 'PackageCached' }] });
    const mine = `file://${h.svc.workspace}/caches/mine`;
    expect(await h.cmd('package.cache', { ...pkg, cache_url: mine })).toMatchObject({
      status: 'ok',
      events: [{ event_type: 'PackageCached' }],
    });
    expect(existsSync(join(h.svc.workspace, 'caches/mine/nix-cache-info'))).toBe(true);
  });
});
