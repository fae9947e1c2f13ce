/**
 * Issue 12, class 12 (paths): a path segment longer than 255 bytes, a path longer than 1024
 * bytes, or a path through a file answers `validation` naming the field — never `internal`
 * from the file system (ENAMETOOLONG, ENOTDIR, EISDIR) — and stores nothing.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR, expectRefused, handFlake, startHarness, type Harness } from './harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  handFlake(h.svc.workspace, 'app');
});

afterAll(async () => {
  await h?.stop();
});

const long = 'a'.repeat(300);
const wide = '€'.repeat(90); // 90 characters, 270 bytes
const deep = Array.from({ length: 5 }, () => 'b'.repeat(250)).join('/'); // every segment fits, the whole does not

describe('path lengths and file-system errors (issue 12, class 12)', () => {
  it.each([
    ['flake.create', { path: `flakes/${long}`, description: 'x', template: 'minimal' }, /path/],
    ['flake.create', { path: long, description: 'x', template: 'minimal' }, /path/],
    ['flake.create', { path: deep, description: 'x', template: 'minimal' }, /path/],
    ['flake.update', { path: `flakes/${long}` }, /path/],
    ['flake.check', { path: `${long}/x` }, /path/],
    ['package.build', { flake_ref: 'path:app', attribute: ATTR, output_path: `out/${long}` }, /output_path/],
    ['package.build', { flake_ref: 'path:app', attribute: ATTR, output_path: `out/${wide}` }, /output_path/],
    ['package.build', { flake_ref: 'path:app', attribute: ATTR, output_path: deep }, /output_path/],
    ['package.build', { flake_ref: `path:${long}`, attribute: ATTR }, /flake_ref/],
    ['package.build', { flake_ref: `git+file://${'/x'.repeat(3)}/${long}`, attribute: ATTR }, /flake_ref/],
    ['package.cache', { flake_ref: 'path:app', attribute: ATTR, cache_url: `file:///tmp/${long}` }, /cache_url/],
    ['flake.add_input', { path: 'app', name: 'dep', url: `path:../${long}` }, /url/],
  ])('%s answers validation for %j', async (command, body, field) => {
    const message = await expectRefused(h, command, body, 'validation', field);
    expect(message).toMatch(/255 bytes|1024 bytes/);
  });

  it('answers validation for a flake path that goes through a file', async () => {
    const message = await expectRefused(
      h,
      'flake.create',
      { path: 'app/flake.nix/sub', description: 'x', template: 'minimal' },
      'validation',
      /path/,
    );
    expect(message).toMatch(/not a directory/);
  });

  it('answers validation for an out-link that goes through a file', async () => {
    const message = await expectRefused(
      h,
      'package.build',
      { flake_ref: 'path:app', attribute: ATTR, output_path: 'app/flake.nix/result' },
      'validation',
      /output_path/,
    );
    expect(message).toMatch(/not a directory/);
  });

  it('answers validation for a flake whose flake.nix is a directory', async () => {
    mkdirSync(join(h.svc.workspace, 'odd/flake.nix'), { recursive: true });
    const message = await expectRefused(h, 'flake.create', { path: 'odd', description: 'x', template: 'minimal' }, 'validation', /path/);
    expect(message).toMatch(/directory/);
    expect(existsSync(join(h.svc.workspace, 'odd/.git'))).toBe(false);
  });
});
