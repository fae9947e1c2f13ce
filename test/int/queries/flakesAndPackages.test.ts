/**
 * Flake and package queries over a real NATS server, with real (offline) nix builds: get by
 * path, flake_ref#attribute and ID, inputs, lists across pages filtered by input URL,
 * template, state and flake reference; the build history with durations and failure counts.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flakeId, packageId } from '../../../src/domain/ids.js';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { startTestService, type TestService } from '../../support/service.js';
import { nonce, shellFlake, write } from '../../support/nix/workspace.js';
import { ATTR, allPages, cmd, ok, query, type Body } from './support.js';

let server: NatsServer;
let svc: TestService;

beforeAll(async () => {
  server = await startNatsServer();
  svc = await startTestService(server);
});

afterAll(async () => {
  await svc?.stop();
  await server?.dispose();
});

/** A flake written by hand (not an aggregate), committed to git so nix sees it. */
function fixtureFlake(dir: string, script: string): void {
  const path = join(svc.workspace, dir);
  write(join(path, 'flake.nix'), shellFlake(script, nonce()));
  spawnSync('git', ['init', '-q'], { cwd: path });
  spawnSync('git', ['add', 'flake.nix'], { cwd: path });
}

describe('flake queries', () => {
  beforeAll(async () => {
    await cmd(svc, 'flake.create', { path: 'flakes/dep', description: 'a dependency', template: 'minimal' });
    await cmd(svc, 'flake.create', { path: 'flakes/app', description: 'the app', template: 'minimal' });
    await cmd(svc, 'flake.add_input', { path: 'flakes/app', name: 'dep', url: 'path:../dep' });
    await cmd(svc, 'flake.update', { path: 'flakes/app' });
    await cmd(svc, 'flake.create', { path: 'flakes/tool', description: 'a tool', template: 'minimal' });
    await cmd(svc, 'flake.add_input', { path: 'flakes/tool', name: 'dep', url: 'path:../dep' });
    await cmd(svc, 'flake.create', { path: 'other/solo', description: 'alone', template: 'minimal' });
  });

  it('gets a flake by path (normalised) and by flake_id, with its inputs, lock and last update', async () => {
    const got = await ok(svc, 'flake.get', { path: './flakes/app/' });
    const flake = got['flake'] as Body;
    expect(flake).toMatchObject({
      flake_id: flakeId('flakes/app'),
      path: 'flakes/app',
      description: 'the app',
      template: 'minimal',
      version: 3,
    });
    expect(flake['inputs']).toMatchObject({ dep: { url: 'path:../dep', locked: { nar_hash: expect.stringMatching(/^sha256-/) } } });
    expect(flake['last_update']).toMatchObject({ ok: true, inputs: ['dep'], sequence: 3 });
    expect(flake['files']).toEqual(expect.arrayContaining(['flakes/app/flake.nix']));
    expect(await ok(svc, 'flake.get', { flake_id: flakeId('flakes/app') })).toEqual(got);
  });

  it('gives the inputs of a flake by name, and an empty list for a flake without any', async () => {
    const inputs = await ok(svc, 'flake.get_inputs', { path: 'flakes/tool' });
    expect(inputs).toMatchObject({
      flake_id: flakeId('flakes/tool'),
      path: 'flakes/tool',
      version: 2,
      inputs: [{ name: 'dep', url: 'path:../dep' }],
    });
    expect((await ok(svc, 'flake.get_inputs', { path: 'other/solo' }))['inputs']).toEqual([]);
  });

  it('lists flakes by path across pages, and filters by input URL, template and path prefix', async () => {
    const { items, pages } = await allPages(svc, 'flake.list', { limit: 2 });
    expect(items.map((f) => f['path'])).toEqual(['flakes/app', 'flakes/dep', 'flakes/tool', 'other/solo']);
    expect(pages).toEqual([2, 2]);
    expect((await allPages(svc, 'flake.list', { input_url: 'path:../dep' })).items.map((f) => f['path'])).toEqual([
      'flakes/app',
      'flakes/tool',
    ]);
    expect((await allPages(svc, 'flake.list', { input_url: 'github:nobody/nothing' })).items).toEqual([]);
    expect((await allPages(svc, 'flake.list', { template: 'minimal', path_prefix: 'other/' })).items.map((f) => f['path'])).toEqual([
      'other/solo',
    ]);
    expect((await allPages(svc, 'flake.list', { template: 'rust' })).items).toEqual([]);
  });

  it('follows a removed input in get_inputs and in the input URL filter', async () => {
    const removed = await cmd(svc, 'flake.remove_input', { path: 'flakes/tool', name: 'dep' });
    expect((await ok(svc, 'flake.get_inputs', { path: 'flakes/tool', min_sequence: removed.version }))['inputs']).toEqual([]);
    expect((await allPages(svc, 'flake.list', { input_url: 'path:../dep' })).items.map((f) => f['path'])).toEqual(['flakes/app']);
  });

  it('answers not_found for an unknown path, and validation when path and flake_id disagree', async () => {
    const missing = await query(svc, 'flake.get', { path: 'nowhere' });
    expect(missing).toMatchObject({ status: 'error', code: 'not_found' });
    expect(String(missing['message'])).toContain("flake at path 'nowhere'");
    const clash = await query(svc, 'flake.get_inputs', { path: 'flakes/app', flake_id: flakeId('flakes/dep') });
    expect(clash).toMatchObject({ status: 'error', code: 'validation', details: { fields: ['flake_id'] } });
  });
});

describe('package queries', () => {
  const app = { flake_ref: 'path:flakes/app', attribute: ATTR };
  const broken = { flake_ref: 'path:broken', attribute: ATTR };

  beforeAll(async () => {
    await cmd(svc, 'flake.create', { path: 'flakes/app', description: 'the app', template: 'minimal' }).catch(() => undefined);
    await cmd(svc, 'package.build', app);
    await cmd(svc, 'package.cache', app);
    fixtureFlake('broken', 'echo compiling; echo "error: the widget is missing" >&2; exit 1');
    await cmd(svc, 'package.build', broken);
    await cmd(svc, 'package.build', broken);
    fixtureFlake('fine', 'echo fine > $out');
    await cmd(svc, 'package.build', { flake_ref: 'path:fine', attribute: ATTR });
  });

  it('gets a package by flake_ref and attribute, and by package_id', async () => {
    const got = await ok(svc, 'package.get', app);
    const pkg = got['package'] as Body;
    expect(pkg).toMatchObject({
      package_id: packageId(app.flake_ref, ATTR),
      flake_ref: app.flake_ref,
      attribute: ATTR,
      state: 'cached',
      builds: 1,
      failures: 0,
      drv_path: expect.stringMatching(/\.drv$/),
      store_paths: { out: expect.stringMatching(/^\/nix\/store\//) },
      last_build: { build: 1, outcome: 'built' },
      last_cache: { ok: true, cache_url: expect.stringMatching(/^file:\/\//) },
      version: 3,
    });
    expect(await ok(svc, 'package.get', { package_id: packageId(app.flake_ref, ATTR) })).toEqual(got);
  });

  it('gives the build history with durations and failure counts, also under get_status', async () => {
    const status = await ok(svc, 'package.status', broken);
    expect(status).toMatchObject({
      package_id: packageId(broken.flake_ref, ATTR),
      state: 'failed',
      version: 4,
      builds: { total: 2, succeeded: 0, failed: 2, running: false, consecutive_failures: 2, last_success_at: null },
    });
    const stats = status['builds'] as { duration_ms: Record<string, number> };
    expect(stats.duration_ms['last']).toBeGreaterThan(0);
    expect(stats.duration_ms['min']).toBeLessThanOrEqual(stats.duration_ms['max']!);
    const history = status['history'] as Body[];
    expect(history.map((b) => [b['build'], b['outcome']])).toEqual([
      [2, 'failed'],
      [1, 'failed'],
    ]);
    expect(history[0]).toMatchObject({ exit_code: expect.any(Number), duration_ms: expect.any(Number), finished_at: expect.any(String) });
    expect((history[0]!['log_tail'] as string[]).join('\n')).toContain('the widget is missing');
    expect(await ok(svc, 'package.get_status', broken)).toEqual(status);
  });

  it('counts a success after failures and pages the history', async () => {
    fixtureFlake('broken', 'echo repaired > $out');
    const rebuilt = await cmd(svc, 'package.build', broken);
    const status = await ok(svc, 'package.status', { ...broken, min_sequence: rebuilt.version, limit: 1 });
    expect(status).toMatchObject({
      state: 'built',
      builds: { total: 3, succeeded: 1, failed: 2, consecutive_failures: 0, last_success_at: expect.any(String) },
    });
    expect((status['history'] as Body[]).map((b) => b['outcome'])).toEqual(['built']);
    const { items, pages } = await allPages(svc, 'package.status', { ...broken, limit: 2 }, 'history');
    expect(items.map((b) => b['build'])).toEqual([3, 2, 1]);
    expect(pages).toEqual([2, 1]);
  });

  it('lists packages by key across pages, and filters by state and flake reference', async () => {
    const { items, pages } = await allPages(svc, 'package.list', { limit: 2 });
    expect(items.map((p) => p['flake_ref'])).toEqual(['path:broken', 'path:fine', 'path:flakes/app']);
    expect(pages).toEqual([2, 1]);
    expect((await allPages(svc, 'package.list', { state: 'built' })).items.map((p) => p['flake_ref'])).toEqual([
      'path:broken',
      'path:fine',
    ]);
    expect((await allPages(svc, 'package.list', { state: ['cached', 'failed'] })).items.map((p) => p['flake_ref'])).toEqual([
      'path:flakes/app',
    ]);
    expect((await allPages(svc, 'package.list', { flake_ref: 'path:fine' })).items.map((p) => p['state'])).toEqual(['built']);
    expect((await allPages(svc, 'package.list', { state: 'building' })).items).toEqual([]);
  });

  it('answers not_found for a package never built, and validation for half an address', async () => {
    expect(await query(svc, 'package.status', { flake_ref: 'path:none', attribute: ATTR })).toMatchObject({
      status: 'error',
      code: 'not_found',
    });
    const half = await query(svc, 'package.get', { flake_ref: 'path:none' });
    expect(half).toMatchObject({ status: 'error', code: 'validation' });
    expect(String(half['message'])).toMatch(/package_id, or flake_ref and attribute/);
  });
});
