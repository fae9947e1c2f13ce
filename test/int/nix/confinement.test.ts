import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EffectRequest } from '../../../machines/_shared/protocol.js';
import { resolveInWorkspace } from '../../../src/nix/index.js';
import { fail, nonce, shellFlake, succeed, tempWorkspace, write, type TempWorkspace } from '../../support/nix/workspace.js';

describe('nix port: paths stay inside the workspace', () => {
  let ws: TempWorkspace;
  let outside: string;
  beforeAll(() => {
    ws = tempWorkspace();
    outside = mkdtempSync(join(tmpdir(), 'cim-nix-outside-'));
    write(join(outside, 'flake.nix'), shellFlake('echo outside > $out', nonce(), 'outside'));
    symlinkSync(outside, join(ws.dir, 'escape'));
    mkdirSync(join(ws.dir, 'inner'));
    symlinkSync(join(ws.dir, 'inner'), join(ws.dir, 'alias'));
    symlinkSync('/nonexistent-target', join(ws.dir, 'dangling'));
  });
  afterAll(() => {
    ws.cleanup();
    rmSync(outside, { recursive: true, force: true });
  });

  const refusals: [string, () => EffectRequest][] = [
    ['a .. path', () => ({ kind: 'flake.write', path: '../evil', description: '', template: 'minimal', inputs: {} })],
    ['a .. in the middle', () => ({ kind: 'flake.write', path: 'a/../../evil', description: '', template: 'minimal', inputs: {} })],
    [
      'an absolute path outside',
      () => ({ kind: 'flake.write', path: join(outside, 'x'), description: '', template: 'minimal', inputs: {} }),
    ],
    ['a symlink that leads out', () => ({ kind: 'flake.write', path: 'escape/sub', description: '', template: 'minimal', inputs: {} })],
    ['a dangling symlink', () => ({ kind: 'flake.write', path: 'dangling/sub', description: '', template: 'minimal', inputs: {} })],
    ['the workspace root', () => ({ kind: 'flake.write', path: '.', description: '', template: 'minimal', inputs: {} })],
    ['an input update through a symlink', () => ({ kind: 'flake.update', path: 'escape' })],
    [
      'a build of path: outside',
      () => ({ kind: 'package.build', flake_ref: `path:${outside}`, attribute: 'packages.x86_64-linux.default' }),
    ],
    [
      'a build of a bare absolute path outside',
      () => ({ kind: 'package.build', flake_ref: outside, attribute: 'packages.x86_64-linux.default' }),
    ],
    ['a build of a relative .. path', () => ({ kind: 'package.build', flake_ref: '../x', attribute: 'default' })],
    ['a build of git+file outside', () => ({ kind: 'package.build', flake_ref: `git+file://${outside}`, attribute: 'default' })],
    ['a build through a symlink', () => ({ kind: 'package.build', flake_ref: 'path:escape', attribute: 'packages.x86_64-linux.default' })],
    [
      'an out-link outside',
      () => ({
        kind: 'package.build',
        flake_ref: 'path:inner',
        attribute: 'default',
        output_path: join(outside, 'result'),
      }),
    ],
    ['an input URL outside', () => ({ kind: 'flake.add_input', path: 'inner', name: 'x', url: `path:${outside}` })],
  ];

  it.each(refusals)('refuses %s with forbidden', async (_name, request) => {
    const failure = await fail(ws.port, request());
    expect(failure.code).toBe('forbidden');
    expect(failure.message.length).toBeGreaterThan(10);
    expect(readdirSync(outside).sort()).toEqual(['flake.nix']);
  });

  it('allows symlinks that stay inside and absolute paths inside', async () => {
    await succeed(ws.port, { kind: 'flake.write', path: 'alias/ok', description: '', template: 'minimal', inputs: {} });
    expect(existsSync(join(ws.dir, 'inner/ok/flake.nix'))).toBe(true);
    await succeed(ws.port, {
      kind: 'flake.write',
      path: join(ws.dir, 'abs'),
      description: '',
      template: 'minimal',
      inputs: {},
    });
    expect(existsSync(join(ws.dir, 'abs/flake.nix'))).toBe(true);
  });

  it('resolveInWorkspace gives the router the same answers', () => {
    expect(resolveInWorkspace(ws.dir, 'a/b')).toEqual({ ok: true, path: join(ws.dir, 'a/b') });
    expect(resolveInWorkspace(ws.dir, '.')).toEqual({ ok: true, path: ws.dir });
    expect(resolveInWorkspace(ws.dir, '../x')).toMatchObject({ ok: false, reason: expect.stringContaining("'..'") });
    expect(resolveInWorkspace(ws.dir, '/etc/passwd')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('outside'),
    });
    expect(resolveInWorkspace(ws.dir, 'escape/flake.nix')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('symlink'),
    });
    expect(resolveInWorkspace(ws.dir, 'alias/x')).toEqual({ ok: true, path: join(ws.dir, 'alias/x') });
  });
});
