/**
 * Module, overlay and configuration queries over a real NATS server: get by name and by ID,
 * lists across pages with filters, the current configuration and the activation history,
 * read-your-writes with min_sequence.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namedId } from '../../../src/domain/ids.js';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { startTestService, type TestService } from '../../support/service.js';
import { allPages, cmd, configuration, moduleBody, ok, overlayBody, query, type Body } from './support.js';

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

describe('module queries', () => {
  const names = Array.from({ length: 7 }, (_, i) => `mod-${String(i).padStart(2, '0')}`);

  beforeAll(async () => {
    for (const [i, name] of names.entries()) await cmd(svc, 'module.create', { name, module: moduleBody(8000 + i) });
    await cmd(svc, 'module.update', { name: 'mod-01', module: moduleBody(9001) });
    await cmd(svc, 'module.delete', { name: 'mod-02' });
    // Recreated after a delete: a new incarnation.
    await cmd(svc, 'module.delete', { name: 'mod-03' });
    await cmd(svc, 'module.create', { name: 'mod-03', module: moduleBody(7003) });
    await cmd(svc, 'module.create', { name: 'other-1', module: moduleBody(1) });
  });

  it('gets a module by name and by module_id, with its body, file and version', async () => {
    const byName = await ok(svc, 'module.get', { name: 'mod-01', min_sequence: 2 });
    const id = namedId('module', 'mod-01');
    expect(byName['module']).toMatchObject({
      module_id: id,
      name: 'mod-01',
      state: 'active',
      module: moduleBody(9001),
      file: 'modules/mod-01.nix',
      incarnation: 1,
      version: 2,
    });
    const byId = await ok(svc, 'module.get', { module_id: id });
    expect(byId).toEqual(byName);
    const m = byName['module'] as Body;
    expect(Date.parse(String(m['created_at']))).toBeLessThanOrEqual(Date.parse(String(m['updated_at'])));
  });

  it('keeps a deleted module with state deleted and no body, and counts incarnations', async () => {
    expect((await ok(svc, 'module.get', { name: 'mod-02' }))['module']).toMatchObject({
      state: 'deleted',
      module: null,
      file: null,
      version: 2,
    });
    expect(((await ok(svc, 'module.get', { name: 'mod-02' }))['module'] as Body)['deleted_at']).toEqual(expect.any(String));
    expect((await ok(svc, 'module.get', { name: 'mod-03' }))['module']).toMatchObject({
      state: 'active',
      incarnation: 2,
      version: 3,
      module: moduleBody(7003),
      deleted_at: null,
    });
  });

  it('lists active modules by name across pages of 2, and deleted ones only when asked', async () => {
    const { items, pages } = await allPages(svc, 'module.list', { limit: 2 });
    expect(items.map((m) => m['name'])).toEqual(['mod-00', 'mod-01', 'mod-03', 'mod-04', 'mod-05', 'mod-06', 'other-1']);
    expect(pages).toEqual([2, 2, 2, 1]);
    expect((await allPages(svc, 'module.list', { state: 'deleted' })).items.map((m) => m['name'])).toEqual(['mod-02']);
    const every = await allPages(svc, 'module.list', { state: ['active', 'deleted'], limit: 3 });
    expect(every.items.map((m) => m['name'])).toEqual(['mod-00', 'mod-01', 'mod-02', 'mod-03', 'mod-04', 'mod-05', 'mod-06', 'other-1']);
    expect(every.pages).toEqual([3, 3, 2]);
  });

  it('lists by name prefix, and a page that ends exactly at the last record says there is no next page', async () => {
    const prefixed = await ok(svc, 'module.list', { name_prefix: 'mod-0', limit: 6 });
    expect((prefixed['items'] as Body[]).map((m) => m['name'])).toEqual(['mod-00', 'mod-01', 'mod-03', 'mod-04', 'mod-05', 'mod-06']);
    expect(prefixed['next_cursor']).toBeNull();
    expect((await ok(svc, 'module.list', { name_prefix: 'zzz' }))['items']).toEqual([]);
  });

  it('answers not_found for a module nobody created, naming it', async () => {
    const reply = await query(svc, 'module.get', { name: 'never-made' });
    expect(reply).toMatchObject({ status: 'error', code: 'not_found' });
    expect(String(reply['message'])).toContain("module 'never-made'");
  });

  it('reads its own write: min_sequence from the command reply gives the new state at once', async () => {
    for (let i = 0; i < 20; i++) {
      const reply = await cmd(svc, 'module.update', { name: 'mod-04', module: moduleBody(20_000 + i) });
      const got = await ok(svc, 'module.get', { name: 'mod-04', min_sequence: reply.version });
      expect(got['module']).toMatchObject({ version: reply.version, module: moduleBody(20_000 + i) });
    }
  });

  it('answers timeout when min_sequence is never reached, after timeout_ms', async () => {
    const current = ((await ok(svc, 'module.get', { name: 'mod-05' }))['module'] as Body)['version'] as number;
    const started = performance.now();
    const reply = await query(svc, 'module.get', { name: 'mod-05', min_sequence: current + 5, timeout_ms: 300 });
    expect(reply).toMatchObject({ status: 'error', code: 'timeout', details: { version: current, min_sequence: current + 5 } });
    expect(String(reply['message'])).toMatch(/not yet at min_sequence/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('waits in a list for the aggregate named by aggregate_id and min_sequence', async () => {
    const reply = await cmd(svc, 'module.create', { name: 'mod-late', module: moduleBody(1) });
    const listed = await ok(svc, 'module.list', { name_prefix: 'mod-late', aggregate_id: reply.aggregate_id, min_sequence: reply.version });
    expect((listed['items'] as Body[]).map((m) => m['name'])).toEqual(['mod-late']);
  });
});

describe('overlay queries', () => {
  beforeAll(async () => {
    for (const name of ['ov-a', 'ov-b', 'ov-c']) await cmd(svc, 'overlay.create', { name, overlay: overlayBody() });
    await cmd(svc, 'overlay.update', { name: 'ov-b', overlay: overlayBody('2') });
    await cmd(svc, 'overlay.delete', { name: 'ov-c' });
  });

  it('gets an overlay by name and by overlay_id', async () => {
    const got = await ok(svc, 'overlay.get', { name: 'ov-b' });
    expect(got['overlay']).toMatchObject({
      overlay_id: namedId('overlay', 'ov-b'),
      name: 'ov-b',
      state: 'active',
      overlay: overlayBody('2'),
      file: 'overlays/ov-b.nix',
      version: 2,
    });
    expect(await ok(svc, 'overlay.get', { overlay_id: namedId('overlay', 'ov-b') })).toEqual(got);
  });

  it('lists overlays, filtered by state, one per page', async () => {
    const active = await allPages(svc, 'overlay.list', { limit: 1 });
    expect(active.items.map((o) => o['name'])).toEqual(['ov-a', 'ov-b']);
    expect(active.pages).toEqual([1, 1]);
    expect((await ok(svc, 'overlay.list', { state: 'deleted' }))['items']).toEqual([
      expect.objectContaining({ name: 'ov-c', state: 'deleted', overlay: null }),
    ]);
  });

  it('answers not_found for an unknown overlay_id', async () => {
    expect(await query(svc, 'overlay.get', { overlay_id: namedId('overlay', 'nope') })).toMatchObject({
      status: 'error',
      code: 'not_found',
    });
  });
});

describe('configuration queries', () => {
  beforeAll(async () => {
    await cmd(svc, 'config.create', { name: 'alpha', configuration: configuration('alpha') });
    await cmd(svc, 'config.create', { name: 'beta', configuration: configuration('beta') });
    await cmd(svc, 'config.create', { name: 'gamma', configuration: configuration('gamma') });
    await cmd(svc, 'config.create', { name: 'delta', configuration: configuration('shared') });
    await cmd(svc, 'config.activate', { name: 'alpha', activation_type: 'switch' }); // alpha gen 1 (current)
    await cmd(svc, 'config.activate', { name: 'alpha', activation_type: 'switch' }); // alpha gen 2 (current)
    await cmd(svc, 'config.activate', { name: 'alpha', activation_type: 'Boot' }); // alpha gen 3, boot_ready
    await cmd(svc, 'config.activate', { name: 'beta', activation_type: 'test' }); // beta gen 1, testing
    await cmd(svc, 'config.update', { name: 'gamma', configuration: configuration('gamma', ['hello']) });
  });

  it('gets a configuration by name and by config_id', async () => {
    const got = await ok(svc, 'config.get', { name: 'alpha' });
    expect(got['config']).toMatchObject({
      config_id: namedId('config', 'alpha'),
      name: 'alpha',
      state: 'boot_ready',
      configuration: configuration('alpha'),
      file: 'hosts/alpha/configuration.nix',
      current_generation: 2,
      last_generation: 3,
      activations: 3,
      last_activation: { activation_type: 'boot', generation: 3, executed: false },
      current: true,
      version: 4,
    });
    expect(await ok(svc, 'config.get', { config_id: namedId('config', 'alpha') })).toEqual(got);
    expect((await ok(svc, 'config.get', { name: 'gamma' }))['config']).toMatchObject({
      state: 'created',
      configuration: configuration('gamma', ['hello']),
      version: 2,
      current: false,
    });
  });

  it('lists configurations by state and host name', async () => {
    const all = await allPages(svc, 'config.list', { limit: 3 });
    expect(all.items.map((c) => c['name'])).toEqual(['alpha', 'beta', 'delta', 'gamma']);
    expect(all.pages).toEqual([3, 1]);
    expect((await allPages(svc, 'config.list', { state: 'created' })).items.map((c) => c['name'])).toEqual(['delta', 'gamma']);
    expect((await allPages(svc, 'config.list', { state: ['testing', 'boot_ready'] })).items.map((c) => c['name'])).toEqual([
      'alpha',
      'beta',
    ]);
    expect((await allPages(svc, 'config.list', { hostname: 'shared' })).items.map((c) => c['name'])).toEqual(['delta']);
  });

  it('gives the configuration last switched to as current, also under get_current, and follows switches and rollbacks', async () => {
    const current = await ok(svc, 'config.current');
    expect(current).toMatchObject({ config_id: namedId('config', 'alpha'), name: 'alpha', generation: 2, via: 'switch', executed: false });
    expect((current['config'] as Body)['name']).toBe('alpha');
    expect(await ok(svc, 'config.get_current')).toEqual(current);

    // beta switches: it becomes the only current one.
    const switched = await cmd(svc, 'config.activate', { name: 'beta', activation_type: 'switch' });
    const now = await ok(svc, 'config.current', { aggregate_id: switched.aggregate_id, min_sequence: switched.version });
    expect(now).toMatchObject({ name: 'beta', generation: 2, via: 'switch' });
    expect(((await ok(svc, 'config.get', { name: 'alpha' }))['config'] as Body)['current']).toBe(false);
    const currents = (await allPages(svc, 'config.list', {})).items.filter((c) => c['current'] === true);
    expect(currents.map((c) => c['name'])).toEqual(['beta']);

    // alpha switches (generation 4), then rolls back to generation 1: current again, via rollback.
    await cmd(svc, 'config.activate', { name: 'alpha', activation_type: 'switch' });
    const rolled = await cmd(svc, 'config.rollback', { name: 'alpha', to_generation: 1 });
    const after = await ok(svc, 'config.get_current', { aggregate_id: rolled.aggregate_id, min_sequence: rolled.version });
    expect(after).toMatchObject({ name: 'alpha', generation: 1, via: 'rollback' });
  });

  it('gives the history of activations, failures and rollbacks, newest first, across pages', async () => {
    // Runs after the switches and the rollback of the test before.
    const { items, pages } = await allPages(svc, 'config.get_history', { name: 'alpha', limit: 2 });
    expect(pages).toEqual([2, 2, 1]);
    expect(items.map((e) => [e['entry'], e['kind'], e['activation_type'] ?? null, e['generation'] ?? e['to_generation']])).toEqual([
      [5, 'rolled_back', null, 1],
      [4, 'activated', 'switch', 4],
      [3, 'activated', 'boot', 3],
      [2, 'activated', 'switch', 2],
      [1, 'activated', 'switch', 1],
    ]);
    expect(items[0]).toMatchObject({ from_generation: 4, to_generation: 1, executed: false });
    const first = await ok(svc, 'config.get_history', { name: 'alpha', limit: 1 });
    expect(first).toMatchObject({ config_id: namedId('config', 'alpha'), name: 'alpha', total: 5, current_generation: 1 });
    const rollbacks = await ok(svc, 'config.get_history', { name: 'alpha', kind: 'rolled_back' });
    expect((rollbacks['items'] as Body[]).map((e) => e['entry'])).toEqual([5]);
    expect((await ok(svc, 'config.get_history', { name: 'gamma' }))['items']).toEqual([]);
  });

  it('answers not_found for the history of an unknown configuration', async () => {
    expect(await query(svc, 'config.get_history', { name: 'nobody' })).toMatchObject({ status: 'error', code: 'not_found' });
  });
});
