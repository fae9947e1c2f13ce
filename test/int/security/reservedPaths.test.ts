/**
 * Issue 12, class 6: out-links, flake paths, local flake refs and input URLs may not point
 * into the service's own files: any `.git` segment, `.nats`, `.deadletter`, `.cim`, the
 * binary cache, the root flake.nix/flake.lock and the directories it renders into
 * (modules/, overlays/, hosts/). Names are compared without regard to letter case, so a
 * workspace on a case-insensitive file system is protected too.
 */
import { existsSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ATTR, expectRefused, handFlake, startHarness, type Harness } from './harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  handFlake(h.svc.workspace, 'app');
  // The workspace's own repository exists once a module is rendered.
  expect(await h.cmd('module.create', { name: 'web', module: { options: {}, config: {}, imports: [] } })).toMatchObject({ status: 'ok' });
  await vi.waitFor(() => expect(existsSync(join(h.svc.workspace, '.git/index'))).toBe(true), { timeout: 20_000 });
});

afterAll(async () => {
  await h?.stop();
});

const RESERVED = [
  '.git/index.lock',
  '.git/hooks/pre-commit',
  '.GIT/index.lock',
  '.Git/config',
  'app/.git/index.lock',
  'app/sub/.git/x',
  '.gitmodules',
  'app/.gitattributes',
  '.nats/jetstream',
  '.NATS/x',
  '.deadletter/events.jsonl',
  '.cim/state',
  '.binary-cache/nix-cache-info',
  'flake.nix',
  'flake.lock',
  'FLAKE.NIX',
  'modules/evil.nix',
  'modules/web.nix',
  'Modules/x',
  'overlays/x.nix',
  'hosts/h/configuration.nix',
  'HOSTS/h',
];

describe('reserved paths (issue 12, class 6)', () => {
  it.each(RESERVED)('refuses an out-link at %s', async (path) => {
    const existed = existsSync(join(h.svc.workspace, path));
    await expectRefused(h, 'package.build', { flake_ref: 'path:app', attribute: ATTR, output_path: path }, 'forbidden', /output_path/);
    const after = existsSync(join(h.svc.workspace, path)) ? lstatSync(join(h.svc.workspace, path)) : undefined;
    if (!existed) expect(after, `${path} must not be created`).toBeUndefined();
    else expect(after?.isSymbolicLink()).toBe(false);
  });

  it.each([
    '.git/f',
    '.GIT/f',
    'app/.git/f',
    'app/sub/.Git/f',
    '.nats',
    '.nats/f',
    '.deadletter',
    '.cim',
    '.Cim/f',
    '.binary-cache/f',
    'modules',
    'modules/f',
    'Modules/f',
    'overlays/f',
    'hosts/h',
    'HOSTS/f',
  ])('refuses a flake at %s', async (path) => {
    await expectRefused(h, 'flake.create', { path, description: 'x', template: 'minimal' }, 'forbidden', /path/);
    expect(existsSync(join(h.svc.workspace, path, 'flake.nix'))).toBe(false);
  });

  it.each(['.git', 'app/.git', '.nats', '.cim', 'modules', 'hosts/h', 'overlays', '.deadletter', '.binary-cache', '.GIT'])(
    'refuses a build of the local flake ref path:%s',
    async (path) => {
      await expectRefused(h, 'package.build', { flake_ref: `path:${path}`, attribute: ATTR }, 'forbidden', /flake_ref/);
      await expectRefused(
        h,
        'package.build',
        { flake_ref: `git+file://${join(h.svc.workspace, path)}`, attribute: ATTR },
        'forbidden',
        /flake_ref/,
      );
    },
  );

  it.each(['path:../.git', 'path:../modules', `path:WS/.nats`, 'git+file://WS/.git', 'path:../.cim/x', 'git+file://WS/app?dir=.git'])(
    'refuses the input URL %s',
    async (url) => {
      const resolved = url.replace('WS', h.svc.workspace);
      await expectRefused(h, 'flake.add_input', { path: 'app', name: 'dep', url: resolved }, 'forbidden', /url/);
      await expectRefused(
        h,
        'flake.create',
        { path: 'other', description: 'x', template: 'minimal', inputs: { dep: resolved } },
        'forbidden',
        /inputs\.dep/,
      );
    },
  );

  it('keeps the workspace repository usable: a module written afterwards is staged', async () => {
    expect(existsSync(join(h.svc.workspace, '.git/index.lock'))).toBe(false);
    expect(await h.cmd('module.create', { name: 'later', module: { options: {}, config: {}, imports: [] } })).toMatchObject({
      status: 'ok',
    });
    await expect.poll(() => existsSync(join(h.svc.workspace, 'modules/later.nix')), { timeout: 20_000 }).toBe(true);
  });
});
