/**
 * Issue 12, class 15: one answer for one rule. A local flake ref outside the workspace is
 * refused at intake with `forbidden` whatever its scheme (`path:`, `git+file:`, `file:`,
 * `tarball+file:`, `hg+file:`, a bare path, a `dir` that climbs out), exactly like
 * `path:/etc` — never recorded as a failed build.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { ATTR, expectRefused, handFlake, startHarness, type Harness } from './harness.js';
import { nonce, shellFlake, write } from '../../support/nix/workspace.js';

let h: Harness;
let outside: string;

beforeAll(async () => {
  h = await startHarness();
  outside = mkdtempSync(join(tmpdir(), 'cim-sec-refs-'));
  write(join(outside, 'flake.nix'), shellFlake('echo outside > $out', nonce()));
  handFlake(h.svc.workspace, 'app');
});

afterAll(async () => {
  await h?.stop();
  rmSync(outside, { recursive: true, force: true });
});

const REFS: [string, () => string][] = [
  ['path:/etc', () => 'path:/etc'],
  ['git+file:///etc', () => 'git+file:///etc'],
  ['file:///etc', () => 'file:///etc'],
  ['file:///etc/passwd', () => 'file:///etc/passwd'],
  ['tarball+file:///tmp/x.tar.gz', () => 'tarball+file:///tmp/x.tar.gz'],
  ['hg+file:///etc', () => 'hg+file:///etc'],
  ['GIT+FILE:///etc (upper case)', () => 'GIT+FILE:///etc'],
  ['git+file:/etc (no authority)', () => 'git+file:/etc'],
  ['git+file://localhost/etc', () => 'git+file://localhost/etc'],
  ['a bare absolute path outside', () => outside],
  ['a path: flake outside', () => `path:${outside}`],
  ['git+file: with .. out of the workspace', () => `git+file://WS/app/../../${outside.split('/').pop()}`],
  ['a dir that climbs out of a workspace repository', () => 'git+file://WS/app?dir=../../..'],
  ['a dir that is absolute', () => 'git+file://WS/app?dir=/etc'],
  ['a bare path whose dir climbs out', () => 'WS/app?dir=../..'],
];

describe('local refs outside the workspace (issue 12, class 15)', () => {
  it.each(REFS)('package.build refuses %s at intake with forbidden', async (_name, ref) => {
    const flake_ref = ref().replace('WS', h.svc.workspace);
    await expectRefused(h, 'package.build', { flake_ref, attribute: ATTR }, 'forbidden', /flake_ref/);
  });

  it.each(REFS)('package.cache refuses %s at intake with forbidden', async (_name, ref) => {
    const flake_ref = ref().replace('WS', h.svc.workspace);
    await expectRefused(h, 'package.cache', { flake_ref, attribute: ATTR }, 'forbidden', /flake_ref/);
  });

  it.each(REFS)('flake.add_input refuses %s at intake with forbidden', async (_name, ref) => {
    const url = ref().replace('WS', h.svc.workspace);
    await expectRefused(h, 'flake.add_input', { path: 'app', name: 'dep', url }, 'forbidden', /url/);
  });
});
