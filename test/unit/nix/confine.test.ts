import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localFlakeRef, resolveAllInWorkspace, resolveFlakeRef, resolveInWorkspace } from '../../../src/nix/confine.js';

describe('workspace confinement', () => {
  let root: string;
  let ws: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'cim-nix-confine-'));
    ws = join(root, 'ws');
    mkdirSync(join(ws, 'git/.git'), { recursive: true });
    writeFileSync(join(ws, 'git/flake.nix'), '{ }');
    mkdirSync(join(ws, 'plain'));
    writeFileSync(join(ws, 'plain/flake.nix'), '{ }');
    mkdirSync(join(root, 'outside'));
    symlinkSync(join(root, 'outside'), join(ws, 'out'));
    symlinkSync('plain', join(ws, 'in'));
    mkdirSync(join(ws, 'modules'));
    writeFileSync(join(ws, 'modules/ok.nix'), '{ }');
    symlinkSync(join(root, 'outside'), join(ws, 'modules/leak.nix'));
    symlinkSync('/nonexistent-target', join(ws, 'modules/dangling.nix'));
    symlinkSync('ok.nix', join(ws, 'modules/alias.nix'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('resolves relative and inside-absolute paths', () => {
    expect(resolveInWorkspace(ws, 'a/b/c')).toEqual({ ok: true, path: join(ws, 'a/b/c') });
    expect(resolveInWorkspace(ws, './a')).toEqual({ ok: true, path: join(ws, 'a') });
    expect(resolveInWorkspace(ws, join(ws, 'x'))).toEqual({ ok: true, path: join(ws, 'x') });
    expect(resolveInWorkspace(ws, 'in/new')).toEqual({ ok: true, path: join(ws, 'in/new') });
  });

  it('refuses .. segments, outside absolute paths, escaping symlinks and NUL bytes', () => {
    for (const bad of ['..', '../ws2', 'a/../b', '/etc', join(root, 'outside'), 'out', 'out/deeper/still', 'a\0b']) {
      expect(resolveInWorkspace(ws, bad).ok, bad).toBe(false);
    }
  });

  it('answers a batch of paths like one path at a time', async () => {
    const paths = ['modules/ok.nix', 'modules/new.nix', 'modules/leak.nix', 'modules/dangling.nix', 'modules/alias.nix', 'fresh/dir/x.nix', 'out/x.nix', 'in/x.nix', '../x', 'a\0b', join(ws, 'modules/ok.nix')];
    const batch = await resolveAllInWorkspace(ws, paths);
    expect(batch).toEqual(paths.map((p) => resolveInWorkspace(ws, p)));
    expect(batch.map((c) => c.ok)).toEqual([true, true, false, false, true, true, false, true, false, false, true]);
    expect(await resolveAllInWorkspace(join(root, 'not-yet'), ['a'])).toEqual([{ ok: true, path: join(root, 'not-yet/a') }]);
  });

  it('works before the workspace exists', () => {
    expect(resolveInWorkspace(join(root, 'not-yet'), 'a')).toEqual({ ok: true, path: join(root, 'not-yet/a') });
  });

  it('hands nix a local directory as . (a repository root) or path:., run in it, never its name', () => {
    expect(localFlakeRef(join(ws, 'git'))).toEqual({ ok: true, ref: '.', cwd: join(ws, 'git') });
    expect(localFlakeRef(join(ws, 'plain'))).toEqual({ ok: true, ref: 'path:.', cwd: join(ws, 'plain') });
  });

  it('resolves flake references: local ones into the workspace, remote ones unchanged', () => {
    expect(resolveFlakeRef(ws, 'path:plain')).toEqual({
      ok: true,
      ref: `path:${join(ws, 'plain')}`,
      directory: join(ws, 'plain'),
    });
    expect(resolveFlakeRef(ws, 'path:plain?dir=x')).toMatchObject({ ok: true, ref: `path:${join(ws, 'plain')}?dir=x` });
    expect(resolveFlakeRef(ws, 'git')).toEqual({ ok: true, ref: join(ws, 'git'), directory: join(ws, 'git') });
    expect(resolveFlakeRef(ws, './plain')).toMatchObject({ ok: true, ref: `path:${join(ws, 'plain')}` });
    expect(resolveFlakeRef(ws, `git+file://${join(ws, 'git')}`)).toMatchObject({
      ok: true,
      ref: `git+file://${join(ws, 'git')}`,
    });
    expect(resolveFlakeRef(ws, 'github:NixOS/nixpkgs')).toEqual({ ok: true, ref: 'github:NixOS/nixpkgs' });
    // A bare word that is not a flake directory of the workspace is a registry name.
    expect(resolveFlakeRef(ws, 'nixpkgs')).toEqual({ ok: true, ref: 'nixpkgs' });
    for (const bad of ['path:../x', `path:${root}/outside`, 'path:out', '/etc', '../x', 'git+file:///etc', 'file:relative']) {
      expect(resolveFlakeRef(ws, bad).ok, bad).toBe(false);
    }
  });

  it('resolves an input relative to its flake, allowing .. that stays in the workspace', () => {
    expect(resolveFlakeRef(ws, 'path:../plain', join(ws, 'git'))).toMatchObject({
      ok: true,
      directory: join(ws, 'plain'),
    });
    expect(resolveFlakeRef(ws, 'path:../../x', join(ws, 'git')).ok).toBe(false);
  });
});
