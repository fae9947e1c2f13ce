import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localFlakeRef, urlUnsafeDirectory } from '../../../src/nix/confine.js';
import { checkCacheUrl, checkFlakePath, checkFlakeRef, checkOutLink, type GuardPolicy } from '../../../src/nix/guards.js';
import { commandLine, legacyCommandLine } from '../../../src/nix/nixCli.js';
import { reservedReason } from '../../../src/nix/reserved.js';

describe('guards of the places a command names', () => {
  let root: string;
  let ws: string;
  let policy: GuardPolicy;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'cim-nix-guards-'));
    ws = join(root, 'ws');
    mkdirSync(join(ws, 'app/.git'), { recursive: true });
    writeFileSync(join(ws, 'app/flake.nix'), '{ }');
    mkdirSync(join(ws, 'plain'));
    mkdirSync(join(ws, '.git'));
    symlinkSync(join(ws, '.git'), join(ws, 'gitlink'));
    mkdirSync(join(root, 'we?ird/.git'), { recursive: true });
    policy = { workspace: ws, defaultCacheUrl: `file://${ws}/.binary-cache`, allowRemoteBuilds: false };
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('reserves the service files, in any letter case, and .git at any depth', () => {
    for (const reserved of [
      '.git',
      '.git/index.lock',
      '.GIT/x',
      'a/b/.git/config',
      'a/.gitmodules',
      '.nats',
      '.NATS/js',
      '.deadletter/x',
      '.cim',
      '.binary-cache/x',
      'modules',
      'Modules/a.nix',
      'overlays/x',
      'hosts/h',
      'flake.nix',
      'FLAKE.LOCK',
    ]) {
      expect(reservedReason(ws, join(ws, reserved)), reserved).not.toBeNull();
    }
    for (const free of ['app', 'a/modules', 'a/flake.nix', 'a/hosts/x', '.github/x', 'git', '.cache/binary', 'my.git']) {
      expect(reservedReason(ws, join(ws, free)), free).toBeNull();
    }
    expect(reservedReason(ws, join(ws, 'caches/main/x'), [join(ws, 'caches/main')])).not.toBeNull();
  });

  it('checks flake paths: inside, not the root, not reserved, not through a file or a link into .git', () => {
    expect(checkFlakePath(policy, 'path', 'flakes/a')).toEqual({ ok: true });
    expect(checkFlakePath(policy, 'path', '.')).toMatchObject({
      ok: false,
      code: 'forbidden',
      reason: expect.stringContaining('workspace root'),
    });
    expect(checkFlakePath(policy, 'path', 'modules/x')).toMatchObject({
      ok: false,
      code: 'forbidden',
      reason: expect.stringMatching(/^path 'modules\/x'.*modules/),
    });
    expect(checkFlakePath(policy, 'path', 'gitlink/x')).toMatchObject({
      ok: false,
      code: 'forbidden',
      reason: expect.stringContaining('.git'),
    });
    expect(checkFlakePath(policy, 'path', 'app/flake.nix/x')).toMatchObject({
      ok: false,
      code: 'validation',
      reason: expect.stringContaining('not a directory'),
    });
    expect(checkFlakePath(policy, 'path', 'app/flake.nix')).toMatchObject({
      ok: false,
      code: 'validation',
      reason: expect.stringContaining('is a file'),
    });
    expect(checkFlakePath(policy, 'path', '../x')).toMatchObject({ ok: false, code: 'forbidden' });
  });

  it('checks out-links: reserved names and paths through files', () => {
    expect(checkOutLink(policy, 'output_path', 'out/result')).toEqual({ ok: true });
    expect(checkOutLink(policy, 'output_path', '.git/index.lock')).toMatchObject({
      ok: false,
      code: 'forbidden',
      reason: expect.stringContaining('output_path'),
    });
    expect(checkOutLink(policy, 'output_path', 'flake.lock')).toMatchObject({ ok: false, code: 'forbidden' });
    expect(checkOutLink(policy, 'output_path', 'app/flake.nix/result')).toMatchObject({ ok: false, code: 'validation' });
  });

  it('checks flake refs: local schemes confined, dir inside the flake, % refused, remote builds only when allowed', () => {
    const verdict = (ref: string, build = true, p = policy) => checkFlakeRef(p, 'flake_ref', ref, { build }).verdict;
    for (const local of ['path:app', 'app', `git+file://${ws}/app`, `${ws}/app`, 'path:.', `git+file://${ws}/app?dir=sub`]) {
      expect(verdict(local), local).toEqual({ ok: true });
    }
    for (const outside of [
      'path:/etc',
      'git+file:///etc',
      'file:///etc',
      'hg+file:///etc',
      'tarball+file:///x.tgz',
      'GIT+FILE:///etc',
      'git+file://localhost/etc',
      `git+file://${ws}/app?dir=../..`,
      `git+file://${ws}/app?dir=/etc`,
      `git+file://${ws}/app?dir=.git`,
      'path:.git',
      'path:modules',
    ]) {
      expect(verdict(outside), outside).toMatchObject({ ok: false, code: 'forbidden', reason: expect.stringContaining('flake_ref') });
    }
    expect(verdict('path:a%2e%2e')).toMatchObject({ ok: false, code: 'validation' });
    for (const remote of ['github:o/r', 'nixpkgs', 'flake:nixpkgs', 'https://e.org/x.tar.gz', 'git+https://e.org/r']) {
      expect(verdict(remote), remote).toMatchObject({
        ok: false,
        code: 'forbidden',
        reason: expect.stringContaining('NIX_ALLOW_REMOTE_BUILDS'),
      });
      expect(verdict(remote, false), `${remote} as an input`).toEqual({ ok: true });
      expect(verdict(remote, true, { ...policy, allowRemoteBuilds: true }), `${remote} allowed`).toEqual({ ok: true });
    }
    expect(checkFlakeRef(policy, 'url', 'path:../plain', { build: false, base: join(ws, 'app') }).verdict).toEqual({ ok: true });
    expect(checkFlakeRef(policy, 'url', 'path:../.git', { build: false, base: join(ws, 'app') }).verdict).toMatchObject({
      ok: false,
      code: 'forbidden',
    });
  });

  it('allows only file:// caches inside the workspace, without parameters that name other files', () => {
    const ok = [`file://${ws}/caches/a`, `file://${ws}/caches/b?compression=zstd`, `file://${ws}/.binary-cache`];
    for (const url of ok) expect(checkCacheUrl(policy, 'cache_url', url), url).toEqual({ ok: true });
    const refused = [
      `local?root=${root}/x`,
      `${root}/bare`,
      'daemon',
      'auto',
      'ssh://h',
      's3://b',
      'https://c.example.org',
      'file://relative',
      `file://${root}/outside`,
      `file://${ws}/../x`,
      `file://${ws}/c?secret-key=/etc/shadow`,
      `file://${ws}/c?local-nar-cache=/tmp/x`,
      `file://${ws}/.git/c`,
      `file://${ws}/modules`,
      `file://${ws}`,
      `FILE://${ws}/c`,
    ];
    for (const url of refused)
      expect(checkCacheUrl(policy, 'cache_url', url), url).toMatchObject({
        ok: false,
        code: 'forbidden',
        reason: expect.stringContaining('cache_url'),
      });
    expect(checkCacheUrl(policy, 'cache_url', `file://${ws}/a%20b`)).toMatchObject({ ok: false, code: 'validation' });
  });

  it('hands nix a repository root only when its path cannot read as a URL', () => {
    expect(urlUnsafeDirectory('/srv/ws/app-1.2+x')).toBeNull();
    for (const bad of ['/a?dir=.', '/a#b', '/a b', '/a%41', '/a\nb']) expect(urlUnsafeDirectory(bad), bad).not.toBeNull();
    expect(localFlakeRef(join(root, 'we?ird'))).toMatchObject({ ok: false, reason: expect.stringContaining('URL syntax') });
  });

  it('puts -- before the positionals, and refuses option-like positionals where a program takes no --', () => {
    expect(commandLine(['build', '--json'], ['-f/x#y'])).toEqual(['build', '--json', '--', '-f/x#y']);
    expect(legacyCommandLine(['--parse'], ['/abs/a.nix'])).toEqual(['--parse', '/abs/a.nix']);
    expect(() => legacyCommandLine(['--parse'], ['-E'])).toThrow(/option/);
  });
});
