/**
 * Issue 12, class 4: no user string is ever read as an option by a program the service runs.
 * Every field that reaches nix, git or nixos-rebuild is refused with `validation` when it
 * starts with `-`, before any event; and a hostile `-f`/`-E` never builds a file outside.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR, expectRefused, handFlake, startHarness, type Harness } from './harness.js';

let h: Harness;
let outside: string;

/** A Nix file outside the workspace whose derivation, if ever built, leaves `marker` beside it. */
function evilFile(name: string, marker: string): string {
  const file = join(outside, name);
  writeFileSync(
    file,
    `builtins.derivation { name = "evil"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "touch ${join(outside, marker)}; echo > $out" ]; nonce = "${Math.random()}"; }\n`,
  );
  return file;
}

beforeAll(async () => {
  h = await startHarness();
  outside = mkdtempSync(join(tmpdir(), 'cim-sec-outside-'));
  handFlake(h.svc.workspace, 'app');
});

afterAll(async () => {
  await h?.stop();
  rmSync(outside, { recursive: true, force: true });
});

describe('options injection (issue 12, class 4)', () => {
  it.each([
    ['-f', 'marker-f'],
    ['--file ', 'marker-file'],
    ['-E', 'marker-E'],
    ['-I', 'marker-I'],
  ])('package.build never reads a flake_ref starting with %s as an option', async (flag, marker) => {
    // nix would read `-f<file>#<attr>` as `-f <file>#<attr>`: give it that file.
    const file = evilFile(`evil-${marker}.nix#x`, marker);
    const ref = flag === '-E' ? `-E(import ${file.slice(0, -2)})` : `${flag}${file.slice(0, -2)}`;
    await expectRefused(h, 'package.build', { flake_ref: ref, attribute: 'x' }, 'validation', /flake_ref/);
    expect(existsSync(join(outside, marker))).toBe(false);
  });

  it.each([
    ['package.build', { flake_ref: '--help', attribute: ATTR }, /flake_ref/],
    ['package.build', { flake_ref: '--impure', attribute: ATTR }, /flake_ref/],
    ['package.build', { flake_ref: '-L', attribute: ATTR }, /flake_ref/],
    ['package.build', { flake_ref: '--option', attribute: ATTR }, /flake_ref/],
    ['package.build', { flake_ref: '-', attribute: ATTR }, /flake_ref/],
    ['package.build', { flake_ref: 'path:app', attribute: ATTR, output_path: '-o' }, /output_path/],
    ['package.build', { flake_ref: 'path:app', attribute: ATTR, output_path: '--out-link' }, /output_path/],
    ['package.build', { flake_ref: 'path:app', attribute: '-f' }, /attribute/],
    ['package.cache', { flake_ref: '-f/etc/x', attribute: ATTR }, /flake_ref/],
    ['package.cache', { flake_ref: 'path:app', attribute: ATTR, cache_url: '-x' }, /cache_url/],
    ['package.cache', { flake_ref: 'path:app', attribute: ATTR, cache_url: '--to' }, /cache_url/],
    ['flake.create', { path: '-rf', description: 'x', template: 'minimal' }, /path/],
    ['flake.create', { path: '--help', description: 'x', template: 'minimal' }, /path/],
    ['flake.create', { path: 'ok', description: 'x', template: 'minimal', inputs: { dep: '-f/etc/x' } }, /inputs\.dep/],
    ['flake.update', { path: '-c' }, /path/],
    ['flake.check', { path: '--all' }, /path/],
    ['flake.add_input', { path: 'app', name: 'dep', url: '--override-input' }, /url/],
    ['flake.add_input', { path: 'app', name: 'dep', url: '-I/etc' }, /url/],
    ['flake.add_input', { path: 'app', name: 'dep', url: 'path:../dep', follows: { nixpkgs: '-x' } }, /follows/],
    ['flake.remove_input', { path: '-x', name: 'dep' }, /path/],
    ['module.create', { name: '-x', module: { options: {}, config: {}, imports: [] } }, /name/],
    ['overlay.create', { name: '--help', overlay: { overrides: {}, additions: {} } }, /name/],
    ['config.activate', { name: '-rf', activation_type: 'switch' }, /name/],
  ])('%s refuses %j with validation naming the field', async (command, body, field) => {
    await expectRefused(h, command, body, 'validation', field);
  });

  it('left nothing outside the workspace', () => {
    expect(readdirSync(outside).filter((f) => f.startsWith('marker'))).toEqual([]);
  });
});
