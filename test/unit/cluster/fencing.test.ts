/**
 * Self-fencing and the faults around it, in virtual time: an owner cut off from the bucket, a
 * process stopped (SIGSTOP) past its lease, answers lost after the write was applied, a
 * stalled watch, a release hook that never finishes. `sim.advance` checks after every 10 ms
 * step that no partition has two owners.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NoOwnerError } from '../../../src/cluster/index.js';
import { settled, simulation, type SimInstance, type Simulation } from './sim.js';

let sim: Simulation | undefined;
afterEach(async () => {
  await sim?.stopAll();
  sim = undefined;
});

const ownedBy = (s: Simulation, id: string): number[] => [...s.owners()].filter(([, who]) => who.includes(id)).map(([p]) => p);

async function threeSettled(leaseMs = 3000, kvTimeoutMs = 500): Promise<{ s: Simulation; c: SimInstance }> {
  const s = simulation({ partitions: 16, leaseMs, kvTimeoutMs });
  sim = s;
  await s.start('a');
  await s.start('b');
  const c = await s.start('c');
  await s.until(() => settled(s, ['a', 'b', 'c'], 16), 5_000);
  await s.advance(1_000);
  return { s, c };
}

describe('cluster self-fencing', () => {
  it('an owner cut off from the bucket stops owning before anyone else claims its partitions', async () => {
    const { s, c } = await threeSettled();
    const hadC = ownedBy(s, 'c');
    expect(hadC.length).toBeGreaterThan(0);
    const cutAt = s.clock.now();
    c.conn.cut();
    const fencedAt = new Map<number, number>();
    const claimedAt = new Map<number, number>();
    const start = s.events.length;
    while (claimedAt.size < hadC.length) {
      await s.advance(10);
      for (const p of hadC) if (!fencedAt.has(p) && !c.cluster.owns(p)) fencedAt.set(p, s.clock.now());
      for (const e of s.events.slice(start)) if (e.hook === 'acquired' && e.instance !== 'c') claimedAt.set(e.partition, e.at);
      if (s.clock.now() - cutAt > 10_000) expect.fail('the others did not take over within 10 s');
    }
    const gaps = hadC.map((p) => (claimedAt.get(p) ?? 0) - (fencedAt.get(p) ?? Infinity));
    expect(Math.min(...gaps)).toBeGreaterThan(0);
    // Lease 3000, margin 500: c stops at most 2500 ms after its last acknowledged renewal.
    expect(Math.max(...hadC.map((p) => (fencedAt.get(p) ?? 0) - cutAt))).toBeLessThanOrEqual(2500);
    expect(c.cluster.stats().self_fenced).toBe(hadC.length);
    // Fenced, it keeps trying; back in touch, its renewals lose the compare-and-set: lost, to whom.
    await s.advance(3_000);
    expect(s.events.filter((e) => e.hook === 'lost')).toEqual([]);
    c.conn.restore();
    await s.advance(1_000);
    const lost = s.events.filter((e) => e.hook === 'lost' && e.instance === 'c');
    expect(lost.map((e) => e.partition).sort()).toEqual([...hadC].sort());
    expect(lost.every((e) => e.info && 'by' in e.info && (e.info.by === 'a' || e.info.by === 'b'))).toBe(true);
    console.log(
      `[cluster sim] cut-off owner: fenced ${Math.min(...hadC.map((p) => (fencedAt.get(p) ?? 0) - cutAt))}–${Math.max(...hadC.map((p) => (fencedAt.get(p) ?? 0) - cutAt))} ms after the cut; ` +
        `others claimed ${Math.min(...gaps)}–${Math.max(...gaps)} ms after it stopped (lease 3000, margin 500)`,
    );
  });

  it('an owner whose lease writes fail while its heartbeats get through stops serving before the next owner claims', async () => {
    const { s, c } = await threeSettled();
    const hadC = ownedBy(s, 'c');
    // c leaves (so the others are the assigned owners) but none of its partition writes land:
    // the others may claim only a full lease after the last renewal they saw, c stops before.
    c.conn.failWrites((key) => key.startsWith('part.'));
    const start = s.events.length;
    const fencedAt = new Map<number, number>();
    const leaving = c.cluster.leave();
    while (s.events.slice(start).filter((e) => e.hook === 'acquired' && e.instance !== 'c').length < hadC.length) {
      await s.advance(10);
      for (const p of hadC) if (!fencedAt.has(p) && !c.cluster.owns(p)) fencedAt.set(p, s.clock.now());
      if (s.events.length - start > 100 || fencedAt.size > 100) break;
    }
    const claims = s.events.slice(start).filter((e) => e.hook === 'acquired' && e.instance !== 'c');
    expect(claims.map((e) => e.partition).sort()).toEqual([...hadC].sort());
    expect(Math.min(...claims.map((e) => e.at - (fencedAt.get(e.partition) ?? Infinity)))).toBeGreaterThanOrEqual(500);
    expect(claims.every((e) => e.info && 'takeover' in e.info && e.info.takeover)).toBe(true);
    await s.advance(15_000);
    await leaving;
  });

  it('a short cut (past the fence, within the lease) fences, then the next renewal resumes ownership without a handoff', async () => {
    // A KV request waits up to 1 s: the renewal sent 2 s after the cut is still pending at restore.
    const { s, c } = await threeSettled(3000, 1000);
    const hadC = ownedBy(s, 'c');
    // Right after a heartbeat: the last renewal was acknowledged just now.
    const start = s.events.length;
    c.conn.cut();
    await s.advance(2_700);
    expect(hadC.every((p) => !c.cluster.owns(p))).toBe(true);
    c.conn.restore();
    await s.until(() => hadC.every((p) => c.cluster.owns(p)), 2_000);
    expect(s.events.slice(start)).toEqual([]);
    expect(c.cluster.stats()).toMatchObject({ claims_lost: 0 });
    expect(c.cluster.stats().self_fenced).toBeGreaterThan(0);
    await s.advance(5_000);
    expect(settled(s, ['a', 'b', 'c'], 16)).toBe(true);
  });

  it('after an outage of the bucket for everyone (no leader for two leases), owners renew and nobody takes anything over', async () => {
    const { s } = await threeSettled();
    const before = new Map([...s.owners()].map(([p, who]) => [p, who[0]]));
    const start = s.events.length;
    // The instances come back one after another, as their connections do.
    for (const inst of s.instances.values()) inst.conn.cut();
    await s.advance(6_000);
    expect(s.owners().size).toBe(0);
    for (const inst of s.instances.values()) {
      inst.conn.restore();
      await s.advance(300);
    }
    await s.until(() => settled(s, ['a', 'b', 'c'], 16), 5_000);
    expect(new Map([...s.owners()].map(([p, who]) => [p, who[0]]))).toEqual(before);
    expect(s.events.slice(start)).toEqual([]);
    for (const inst of s.instances.values()) expect(inst.cluster.stats()).toMatchObject({ claims_lost: 0, claim_conflicts: 0 });
  });

  it('adopts its own renewal whose answer was lost, and keeps the partition', async () => {
    const { s, c } = await threeSettled();
    const hadC = ownedBy(s, 'c');
    const start = s.events.length;
    c.conn.cut({ applyWrites: true });
    await s.advance(1_500);
    c.conn.restore();
    await s.advance(5_000);
    expect(ownedBy(s, 'c').sort()).toEqual([...hadC].sort());
    expect(c.cluster.stats().claims_lost).toBe(0);
    // Nobody claimed, lost or released anything: the applied renewals kept the lease alive for the others too.
    expect(s.events.slice(start)).toEqual([]);
  });

  it('a process stopped (SIGSTOP) past its lease is fenced, loses its partitions to takeovers, and rejoins on SIGCONT', async () => {
    const { s, c } = await threeSettled();
    const hadC = ownedBy(s, 'c');
    const start = s.events.length;
    c.clock.pause();
    c.conn.cut();
    await s.advance(6_000);
    expect(hadC.every((p) => !c.cluster.owns(p))).toBe(true);
    const takeovers = s.events.slice(start).filter((e) => e.hook === 'acquired');
    expect(takeovers.map((e) => e.partition).sort()).toEqual([...hadC].sort());
    expect(takeovers.every((e) => e.info && 'takeover' in e.info && e.info.takeover)).toBe(true);
    // SIGCONT: its renewals lose the compare-and-set; it drops the partitions and rejoins.
    c.conn.restore();
    c.clock.resume();
    await s.until(() => settled(s, ['a', 'b', 'c'], 16), 10_000);
    const lost = s.events.slice(start).filter((e) => e.hook === 'lost' && e.instance === 'c');
    expect(lost.length).toBe(hadC.length);
    expect(c.cluster.stats().claims_lost).toBe(hadC.length);
  });

  it('a stalled watch is restarted and never makes live members look dead', async () => {
    const { s } = await threeSettled();
    const a = s.instances.get('a');
    if (!a) throw new Error('no a');
    a.conn.stallWatches();
    await s.advance(12_000);
    expect(a.cluster.stats().watch_restarts).toBeGreaterThan(0);
    expect(a.cluster.stats().claim_conflicts).toBe(0);
    expect(settled(s, ['a', 'b', 'c'], 16)).toBe(true);
    expect(a.cluster.members().filter((m) => m.live)).toHaveLength(3);
  });

  it('a release hook that does not finish in time releases the partition unclean: the next owner settles it (takeover)', async () => {
    sim = simulation({ partitions: 4, leaseMs: 3000 });
    const s = sim;
    await s.start('a', { handoffTimeoutMs: 2_000, hooks: { release: () => new Promise<void>(() => undefined) } });
    await s.advance(100);
    const start = s.events.length;
    await s.start('b');
    await s.until(() => settled(s, ['a', 'b'], 4), 5_000);
    const gained = s.events.slice(start).filter((e) => e.hook === 'acquired' && e.instance === 'b');
    expect(gained).toHaveLength(2);
    expect(gained.every((e) => e.info && 'takeover' in e.info && e.info.takeover && e.info.previousOwner === 'a')).toBe(true);
    expect((gained[0]?.at ?? 0) - 100).toBeGreaterThanOrEqual(2_000);
  });
});

describe('cluster owners and members', () => {
  it('waitForOwner resolves with the owner, and with the successor of an owner named in exclude', async () => {
    const { s, c } = await threeSettled();
    const p = ownedBy(s, 'c')[0] ?? 0;
    const a = s.instances.get('a');
    if (!a) throw new Error('no a');
    expect(await a.cluster.waitForOwner(p, 100)).toBe('c');
    await c.cluster.stop();
    s.instances.delete('c');
    // Until the lease runs out a still names c; waiting for another owner gets c's successor.
    expect(a.cluster.ownerOf(p)).toBe('c');
    const waiting = a.cluster.waitForOwner(p, 5_000, 'c');
    await s.until(() => a.cluster.ownerOf(p) !== 'c', 4_000);
    expect(['a', 'b']).toContain(await waiting);
  });

  it('waitForOwner rejects with NoOwnerError when nobody can claim the partition in time', async () => {
    const { s, c } = await threeSettled();
    const p = ownedBy(s, 'c')[0] ?? 0;
    const a = s.instances.get('a');
    if (!a) throw new Error('no a');
    // c is fenced (cut off) and a cannot reach the bucket either: nobody can claim p.
    c.conn.cut();
    a.conn.cut();
    await s.advance(3_000);
    let settledAt: number | undefined;
    const outcome = a.cluster.waitForOwner(p, 500, 'c').then(
      () => 'resolved',
      (e: unknown) => {
        settledAt = s.clock.now();
        return e;
      },
    );
    await s.advance(490);
    expect(settledAt).toBeUndefined();
    await s.advance(20);
    expect(await outcome).toBeInstanceOf(NoOwnerError);
  });

  it('removes a crashed member from the bucket after ten leases', async () => {
    const { s, c } = await threeSettled(1_000);
    await c.cluster.stop();
    s.instances.delete('c');
    await s.advance(8_000);
    expect(
      s.instances
        .get('a')
        ?.cluster.members()
        .map((m) => m.id),
    ).toEqual(['a', 'b', 'c']);
    await s.advance(3_000);
    expect(
      s.instances
        .get('a')
        ?.cluster.members()
        .map((m) => m.id),
    ).toEqual(['a', 'b']);
    const removed = [...s.instances.values()].reduce((n, i) => n + i.cluster.stats().members_removed, 0);
    expect(removed).toBe(1);
  });
});
