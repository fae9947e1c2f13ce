/**
 * Handoff, takeover and fencing on several runtime instances in virtual time (in-memory twins;
 * test/support/clusterUnderTest.ts): a handoff finishes in-flight work, snapshots and
 * passivates before the lease goes; a takeover settles packages left building and publishes
 * again what the dead owner stored after its publication mark; a paused owner's late store is
 * refused by the ownership check, not rejected by the sequence check; a store during a late
 * renewal waits for it.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { EffectOutcome } from '../../../machines/index.js';
import { assignPartitions } from '../../../src/cluster/index.js';
import { eventIdentity } from '../../../src/domain/identity.js';
import { namedId, packageId } from '../../../src/domain/ids.js';
import { Fleet, type Instance } from '../../support/clusterUnderTest.js';
import { deferred } from '../../support/deferred.js';
import { moduleEvent } from '../../support/storeContract.js';

let fleet: Fleet;
afterEach(async () => fleet?.dispose());

const body = (n = 0) => ({ options: {}, config: { n }, imports: [] });
const ATTR = 'packages.x86_64-linux.default';
const built: EffectOutcome = {
  type: 'effect.succeeded',
  kind: 'package.build',
  result: { store_paths: { out: '/nix/store/00000000000000000000000000000000-x' }, drv_path: '/nix/store/x.drv', duration_ms: 1 },
};

/** Names (module or flake path) whose aggregate the assignment gives `member` among `members`. */
function assigned(member: string, members: string[], idOf: (i: number) => string, count = 1): number[] {
  const assignment = assignPartitions(members, fleet.partitions);
  const out: number[] = [];
  for (let i = 0; out.length < count; i++) if (assignment[fleet.partitionOf(idOf(i))] === member) out.push(i);
  return out;
}

const answered = (...rs: Array<{ answers: unknown[] }>) => () => rs.every((r) => r.answers.length > 0);
const eventsOf = (id: string) => fleet.log.events.filter((e) => e.event.aggregate_id === id);
const writer = (e: { event: { identity: { message_id: string } } }) => fleet.writers.get(e.event.identity.message_id);

describe('partition hooks', () => {
  it('hands a partition off on a join: snapshots written, aggregates passivated, and the new owner continues the versions', async () => {
    fleet = new Fleet();
    const a = await fleet.start('a');
    await fleet.until(() => fleet.settled());
    const moving = assigned('b', ['a', 'b'], (i) => namedId('module', `h${i}`), 5);
    const created = moving.map((i) => a.send('t.cmd.module.create', { name: `h${i}`, module: body() }));
    await fleet.until(answered(...created));
    const partitions = [...new Set(moving.map((i) => fleet.partitionOf(namedId('module', `h${i}`))))];
    expect(partitions.flatMap((p) => a.supervisor.partitionSlots(p))).toHaveLength(5);
    const b = await fleet.start('b');
    await fleet.until(() => fleet.settled());
    // Released by a: nothing of those partitions stays in its memory, each aggregate has its snapshot.
    expect(partitions.flatMap((p) => a.supervisor.partitionSlots(p))).toEqual([]);
    for (const i of moving) expect(await fleet.state.loadSnapshot('module', namedId('module', `h${i}`))).toMatchObject({ version: 1 });
    const toB = assignPartitions(['a', 'b'], fleet.partitions).filter((m) => m === 'b').length;
    expect(a.rt.hooks.counts.released).toBe(toB);
    expect(a.rt.cluster.stats().handoffs).toBe(toB);
    // The next commands go to b (also when they arrive at a), with the version that follows.
    const updated = moving.map((i, k) => (k % 2 ? a : b).send('t.cmd.module.update', { name: `h${i}`, module: body(1) }));
    await fleet.until(answered(...updated));
    expect(updated.map((r) => [r.answers[0]?.['status'], r.answers[0]?.['version']])).toEqual(updated.map(() => ['ok', 2]));
    for (const i of moving) expect(eventsOf(namedId('module', `h${i}`)).map(writer)).toEqual(['a', 'b']);
    expect([a.fencing.counts, b.fencing.counts]).toMatchObject([
      { conflicts: 0, fenced_writes: 0, refused_writes: 0 },
      { conflicts: 0, fenced_writes: 0, refused_writes: 0 },
    ]);
  });

  it('after a crash, the new owner loads the packages left building and runs their builds again', async () => {
    fleet = new Fleet();
    const never = deferred<EffectOutcome>();
    const a = await fleet.start('a', { runEffect: () => never.promise });
    const b = await fleet.start('b', { readModels: true });
    await fleet.until(() => fleet.settled());
    const [i] = assigned('a', ['a', 'b'], (n) => packageId(`path:f${n}`, ATTR));
    const id = packageId(`path:f${i}`, ATTR);
    const messageId = randomUUID();
    const first = a.send('t.cmd.package.build', { flake_ref: `path:f${i}`, attribute: ATTR }, messageId);
    await fleet.until(() => a.effects.length === 1);
    expect(eventsOf(id).map((e) => e.event.event_type)).toEqual(['PackageBuildStarted']);
    await a.crash();
    // Within a lease (and a heartbeat) b owns a's partitions and settles the package: its build runs at b.
    const took = await fleet.until(() => b.effects.length === 1, 10_000);
    expect(took).toBeLessThanOrEqual(fleet.leaseMs + 1_000);
    await fleet.until(() => eventsOf(id).length === 2);
    expect(eventsOf(id).map((e) => [e.event.event_type, writer(e)])).toEqual([
      ['PackageBuildStarted', 'a'],
      ['PackageBuilt', 'b'],
    ]);
    expect(b.rt.hooks.counts.effects_resumed).toBe(1);
    // The client's retry (same message id) gets the build's outcome from b.
    const retry = b.send('t.cmd.package.build', { flake_ref: `path:f${i}`, attribute: ATTR }, messageId);
    await fleet.until(answered(retry));
    expect(retry.answers[0]).toMatchObject({ status: 'ok', version: 2 });
    expect(first.answers).toEqual([]);
  });

  it('publishes again, after a takeover, an event the dead owner stored but never published', async () => {
    fleet = new Fleet();
    const a = await fleet.start('a');
    const b = await fleet.start('b');
    await fleet.until(() => fleet.settled());
    const [i] = assigned('a', ['a', 'b'], (n) => namedId('module', `r${n}`));
    const id = namedId('module', `r${i}`);
    const created = a.send('t.cmd.module.create', { name: `r${i}`, module: body() });
    await fleet.until(answered(created));
    await fleet.advance(2_000); // a's publication mark (its relay checkpoint) passes the event, and a heartbeat announces it
    // a stores the next event and dies before publishing it.
    const lost = moduleEvent(id, 2, 'lost-command');
    lost.event.identity = eventIdentity({ message_id: 'lost-command', correlation_id: 'lost-command', causation_id: 'lost-command' });
    await fleet.log.append({ ...lost, expected_last_seq: eventsOf(id)[0]!.stream_seq });
    await a.crash();
    const seen = (eventId: string) => fleet.seeds.publications.filter((p) => p.event.identity.message_id === eventId).length;
    expect(seen(lost.event.identity.message_id)).toBe(0);
    await fleet.until(() => seen(lost.event.identity.message_id) === 1, 10_000);
    // Only what came after a's mark: the first event (published by a) is not sent again.
    expect(seen(eventsOf(id)[0]!.event.identity.message_id)).toBe(1);
    expect(b.rt.hooks.counts.republished).toBeGreaterThanOrEqual(1);
  });

  it('refuses the late store of an owner paused past its lease, so the sequence check never has to', async () => {
    fleet = new Fleet();
    const slow = deferred<EffectOutcome>();
    const a = await fleet.start('a', { runEffect: () => slow.promise });
    const b = await fleet.start('b', { readModels: true });
    await fleet.until(() => fleet.settled());
    const [i] = assigned('a', ['a', 'b'], (n) => packageId(`path:p${n}`, ATTR));
    const id = packageId(`path:p${i}`, ATTR);
    const p = fleet.partitionOf(id);
    a.send('t.cmd.package.build', { flake_ref: `path:p${i}`, attribute: ATTR });
    await fleet.until(() => a.effects.length === 1);
    a.clock.pause(); // SIGSTOP of a's cluster layer: no heartbeats, no renewals
    await fleet.until(() => b.rt.cluster.owns(p), 10_000);
    expect(a.rt.cluster.owns(p)).toBe(false);
    await fleet.until(() => eventsOf(id).length === 2); // b settled the build
    // a's build ends while a does not know it lost the partition: its store waits, then is refused.
    slow.resolve(built);
    await fleet.advance(100);
    a.clock.resume();
    await fleet.until(() => a.fencing.counts.refused_writes === 1);
    expect(eventsOf(id).map((e) => [e.event.event_type, writer(e)])).toEqual([
      ['PackageBuildStarted', 'a'],
      ['PackageBuilt', 'b'],
    ]);
    expect(a.fencing.counts).toMatchObject({ conflicts: 0, fenced_writes: 0 });
    expect(a.rt.hooks.counts.lost).toBeGreaterThanOrEqual(1);
  });

  it('lets a store wait while a renewal is late, and stores it once the renewal is acknowledged', async () => {
    fleet = new Fleet();
    const a: Instance = await fleet.start('a');
    await fleet.until(() => fleet.settled());
    const created = a.send('t.cmd.module.create', { name: 'late', module: body() });
    await fleet.until(answered(created));
    a.conn.cut();
    await fleet.advance(2_700); // past lease − margin: fenced
    const p = fleet.partitionOf(namedId('module', 'late'));
    expect(a.rt.cluster.owns(p)).toBe(false);
    expect(a.rt.cluster.holds(p)).toBe(true);
    const updated = a.send('t.cmd.module.update', { name: 'late', module: body(1) });
    await fleet.advance(200);
    expect(updated.answers).toEqual([]);
    a.conn.restore();
    await fleet.until(answered(updated));
    expect(updated.answers[0]).toMatchObject({ status: 'ok', version: 2 });
    expect(a.fencing.counts).toMatchObject({ conflicts: 0, refused_writes: 0 });
  });
});
