import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitFiles, nixParse, progressContext, succeed, tempWorkspace, type TempWorkspace } from '../../support/nix/workspace.js';

interface LockFile {
  nodes: Record<string, { inputs?: Record<string, string>; locked?: Record<string, unknown>; original?: Record<string, unknown> }>;
  root: string;
}

function readLock(dir: string): LockFile {
  return JSON.parse(readFileSync(join(dir, 'flake.lock'), 'utf8')) as LockFile;
}

describe('nix port: flake lifecycle (real nix, offline)', () => {
  let ws: TempWorkspace;
  beforeAll(() => {
    ws = tempWorkspace();
  });
  afterAll(() => ws.cleanup());

  it('creates a minimal flake, adds a path input, locks, builds, caches, updates and removes the input', async () => {
    const { port, dir } = ws;
    const created = await succeed(port, {
      kind: 'flake.write',
      path: 'lib',
      description: 'A library',
      template: 'minimal',
      inputs: {},
    });
    expect(created).toEqual({ files: ['lib/flake.nix', 'lib/.gitignore'] });
    await succeed(port, {
      kind: 'flake.write',
      path: 'apps/hello',
      description: 'Hello "app"',
      template: 'minimal',
      inputs: {},
    });
    const appDir = join(dir, 'apps/hello');
    const original = readFileSync(join(appDir, 'flake.nix'), 'utf8');
    expect(original).toContain('description = "Hello \\"app\\"";');
    expect(original).not.toMatch(/inputs/);
    expect(nixParse(join(appDir, 'flake.nix')).status).toBe(0);
    expect(existsSync(join(appDir, '.git'))).toBe(true);
    expect(gitFiles(appDir).sort()).toEqual(['.gitignore', 'flake.nix']);

    // A relative path: input that leaves the flake's directory is written as an absolute path inside the workspace.
    const added = await succeed(port, {
      kind: 'flake.add_input',
      path: 'apps/hello',
      name: 'mylib',
      url: 'path:../../lib',
    });
    const withInput = readFileSync(join(appDir, 'flake.nix'), 'utf8');
    expect(withInput).toContain(`mylib.url = "path:${join(dir, 'lib')}";`);
    expect(withInput).toContain('outputs = { self, mylib }:');
    const lock = readLock(appDir);
    expect(lock.nodes[lock.root]?.inputs).toEqual({ mylib: 'mylib' });
    const node = lock.nodes.mylib;
    expect(node?.locked?.type).toBe('path');
    expect(added.locked).toMatchObject({
      url: `path:${join(dir, 'lib')}`,
      nar_hash: node?.locked?.narHash,
      last_modified: node?.locked?.lastModified,
    });
    expect(String((added.locked as { nar_hash: string }).nar_hash)).toMatch(/^sha256-/);
    expect(gitFiles(appDir)).toContain('flake.lock');

    const ctx = progressContext();
    const built = await succeed(port, { kind: 'package.build', flake_ref: 'apps/hello', attribute: 'packages.x86_64-linux.default' }, ctx);
    const storePaths = built.store_paths as Record<string, string>;
    expect(Object.keys(storePaths)).toEqual(['out']);
    expect(storePaths.out).toMatch(/^\/nix\/store\/[0-9a-z]{32}-hello$/);
    expect(readFileSync(storePaths.out as string, 'utf8')).toBe('Hello from hello\n');
    expect(built.drv_path).toMatch(/^\/nix\/store\/[0-9a-z]{32}-hello\.drv$/);
    expect(existsSync(built.drv_path as string)).toBe(true);
    expect(typeof built.duration_ms).toBe('number');
    // Builds never rewrite the lock file: it is the flake aggregate's.
    expect(readLock(appDir)).toEqual(lock);

    const cached = await succeed(port, {
      kind: 'package.cache',
      flake_ref: 'apps/hello',
      attribute: 'packages.x86_64-linux.default',
      store_paths: [storePaths.out as string],
    });
    const cacheDir = join(dir, '.binary-cache');
    expect(cached).toEqual({ cache_url: `file://${cacheDir}`, paths: [storePaths.out] });
    const hash = (storePaths.out as string).slice('/nix/store/'.length, '/nix/store/'.length + 32);
    expect(readdirSync(cacheDir)).toEqual(expect.arrayContaining(['nix-cache-info', `${hash}.narinfo`]));
    expect(readFileSync(join(cacheDir, `${hash}.narinfo`), 'utf8')).toContain(`StorePath: ${storePaths.out}`);

    // The library changes; update relocks it to the new narHash.
    const before = readLock(appDir).nodes.mylib?.locked?.narHash;
    const libFlake = join(dir, 'lib/flake.nix');
    writeFileSync(libFlake, readFileSync(libFlake, 'utf8').replace('A library', 'A changed library'));
    const updated = await succeed(port, { kind: 'flake.update', path: 'apps/hello' });
    const after = readLock(appDir).nodes.mylib?.locked?.narHash;
    expect(after).not.toBe(before);
    expect(updated).toEqual({ locked: { mylib: expect.objectContaining({ nar_hash: after }) } });
    const updatedNamed = await succeed(port, { kind: 'flake.update', path: 'apps/hello', inputs: ['mylib'] });
    expect(Object.keys(updatedNamed.locked as object)).toEqual(['mylib']);

    expect(await succeed(port, { kind: 'flake.check', path: 'apps/hello' })).toEqual({
      duration_ms: expect.any(Number),
    });

    expect(await succeed(port, { kind: 'flake.remove_input', path: 'apps/hello', name: 'mylib' })).toEqual({});
    // Adding then removing an input gives back the file byte for byte.
    expect(readFileSync(join(appDir, 'flake.nix'), 'utf8')).toBe(original);
    expect(readLock(appDir).nodes[readLock(appDir).root]).toEqual({});
  });

  it('writes the extra files of a template and keeps the ones that exist', async () => {
    const { port, dir } = ws;
    const result = await succeed(port, {
      kind: 'flake.write',
      path: 'machine',
      description: 'A machine',
      template: 'nixos',
      inputs: { hw: 'github:NixOS/nixos-hardware' },
    });
    expect(result).toEqual({ files: ['machine/flake.nix', 'machine/.gitignore', 'machine/configuration.nix'] });
    const flake = readFileSync(join(dir, 'machine/flake.nix'), 'utf8');
    expect(flake).toContain('hw.url = "github:NixOS/nixos-hardware";');
    expect(flake).toContain('outputs = { self, nixpkgs, hw }@inputs: {');
    expect(nixParse(join(dir, 'machine/configuration.nix')).status).toBe(0);
    expect(gitFiles(join(dir, 'machine')).sort()).toEqual(['.gitignore', 'configuration.nix', 'flake.nix']);

    const own = join(dir, 'machine2');
    mkdirSync(own);
    writeFileSync(join(own, 'configuration.nix'), '{ ... }: { networking.hostName = "mine"; }\n');
    await succeed(port, { kind: 'flake.write', path: 'machine2', description: 'Mine', template: 'nixos', inputs: {} });
    expect(readFileSync(join(own, 'configuration.nix'), 'utf8')).toBe('{ ... }: { networking.hostName = "mine"; }\n');
    expect(readFileSync(join(own, '.gitignore'), 'utf8')).toContain('result');
  });

  it('is idempotent for the same flake and refuses to overwrite another one', async () => {
    const { port } = ws;
    const request = {
      kind: 'flake.write',
      path: 'twice',
      description: 'Same',
      template: 'minimal',
      inputs: {},
    } as const;
    await succeed(port, request);
    await succeed(port, request);
    const outcome = await port.perform({ ...request, description: 'Different' }, progressContext());
    expect(outcome).toMatchObject({
      type: 'effect.failed',
      code: 'nix_failed',
      message: expect.stringContaining('already exists'),
    });
  });

  it('refuses to update an input the flake does not declare, naming the inputs it has', async () => {
    const { port } = ws;
    await succeed(port, { kind: 'flake.write', path: 'noinputs', description: '', template: 'minimal', inputs: {} });
    const outcome = await port.perform({ kind: 'flake.update', path: 'noinputs', inputs: ['ghost'] }, progressContext());
    expect(outcome).toMatchObject({
      type: 'effect.failed',
      code: 'nix_failed',
      message: expect.stringContaining("no input 'ghost'"),
    });
  });

  it('fails a check of a flake whose outputs do not evaluate, with the log tail', async () => {
    const { port, dir } = ws;
    await succeed(port, { kind: 'flake.write', path: 'broken', description: '', template: 'minimal', inputs: {} });
    const file = join(dir, 'broken/flake.nix');
    writeFileSync(file, readFileSync(file, 'utf8').replace('inherit system;', 'inherit system; oops = throw "deliberately broken";'));
    const outcome = await port.perform({ kind: 'flake.check', path: 'broken' }, progressContext());
    expect(outcome).toMatchObject({ type: 'effect.failed', code: 'nix_failed', exit_code: 1 });
    expect(outcome.type === 'effect.failed' && outcome.log_tail?.join('\n')).toContain('deliberately broken');
  });
});
