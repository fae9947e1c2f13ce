/**
 * The partition router on several runtime instances in virtual time (in-memory twins of the
 * store, the KV bucket and the bus; test/support/clusterUnderTest.ts): served where owned,
 * forwarded unchanged to the owner otherwise, invalid commands answered where they arrive,
 * forwarded again after a move (with a hop bound), held while a partition is handed off,
 * `unavailable` past the wait bound, and the old queue-group behaviour with routing off.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EffectOutcome } from '../../../machines/index.js';
import { assignPartitions } from '../../../src/cluster/index.js';
import { namedId, packageId } from '../../../src/domain/ids.js';
import { MAX_HOPS } from '../../../src/runtime/partitionRouter.js';
import { Fleet, request, type Instance } from '../../support/clusterUnderTest.js';
import { deferred } from '../../support/deferred.js';

let fleet: Fleet;
afterEach(async () => fleet?.dispose());

const body = (n = 0) => ({ options: {}, config: { n }, imports: [] });
const ATTR = 'packages.x86_64-linux.default';

/** A module name whose aggregate falls into a partition `owner` serves. */
function nameOwnedBy(owner: Instance, from = 0): string {
  for (let i = from; ; i++) {
    const name = `m${i}`;
    if (owner.rt.cluster.owns(fleet.partitionOf(namedId('module', name)))) return name;
  }
}

/** A flake path whose package falls into a partition the assignment gives `member` among `members`. */
function flakeAssignedTo(member: string, members: string[]): string {
  const assignment = assignPartitions(members, fleet.partitions);
  for (let i = 0; ; i++) if (assignment[fleet.partitionOf(packageId(`path:f${i}`, ATTR))] === member) return `f${i}`;
}

const answered = (...rs: Array<{ answers: unknown[] }>) => () => rs.every((r) => r.answers.length > 0);

describe('partition router', () => {
  it('serves every command where it arrives when one instance owns every partition', async () => {
    fleet = new Fleet();
    const a = await fleet.start('a');
    await fleet.until(() => fleet.settled());
    const rs = Array.from({ length: 20 }, (_, i) => a.send('t.cmd.module.create', { name: `solo${i}`, module: body() }));
    await fleet.until(answered(...rs));
    expect(rs.map((r) => r.answers[0]?.['status'])).toEqual(rs.map(() => 'ok'));
    expect(a.rt.router.counts).toMatchObject({ local: 20, forwarded: 0, waited: 0 });
    expect(fleet.bus.sent).toEqual([]);
  });

  it('forwards a command unchanged to the owner of its partition, which answers the client', async () => {
    fleet = new Fleet();
    const a = await fleet.start('a');
    const b = await fleet.start('b');
    await fleet.until(() => fleet.settled());
    const name = nameOwnedBy(b);
    const r = a.send('t.cmd.module.create', { name, module: body() });
    await fleet.until(answered(r));
    expect(r.answers).toHaveLength(1);
    expect(r.answers[0]).toMatchObject({ status: 'ok', version: 1 });
    expect(a.rt.router.counts).toMatchObject({ local: 0, forwarded: 1 });
    expect(b.rt.router.counts).toMatchObject({ received: 1, local: 1 });
    // One hop, the original subject in the route subject; payload and reply subject as the client sent them.
    expect(fleet.bus.sent).toEqual([{ subject: 't.route.b.1.module.create', data: r.data, headers: r.headers, reply: r.reply }]);
    const stored = fleet.log.events.filter((e) => e.event.aggregate_id === namedId('module', name));
    expect(stored.map((e) => fleet.writers.get(e.event.identity.message_id))).toEqual(['b']);
  });

  it('answers an invalid command where it arrives, without forwarding it', async () => {
    fleet = new Fleet();
    const a = await fleet.start('a');
    const b = await fleet.start('b');
    await fleet.until(() => fleet.settled());
    const r = a.send('t.cmd.module.create', { name: nameOwnedBy(b), module: 'not an object' });
    await fleet.until(answered(r));
    expect(r.answers[0]).toMatchObject({ status: 'error', code: 'validation' });
    expect(fleet.bus.sent).toEqual([]);
    expect(a.records.records.map((x) => x.subject)).toEqual(['t.error.cmd.module.create']);
  });

  it('forwards again a command that reaches an instance that no longer owns its partition, and refuses it past the hop bound', async () => {
    fleet = new Fleet();
    const a = await fleet.start('a');
    const b = await fleet.start('b');
    await fleet.until(() => fleet.settled());
    const name = nameOwnedBy(b);
    // As if a had forwarded it once to an owner that moved on: it arrives at a on a's route subject.
    const moved = request('t.cmd.module.create', { name, module: body() });
    fleet.bus.for(b).forward('t.route.a.1.module.create', moved);
    await fleet.until(answered(moved));
    expect(moved.answers[0]).toMatchObject({ status: 'ok' });
    expect(fleet.bus.sent.map((s) => s.subject)).toEqual(['t.route.a.1.module.create', 't.route.b.2.module.create']);
    const looping = request('t.cmd.module.update', { name, module: body(1) });
    fleet.bus.for(b).forward(`t.route.a.${MAX_HOPS}.module.update`, looping);
    await fleet.until(answered(looping));
    expect(looping.answers[0]).toMatchObject({ status: 'error', code: 'unavailable' });
    expect(String(looping.answers[0]?.['message'])).toMatch(/forwarded 3 times/);
    expect(a.rt.router.counts.too_many_hops).toBe(1);
    expect(fleet.log.events.filter((e) => e.event.aggregate_id === namedId('module', name))).toHaveLength(1);
  });

  it('holds commands of a partition while it is handed off, then serves them at the new owner after the work in flight', async () => {
    fleet = new Fleet();
    const build = deferred<EffectOutcome>();
    const a = await fleet.start('a', { runEffect: () => build.promise });
    await fleet.until(() => fleet.settled());
    const flake = flakeAssignedTo('b', ['a', 'b']);
    const building = a.send('t.cmd.package.build', { flake_ref: `path:${flake}`, attribute: ATTR });
    await fleet.until(() => a.effects.length === 1);
    // b joins: the package's partition moves to b, but a is still building it.
    const b = await fleet.start('b');
    await fleet.advance(500);
    const p = fleet.partitionOf(packageId(`path:${flake}`, ATTR));
    expect(b.rt.cluster.ownerOf(p)).toBeUndefined();
    const meanwhile = [a, b].map((i) => i.send('t.cmd.package.build', { flake_ref: `path:${flake}`, attribute: ATTR }));
    await fleet.advance(500);
    expect(meanwhile.map((r) => r.answers)).toEqual([[], []]);
    expect(a.rt.router.counts.waited + b.rt.router.counts.waited).toBe(2);
    // The build finishes at a; a hands the partition to b; the held commands are served there.
    build.resolve({ type: 'effect.succeeded', kind: 'package.build', result: { store_paths: { out: '/nix/store/00000000000000000000000000000000-x' }, drv_path: '/nix/store/x.drv', duration_ms: 1 } });
    await fleet.until(answered(building, ...meanwhile));
    expect(building.answers[0]).toMatchObject({ status: 'ok', version: 2 });
    // Both held builds ran at b as one build (the second joined the first): started 3, built 4.
    expect(meanwhile.map((r) => r.answers[0])).toMatchObject([
      { status: 'ok', version: 4 },
      { status: 'ok', version: 4 },
    ]);
    expect(b.effects.map((e) => e.kind)).toEqual(['package.build']);
    const writers = fleet.log.events.filter((e) => e.event.aggregate_id === packageId(`path:${flake}`, ATTR)).map((e) => [e.event.event_type, fleet.writers.get(e.event.identity.message_id)]);
    expect(writers.slice(0, 2)).toEqual([
      ['PackageBuildStarted', 'a'],
      ['PackageBuilt', 'a'],
    ]);
    expect(writers.slice(2).every(([, w]) => w === 'b')).toBe(true);
    expect(a.fencing.counts.conflicts + b.fencing.counts.conflicts).toBe(0);
  });

  it('answers unavailable when the partition gets no owner within the wait bound', async () => {
    fleet = new Fleet();
    const build = deferred<EffectOutcome>();
    const a = await fleet.start('a', { runEffect: () => build.promise });
    await fleet.until(() => fleet.settled());
    const flake = flakeAssignedTo('b', ['a', 'b']);
    a.send('t.cmd.package.build', { flake_ref: `path:${flake}`, attribute: ATTR });
    await fleet.until(() => a.effects.length === 1);
    const b = await fleet.start('b', { waitMs: 500 });
    await fleet.advance(200);
    const r = b.send('t.cmd.package.build', { flake_ref: `path:${flake}`, attribute: ATTR });
    await fleet.until(answered(r));
    expect(r.answers[0]).toMatchObject({ status: 'error', code: 'unavailable' });
    expect(String(r.answers[0]?.['message'])).toMatch(/no owner after 500 ms/);
    expect(b.rt.router.counts.no_owner).toBe(1);
    build.resolve({ type: 'effect.failed', kind: 'package.build', code: 'nix_failed', message: 'stopped' });
  });

  it('serves every command where it arrives with routing off (the queue-group behaviour before partitions)', async () => {
    fleet = new Fleet();
    const a = await fleet.start('a', { routing: false });
    const b = await fleet.start('b', { routing: false });
    await fleet.until(() => fleet.settled());
    const name = nameOwnedBy(b);
    const r = a.send('t.cmd.module.create', { name, module: body() });
    await fleet.until(answered(r));
    expect(r.answers[0]).toMatchObject({ status: 'ok' });
    expect(fleet.bus.sent).toEqual([]);
    const stored = fleet.log.events.filter((e) => e.event.aggregate_id === namedId('module', name));
    expect(stored.map((e) => fleet.writers.get(e.event.identity.message_id))).toEqual(['a']);
  });
});
