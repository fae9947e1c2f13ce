/**
 * Claims, renewals, handoff and takeover of partitions, in virtual time (SimulatedClock +
 * the in-memory KV twin). After every step of every test, `sim.advance` checks that no
 * partition is owned by two instances at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterConfigError, MemoryKvServer, startCluster } from '../../../src/cluster/index.js';
import { loads, settled, simulation, type Simulation } from './sim.js';

let sim: Simulation | undefined;
afterEach(async () => {
  await sim?.stopAll();
  sim = undefined;
});

describe('cluster ownership', () => {
  it('a lone instance claims every partition at start and renews them', async () => {
    sim = simulation({ partitions: 16 });
    const a = await sim.start('a');
    expect(settled(sim, ['a'], 16)).toBe(true);
    expect(a.cluster.stats()).toMatchObject({ members_seen: 1, partitions_owned: 16, claims: 16, takeovers: 0 });
    await sim.advance(10_000);
    expect(settled(sim, ['a'], 16)).toBe(true);
    expect(a.cluster.stats().self_fenced).toBe(0);
    const acquired = sim.events.filter((e) => e.hook === 'acquired');
    expect(acquired).toHaveLength(16);
    expect(acquired.every((e) => e.info && 'takeover' in e.info && !e.info.takeover && e.info.epoch === 1)).toBe(true);
  });

  it('starts when the first watches of the bucket get no answer (a new replicated bucket without a leader yet)', async () => {
    sim = simulation({ partitions: 16, kvTimeoutMs: 10_000 });
    const conn = sim.server.connect();
    conn.failNextWatches(2);
    let started = false;
    const starting = sim.start('a', { kv: conn }).then(() => (started = true));
    const took = await sim.until(() => started, 60_000, 100);
    await starting;
    expect(took).toBeGreaterThanOrEqual(20_000);
    expect(settled(sim, ['a'], 16)).toBe(true);
    expect(sim.instances.get('a')!.cluster.stats().watch_restarts).toBe(2);
  });

  it('two instances split the partitions evenly and agree on every owner', async () => {
    sim = simulation({ partitions: 16 });
    await sim.start('a');
    await sim.start('b');
    await sim.until(() => settled(sim!, ['a', 'b'], 16), 5_000);
    expect([...loads(sim).values()].sort()).toEqual([8, 8]);
  });

  it('hands partitions to a member that joins: release hook first, then the newcomer claims them (no takeover)', async () => {
    sim = simulation({ partitions: 16, releaseMs: 50 });
    await sim.start('a');
    const t0 = sim.clock.now();
    await sim.start('b');
    const took = await sim.until(() => settled(sim!, ['a', 'b'], 16), 5_000);
    const releases = sim.events.filter((e) => e.hook === 'release');
    const gained = sim.events.filter((e) => e.hook === 'acquired' && e.instance === 'b');
    expect(releases.every((e) => e.instance === 'a')).toBe(true);
    expect(releases.map((e) => e.partition).sort()).toEqual(gained.map((e) => e.partition).sort());
    for (const g of gained) {
      expect(g.info).toMatchObject({ previousOwner: 'a', takeover: false, epoch: 2 });
    }
    expect(sim.instances.get('a')?.cluster.stats().handoffs).toBe(gained.length);
    console.log(
      `[cluster sim] join: ${gained.length} of 16 partitions handed a→b in ${took} virtual ms after b started at ${t0} ms (release hook 50 ms)`,
    );
  });

  it('a member that leaves hands every partition off and removes itself', async () => {
    sim = simulation({ partitions: 16 });
    await sim.start('a');
    await sim.start('b');
    const c = await sim.start('c');
    await sim.until(() => settled(sim!, ['a', 'b', 'c'], 16), 5_000);
    const hadC = [...sim.owners()].filter(([, who]) => who[0] === 'c').map(([p]) => p);
    const before = sim.events.length;
    const leaving = c.cluster.leave();
    const took = await sim.until(() => settled(sim!, ['a', 'b'], 16), 5_000);
    await leaving;
    const gained = sim.events.slice(before).filter((e) => e.hook === 'acquired');
    console.log(`[cluster sim] leave: ${hadC.length} partitions handed off in ${took} virtual ms`);
    expect(gained.map((e) => e.partition).sort()).toEqual([...hadC].sort());
    expect(gained.every((e) => e.info && 'takeover' in e.info && e.info.takeover === false && e.info.previousOwner === 'c')).toBe(true);
    sim.instances.delete('c');
    await sim.advance(100);
    expect(
      sim.instances
        .get('a')
        ?.cluster.members()
        .map((m) => m.id),
    ).toEqual(['a', 'b']);
  });

  it('takes over the partitions of a crashed member one lease after its last renewal (takeover)', async () => {
    sim = simulation({ partitions: 16, leaseMs: 3000 });
    await sim.start('a');
    await sim.start('b');
    const c = await sim.start('c');
    await sim.until(() => settled(sim!, ['a', 'b', 'c'], 16), 5_000);
    const hadC = [...sim.owners()].filter(([, who]) => who[0] === 'c').map(([p]) => p);
    await sim.advance(500);
    const before = sim.events.length;
    await c.cluster.stop();
    sim.instances.delete('c');
    const took = await sim.until(() => settled(sim!, ['a', 'b'], 16), 10_000);
    const gained = sim.events.slice(before).filter((e) => e.hook === 'acquired');
    expect(gained.map((e) => e.partition).sort()).toEqual([...hadC].sort());
    expect(gained.every((e) => e.info && 'takeover' in e.info && e.info.takeover && e.info.previousOwner === 'c')).toBe(true);
    // Its last renewal was at most a heartbeat before the crash; nobody claims before a lease has passed.
    expect(took).toBeGreaterThanOrEqual(3000 - 1000);
    expect(took).toBeLessThanOrEqual(3000 + 20);
    console.log(`[cluster sim] crash: ${hadC.length} partitions taken over ${took} virtual ms after the crash (lease 3000 ms)`);
  });
});

describe('cluster settings', () => {
  it('records the partition count at first start and refuses a different one with what to set', async () => {
    const server = new MemoryKvServer();
    const a = await startCluster({ kv: server.connect(), prefix: 'nix', instanceId: 'a', partitions: 64 });
    await a.stop();
    const err = await startCluster({ kv: server.connect(), prefix: 'nix', instanceId: 'b', partitions: 32 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterConfigError);
    expect((err as Error).message).toMatch(/NIX_PARTITIONS=32, but this deployment was started with 64 partitions.*set NIX_PARTITIONS=64/s);
    expect((err as ClusterConfigError).setting).toBe('NIX_PARTITIONS');
    const again = await startCluster({ kv: server.connect(), prefix: 'nix', instanceId: 'b', partitions: 64 });
    await again.stop();
  });

  it('refuses a lease shorter than 300 ms, saying what to set', async () => {
    const err = await startCluster({ kv: new MemoryKvServer().connect(), prefix: 'nix', instanceId: 'a', leaseMs: 200 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ClusterConfigError);
    expect((err as Error).message).toMatch(/NIX_LEASE_MS=200 is too short.*at least 300/);
  });

  it('refuses a heartbeat slower than a third of the lease', async () => {
    const err = await startCluster({
      kv: new MemoryKvServer().connect(),
      prefix: 'nix',
      instanceId: 'a',
      leaseMs: 3000,
      heartbeatMs: 1500,
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/at least three times per lease.*at most 1000 ms/);
  });

  it('refuses an instance id that is not one subject token', async () => {
    const err = await startCluster({ kv: new MemoryKvServer().connect(), prefix: 'nix', instanceId: 'a.b' }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/one subject token/);
  });
});
