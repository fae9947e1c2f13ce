import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { createActor, type AnyActor } from 'xstate';
import { describe, expect, it } from 'vitest';
import { registry, supervisorMachine } from '../../../machines/index.js';
import { InspectionHub } from '../../../src/inspection/hub.js';
import { InspectBatch, InspectRecord, type InspectBatch as Batch } from '../../../src/inspection/wire.js';

const logger = pino({ level: 'silent' });

function hub(
  options: Partial<ConstructorParameters<typeof InspectionHub>[0]> = {},
  watched = true,
): { hub: InspectionHub; batches: Batch[] } {
  const batches: Batch[] = [];
  const h = new InspectionHub({
    instance: 'test',
    logger,
    publish: (data) => batches.push(JSON.parse(data) as Batch),
    flushEveryMs: 1_000_000, // tests flush by hand
    ...options,
  });
  if (watched) h.watch(60_000);
  return { hub: h, batches };
}

const cause = () => {
  const id = randomUUID();
  return { message_id: id, correlation_id: randomUUID(), causation_id: id };
};

/** A module actor the way a slot runs it: created, attached, then sent commands under a cause. */
function moduleActor(h: InspectionHub, id: string): AnyActor {
  const actor = createActor(registry.module.machine, { input: { aggregate_id: id }, id: `module:${id}` }) as AnyActor;
  actor.start();
  h.attached('module', id, actor, { replayed: 0, fromSnapshot: false });
  return actor;
}

function send(h: InspectionHub, actor: AnyActor, event: { type: string } & Record<string, unknown>, c = cause()) {
  h.sending(c);
  actor.send(event);
  h.sending(undefined);
  return c;
}

const records = (batches: Batch[]) => batches.flatMap((b) => b.records);

describe('inspection hub', () => {
  it('records a command with its identity, then the state after it with the transition taken and the actions executed', () => {
    const { hub: h, batches } = hub();
    const id = randomUUID();
    const actor = moduleActor(h, id);
    const c = send(h, actor, { type: 'module.create', name: 'web', module: { options: {}, config: {}, imports: [] } });
    h.flush();
    const rs = records(batches);
    expect(rs[0]).toMatchObject({ k: 'spawned', actor: { type: 'module', id }, state: 'none', version: 0 });
    expect(rs).toContainEqual(expect.objectContaining({ k: 'event', origin: 'command', event: 'module.create', cause: c }));
    expect(rs.slice(1).map((r) => r.k)).toEqual(['event', 'state']);
    expect(rs[2]).toMatchObject({
      k: 'state',
      state: 'active',
      version: 1,
      event: 'module.create',
      transitions: [{ event: 'module.create', from: 'none', to: 'active', actions: ['record', 'announce', 'schedule'] }],
      actions: ['emit fact.recorded module.created', 'emit effect.scheduled'],
    });
    for (const r of rs) expect(InspectRecord.safeParse(r).success).toBe(true);
    expect(InspectBatch.safeParse(batches[0]).success).toBe(true);
    expect(h.get('module', id)).toMatchObject({
      state: 'active',
      version: 1,
      status: 'live',
      last_event: 'module.create',
      correlation_id: c.correlation_id,
    });
  });

  it('shows a fact the machine raised as a second transition of the same step', () => {
    const { hub: h, batches } = hub();
    const actor = createActor(registry.package.machine, { input: { aggregate_id: 'p' } }) as AnyActor;
    actor.start();
    h.attached('package', 'p', actor, { replayed: 0, fromSnapshot: false });
    send(h, actor, { type: 'package.build', flake_ref: 'path:/x', attribute: 'default' });
    h.flush();
    const rs = records(batches).slice(1);
    expect(rs.map((r) => r.k)).toEqual(['event', 'state']);
    const state = rs[1]!;
    if (state.k !== 'state') throw new Error('not a state record');
    expect(state.transitions.map((t) => [t.event, t.from, t.to])).toEqual([
      ['package.build', 'none', 'none'],
      ['package.build_started', 'none', 'building'],
    ]);
    expect(state.actions).toContain('raise package.build_started');
    expect(state.actions).toContain('emit effect.requested');
  });

  it('redacts secrets and bounds payloads in event records', () => {
    const { hub: h, batches } = hub();
    const actor = moduleActor(h, 'm');
    send(h, actor, {
      type: 'module.create',
      name: 'x'.repeat(1_000),
      module: { options: { password: 'hunter2' }, config: {}, imports: [] },
    });
    h.flush();
    const ev = records(batches).find((r) => r.k === 'event');
    const text = JSON.stringify(ev);
    expect(text).not.toContain('hunter2');
    expect(text).toContain('[redacted]');
    expect(text.length).toBeLessThan(800);
  });

  it('reports rehydration, passivation, stored events and replies', () => {
    const { hub: h, batches } = hub();
    const actor = createActor(registry.module.machine, { input: { aggregate_id: 'm' } }) as AnyActor;
    actor.start();
    const created: { type: string } = {
      type: 'module.created',
      name: 'm',
      module: { options: {}, config: {}, imports: [] },
      file: 'modules/m.nix',
    } as { type: string };
    actor.send(created);
    h.attached('module', 'm', actor, { replayed: 1, fromSnapshot: false });
    const c = cause();
    h.stored('module', 'm', [
      {
        event: {
          identity: { message_id: 'e1', correlation_id: c.correlation_id, causation_id: c.message_id },
          event_type: 'ModuleUpdated',
          sequence: 2,
        },
        subject: 'nix.event.module.updated',
      },
    ]);
    h.replied('module', 'm', 'module.update', c, { status: 'ok', version: 2 });
    h.replied('module', 'm', 'module.create', c, { status: 'error', code: 'already_exists', message: 'module m exists' });
    h.dropped('module', 'm', 'passivated');
    h.flush();
    const rs = records(batches);
    expect(rs.map((r) => r.k)).toEqual(['rehydrated', 'stored', 'reply', 'reply', 'passivated']);
    expect(rs[0]).toMatchObject({ state: 'active', version: 1, replayed: 1 });
    expect(rs[1]).toMatchObject({
      event_type: 'ModuleUpdated',
      event_id: 'e1',
      correlation_id: c.correlation_id,
      causation_id: c.message_id,
    });
    expect(rs[3]).toMatchObject({ status: 'error', code: 'already_exists' });
    expect(h.get('module', 'm')?.status).toBe('passivated');
  });

  it('publishes at most its budget per flush, drops past its bound and says how many', () => {
    const { hub: h, batches } = hub({ maxRecordsPerBatch: 10, batchesPerFlush: 1, maxPending: 25 });
    for (let i = 0; i < 40; i++) h.dropped('module', `m${i}`, 'shutdown');
    h.flush();
    expect(batches).toHaveLength(1);
    expect(batches[0]!.records).toHaveLength(10);
    expect(batches[0]!.dropped).toBe(15);
    h.stop();
    expect(records(batches)).toHaveLength(25);
    expect(batches.map((b) => b.seq)).toEqual([1, 2, 3]);
  });

  it('watches a system actor only when its state changes', () => {
    const { hub: h, batches } = hub();
    const sup = createActor(
      supervisorMachine.provide({ actions: { releaseHeld: () => undefined } }),
      { id: 'supervisor' },
    );
    sup.start();
    h.attachSystem('supervisor', sup);
    // Events that change nothing (the mode is read, not sent, on every command): no records.
    for (let i = 0; i < 100; i++) sup.send({ type: 'intake.resume' });
    sup.send({ type: 'intake.pause', reason: 'test' });
    h.flush();
    const rs = records(batches);
    expect(rs.filter((r) => r.k === 'state').map((r) => r.k === 'state' && r.state)).toEqual(['paused']);
    expect(rs).toContainEqual(
      expect.objectContaining({
        k: 'state',
        transitions: [expect.objectContaining({ from: 'running', to: 'paused', event: 'intake.pause' })],
      }),
    );
    expect(rs.length).toBeLessThan(6);
    expect(h.list({ offset: 0, limit: 10 }).actors[0]).toMatchObject({ type: 'system', id: 'supervisor', state: 'paused' });
    h.stop();
  });

  it('lists actors newest first, filters by ID or correlation ID, and forgets the oldest past its cap', () => {
    const { hub: h } = hub({ trackedCap: 3 });
    const actors = ['a', 'b', 'c', 'd'].map((id) => moduleActor(h, id));
    const c = send(h, actors[1]!, { type: 'module.create', name: 'b', module: { options: {}, config: {}, imports: [] } });
    const all = h.list({ offset: 0, limit: 10 });
    expect(all.actors.map((a) => a.id)).toEqual(['b', 'd', 'c']);
    expect(h.list({ offset: 0, limit: 10, query: c.correlation_id.slice(0, 8) }).actors.map((a) => a.id)).toEqual(['b']);
    expect(h.list({ offset: 1, limit: 1 }).actors.map((a) => a.id)).toEqual(['d']);
    expect(h.list({ offset: 0, limit: 10, type: 'flake' }).total).toBe(0);
  });

  it('names each aggregate by its natural key: on the first record after it is known, on lifecycle records, in the list', () => {
    const { hub: h, batches } = hub();
    const id = randomUUID();
    const actor = moduleActor(h, id);
    send(h, actor, { type: 'module.create', name: 'web', module: { options: {}, config: {}, imports: [] } });
    send(h, actor, { type: 'module.update', name: 'web', module: { options: {}, config: { a: 1 }, imports: [] } });
    h.dropped('module', id, 'passivated');
    h.flush();
    const rs = records(batches);
    // Not known at spawn (no command yet); then once, on the state record after the create; then on lifecycle records.
    expect(rs.map((r) => [r.k, r.actor.name])).toEqual([
      ['spawned', undefined],
      ['event', undefined],
      ['state', 'web'],
      ['event', undefined],
      ['state', undefined],
      ['passivated', 'web'],
    ]);
    for (const r of rs) expect(InspectRecord.safeParse(r).success).toBe(true);
    expect(h.get('module', id)).toMatchObject({ name: 'web' });
    expect(h.list({ offset: 0, limit: 10, query: 'WE' }).actors.map((a) => [a.id, a.name])).toEqual([[id, 'web']]);
    expect(h.list({ offset: 0, limit: 10, query: 'nomatch' }).total).toBe(0);
  });

  it("takes each kind's natural key from the kind's own definition (a package: flake_ref#attribute; a flake: its path while being created)", () => {
    const { hub: h, batches } = hub();
    const pkg = createActor(registry.package.machine, { input: { aggregate_id: 'p' } }) as AnyActor;
    pkg.start();
    h.attached('package', 'p', pkg, { replayed: 0, fromSnapshot: false });
    send(h, pkg, { type: 'package.build', flake_ref: 'hello', attribute: 'packages.x86_64-linux.default' });
    const flake = createActor(registry.flake.machine, { input: { aggregate_id: 'f' } }) as AnyActor;
    flake.start();
    h.attached('flake', 'f', flake, { replayed: 0, fromSnapshot: false });
    send(h, flake, { type: 'flake.create', path: 'apps/hello', description: 'Hello', template: 'minimal', inputs: {} });
    h.flush();
    expect(h.get('package', 'p')?.name).toBe('hello#packages.x86_64-linux.default');
    expect(h.get('flake', 'f')).toMatchObject({ state: 'creating', name: 'apps/hello' });
    expect(
      records(batches)
        .filter((r) => r.actor.name !== undefined)
        .map((r) => [r.k, r.actor.type]),
    ).toEqual([
      ['state', 'package'],
      ['state', 'flake'],
    ]);
  });

  it('bounds a long name and rehydrates an aggregate with its name on the record', () => {
    const { hub: h, batches } = hub();
    const actor = createActor(registry.config.machine, { input: { aggregate_id: 'c' } }) as AnyActor;
    actor.start();
    const long = 'h'.repeat(1_000);
    actor.send({
      type: 'config.created',
      name: long,
      configuration: { system: 'x86_64-linux', hostname: 'h' },
      file: 'hosts/h/configuration.nix',
    } as { type: string });
    h.attached('config', 'c', actor, { replayed: 1, fromSnapshot: false });
    h.flush();
    const first = records(batches)[0]!;
    expect(first.k).toBe('rehydrated');
    expect(first.actor.name).toHaveLength(256);
    expect(first.actor.name?.endsWith('…')).toBe(true);
  });

  it('publishes only lifecycle records and state changes while nobody watches', () => {
    let now = 1_000;
    const { hub: h, batches } = hub({ now: () => now }, false);
    const actor = moduleActor(h, 'w');
    send(h, actor, { type: 'module.create', name: 'w', module: { options: {}, config: {}, imports: [] } });
    send(h, actor, { type: 'module.update', name: 'w', module: { options: {}, config: {}, imports: [] } });
    h.replied('module', 'w', 'module.update', cause(), { status: 'ok', version: 2 });
    h.flush();
    expect(records(batches).map((r) => [r.k, 'state' in r ? r.state : ''])).toEqual([
      ['spawned', 'none'],
      ['state', 'active'],
    ]);
    // The list still knows the latest of everything.
    expect(h.get('module', 'w')).toMatchObject({ state: 'active', version: 2, last_event: 'module.update' });
    // A lease turns the full stream on, until it runs out.
    h.watch(10_000);
    send(h, actor, { type: 'module.update', name: 'w', module: { options: {}, config: {}, imports: [] } });
    now += 10_001;
    send(h, actor, { type: 'module.update', name: 'w', module: { options: {}, config: {}, imports: [] } });
    h.flush();
    expect(
      records(batches)
        .slice(2)
        .map((r) => r.k),
    ).toEqual(['event', 'state']);
  });

  it('never lets an inspection failure reach the actor', () => {
    const { hub: h } = hub({
      publish: () => {
        throw new Error('bus down');
      },
    });
    const actor = moduleActor(h, 'x');
    expect(() => send(h, actor, { type: 'module.create', name: 'x', module: { options: {}, config: {}, imports: [] } })).not.toThrow();
    expect(() => h.flush()).not.toThrow();
    expect((actor.getSnapshot() as { value: string }).value).toBe('active');
  });
});
