import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { registry, type AggregateKind } from '../../../machines/index.js';
import type { DomainEvent } from '../../../src/domain/events.js';
import { namedId, packageId } from '../../../src/domain/ids.js';
import { kindProjections } from '../../../src/aggregates/index.js';
import type { ConfigModel } from '../../../src/aggregates/config.js';
import type { PackageModel } from '../../../src/aggregates/package.js';
import type { ResourceModel } from '../../../src/aggregates/resource.js';
import { queryDefs } from '../../../src/domain/queries.js';
import { runQuery } from '../../../src/projections/queries.js';
import { ReadModels } from '../../../src/projections/readModels.js';

const configuration = { system: 'x86_64-linux', hostname: 'h', modules: [], overlays: [], packages: [], specialisations: {} };

/** Builds stored events with stream and aggregate sequences, as the event store holds them. */
function stream(models: ReadModels) {
  let seq = 0;
  const versions = new Map<string, number>();
  let clock = Date.parse('2026-01-01T00:00:00Z');
  return (
    kind: AggregateKind,
    id: string,
    fact: string,
    data: Record<string, unknown>,
    options: { at?: number; sequence?: number } = {},
  ): DomainEvent => {
    clock = options.at ?? clock + 1_000;
    const sequence = options.sequence ?? (versions.get(id) ?? 0) + 1;
    versions.set(id, Math.max(sequence, versions.get(id) ?? 0));
    const m = randomUUID();
    const event: DomainEvent = {
      identity: { message_id: m, correlation_id: m, causation_id: m },
      event_type: registry[kind].facts[fact]?.event_type ?? 'Unknown',
      aggregate_type: kind,
      aggregate_id: id,
      sequence,
      occurred_at: new Date(clock).toISOString(),
      ...data,
    };
    models.apply({ fact, event, stream_seq: ++seq });
    return event;
  };
}

describe('package read model', () => {
  it('keeps the build history with durations, failure counts and the cache outcome', () => {
    const models = new ReadModels(kindProjections);
    const emit = stream(models);
    const id = packageId('path:a', 'pkg');
    const start = { flake_ref: 'path:a', attribute: 'pkg' };
    emit('package', id, 'package.build_started', start);
    emit('package', id, 'package.build_failed', { message: 'boom', exit_code: 1, log_tail: ['x'] }); // duration from the times: 1000
    emit('package', id, 'package.build_started', start);
    emit('package', id, 'package.build_failed', { message: 'boom', exit_code: 2, duration_ms: 300 });
    emit('package', id, 'package.build_started', start);
    expect(models.of<PackageModel>('package').records.get(id)).toMatchObject({
      state: 'building',
      builds: 0,
      failures: 2,
      last_build: { build: 3, outcome: 'running' },
    });
    emit('package', id, 'package.built', { store_paths: { out: '/nix/store/x' }, drv_path: '/nix/store/x.drv', duration_ms: 500 });
    emit('package', id, 'package.cache_failed', { message: 'disk full' });
    expect(models.of<PackageModel>('package').records.get(id)).toMatchObject({
      state: 'built',
      last_cache: { ok: false, message: 'disk full', cache_url: null },
    });
    emit('package', id, 'package.cached', { cache_url: 'file:///c', paths: ['/nix/store/x'] });

    expect(models.of<PackageModel>('package').stats(id)).toEqual({
      total: 3,
      succeeded: 1,
      failed: 2,
      running: false,
      consecutive_failures: 0,
      duration_ms: { last: 500, average: 600, min: 300, max: 1000 },
      last_success_at: expect.any(String),
      last_failure_at: expect.any(String),
    });
    expect(models.of<PackageModel>('package').records.get(id)).toMatchObject({
      state: 'cached',
      version: 8,
      store_paths: { out: '/nix/store/x' },
      last_cache: { ok: true, cache_url: 'file:///c' },
    });
    const history = models.of<PackageModel>('package').builds(id, undefined, 10).items;
    expect(history.map((b) => [b.build, b.outcome, b.duration_ms, b.exit_code ?? null])).toEqual([
      [3, 'built', 500, null],
      [2, 'failed', 300, 2],
      [1, 'failed', 1000, 1],
    ]);
    expect(models.of<PackageModel>('package').builds(id, 3, 1)).toEqual({ items: [history[1]], more: true });
  });

  it('keeps at most 200 builds but counts them all', () => {
    const models = new ReadModels(kindProjections);
    const emit = stream(models);
    const id = packageId('path:b', 'pkg');
    for (let i = 0; i < 250; i++) {
      emit('package', id, 'package.build_started', { flake_ref: 'path:b', attribute: 'pkg' });
      emit('package', id, 'package.built', { store_paths: {}, drv_path: 'd', duration_ms: i });
    }
    expect(models.of<PackageModel>('package').stats(id)).toMatchObject({ total: 250, succeeded: 250 });
    const all = models.of<PackageModel>('package').builds(id, undefined, 1_000).items;
    expect(all).toHaveLength(200);
    expect(all.at(-1)!.build).toBe(51);
  });
});

describe('configuration read model', () => {
  it('has at most one current configuration: the last switched to or rolled back', () => {
    const models = new ReadModels(kindProjections);
    const emit = stream(models);
    const a = namedId('config', 'a');
    const b = namedId('config', 'b');
    emit('config', a, 'config.created', { name: 'a', configuration, file: 'hosts/a/configuration.nix' });
    emit('config', b, 'config.created', { name: 'b', configuration, file: 'hosts/b/configuration.nix' });
    expect(models.of<ConfigModel>('config').current).toBeNull();
    emit('config', a, 'config.activated', { activation_type: 'switch', generation: 1, executed: false, reason: 'not NixOS' });
    emit('config', b, 'config.activated', { activation_type: 'test', generation: 1, executed: false });
    expect(models.of<ConfigModel>('config').current).toMatchObject({ config_id: a, generation: 1, via: 'switch' });
    emit('config', b, 'config.activated', { activation_type: 'switch', generation: 2, executed: true });
    expect(models.of<ConfigModel>('config').current).toMatchObject({ config_id: b, generation: 2, via: 'switch', executed: true });
    emit('config', a, 'config.activation_failed', { activation_type: 'switch', generation: 2, message: 'nope', exit_code: 4 });
    expect(models.of<ConfigModel>('config').current?.config_id).toBe(b);
    expect(models.of<ConfigModel>('config').records.get(a)).toMatchObject({ state: 'activated', current_generation: 1, last_generation: 1 });
    emit('config', a, 'config.activated', { activation_type: 'switch', generation: 3, executed: false });
    emit('config', a, 'config.rolled_back', { from_generation: 3, to_generation: 1, executed: false });
    expect(models.of<ConfigModel>('config').current).toMatchObject({ config_id: a, generation: 1, via: 'rollback' });

    const history = models.of<ConfigModel>('config').history(a, undefined, 10);
    expect(history.total).toBe(4);
    expect(history.items.map((e) => [e.entry, e.kind])).toEqual([
      [4, 'rolled_back'],
      [3, 'activated'],
      [2, 'activation_failed'],
      [1, 'activated'],
    ]);
    expect(history.items[2]).toMatchObject({ message: 'nope', exit_code: 4, generation: 2 });
    expect(models.of<ConfigModel>('config').history(a, undefined, 10, ['activation_failed']).items.map((e) => e.entry)).toEqual([2]);

    const body = runQuery(models, queryDefs.get('config.current')!, {}).body;
    expect(body).toMatchObject({ status: 'ok', config_id: a, name: 'a', generation: 1, config: { current: true } });
  });

  it('keeps the resting state across an update and after a failed activation', () => {
    const models = new ReadModels(kindProjections);
    const emit = stream(models);
    const c = namedId('config', 'c');
    emit('config', c, 'config.created', { name: 'c', configuration, file: 'f' });
    emit('config', c, 'config.activated', { activation_type: 'boot', generation: 1, executed: false });
    emit('config', c, 'config.updated', { name: 'c', configuration: { ...configuration, hostname: 'other' }, file: 'f' });
    emit('config', c, 'config.activation_failed', { activation_type: 'test', generation: 2, message: 'x' });
    expect(models.of<ConfigModel>('config').records.get(c)).toMatchObject({ state: 'boot_ready', version: 4, configuration: { hostname: 'other' } });
    expect(models.of<ConfigModel>('config').records.page({ limit: 5, where: [{ index: 'hostname', values: ['other'] }] }).items).toHaveLength(1);
  });
});

describe('module read model', () => {
  it('follows create, update, delete and a new incarnation', () => {
    const models = new ReadModels(kindProjections);
    const emit = stream(models);
    const id = namedId('module', 'web');
    const body = { options: {}, config: {}, imports: [] };
    emit('module', id, 'module.created', { name: 'web', module: body, file: 'modules/web.nix' });
    emit('module', id, 'module.updated', { name: 'web', module: { ...body, imports: ['x'] }, file: 'modules/web.nix' });
    emit('module', id, 'module.deleted', { name: 'web' });
    expect(models.of<ResourceModel>('module').records.get(id)).toMatchObject({ state: 'deleted', body: null, incarnation: 1, version: 3 });
    emit('module', id, 'module.created', { name: 'web', module: body, file: 'modules/web.nix' });
    expect(models.of<ResourceModel>('module').records.get(id)).toMatchObject({ state: 'active', body, incarnation: 2, version: 4, deleted_at: null });
  });
});

describe('read models', () => {
  it('skips duplicates, unknown facts, malformed payloads and events before a creation, and counts them', () => {
    const models = new ReadModels(kindProjections);
    const emit = stream(models);
    const id = namedId('module', 'm');
    emit('module', id, 'module.updated', { name: 'm', module: { options: {}, config: {}, imports: [] }, file: 'f' }); // no creation yet
    emit('module', id, 'module.created', { name: 'm', module: { options: {}, config: {}, imports: [] }, file: 'f' }, { sequence: 1 });
    emit('module', id, 'module.created', { name: 'm', module: { options: {}, config: {}, imports: [] }, file: 'f' }, { sequence: 1 }); // duplicate
    emit('module', id, 'module.renamed', { name: 'n' });
    emit('overlay', namedId('overlay', 'o'), 'overlay.created', { name: 'o' }); // no body, no file
    models.unreadable(99, 'not JSON');
    expect(models.stats()).toMatchObject({ stream_seq: 99, applied: 1, skipped: 4, records: { module: 1, overlay: 0 } });
    expect(models.of<ResourceModel>('module').records.get(id)).toMatchObject({ version: 1 });
  });

  it('derives the fact from the event type when the store header is missing', () => {
    const models = new ReadModels(kindProjections);
    const id = namedId('overlay', 'o');
    models.apply({
      fact: '',
      stream_seq: 1,
      event: {
        identity: { message_id: id, correlation_id: id, causation_id: id },
        event_type: 'OverlayCreated',
        aggregate_type: 'overlay',
        aggregate_id: id,
        sequence: 1,
        occurred_at: new Date().toISOString(),
        name: 'o',
        overlay: { overrides: {}, additions: {} },
        file: 'overlays/o.nix',
      },
    });
    expect(models.of<ResourceModel>('overlay').records.get(id)).toMatchObject({ name: 'o', state: 'active' });
  });

  it('is ready once read up to the target, and lets queries wait for it or for a version', async () => {
    const models = new ReadModels(kindProjections);
    const emit = stream(models);
    const id = namedId('module', 'w');
    const body = { options: {}, config: {}, imports: [] };
    models.begin(2);
    expect(models.state).toBe('catching_up');
    const waiting = models.waitFor(undefined, 0, 5_000);
    const forVersion = models.waitFor(id, 3, 5_000);
    const tooFar = models.waitFor(id, 9, 50);
    emit('module', id, 'module.created', { name: 'w', module: body, file: 'f' });
    expect(models.ready).toBe(false);
    emit('module', id, 'module.updated', { name: 'w', module: body, file: 'f' });
    expect(models.ready).toBe(true);
    expect(models.stats().catch_up).toMatchObject({ events: 2 });
    await expect(waiting).resolves.toBe('ready');
    emit('module', id, 'module.updated', { name: 'w', module: body, file: 'f' });
    await expect(forVersion).resolves.toBe('ready');
    await expect(tooFar).resolves.toBe('behind');
    await expect(models.waitFor(id, 3, 10)).resolves.toBe('ready');
  });

  it('answers not_ready to waiters when still catching up at the deadline, or when stopped', async () => {
    const models = new ReadModels(kindProjections);
    models.begin(10);
    await expect(models.waitFor(undefined, 0, 20)).resolves.toBe('not_ready');
    const pending = models.waitFor(undefined, 0, 5_000);
    models.stop();
    await expect(pending).resolves.toBe('not_ready');
  });

  it('becomes ready when the feed reports nothing pending, and at once for an empty stream', () => {
    const idle = new ReadModels(kindProjections);
    idle.begin(50);
    idle.idle();
    expect(idle.ready).toBe(true);
    const empty = new ReadModels(kindProjections);
    empty.begin(0);
    expect(empty.ready).toBe(true);
  });
});
