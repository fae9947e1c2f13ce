/**
 * The cluster layer on a real three-node nats-server 2.9.10 cluster (R3 bucket), with several
 * instances in this process: spread and single ownership, takeover after an instance dies,
 * handoff on join and leave, a NATS node lost, an instance paused past its lease. A sampler
 * checks every 5 ms that no partition is owned twice. Measured figures are printed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { ClusterConfigError, startCluster } from '../../../src/cluster/index.js';
import { startNatsCluster, type NatsCluster } from '../../support/natsCluster.js';
import { fleet, loadsOf, spread, uniquePrefix, type Fleet } from './support.js';

const P = 32;
const LEASE = 3000;

let nats: NatsCluster;
let f: Fleet | undefined;

beforeAll(async () => {
  nats = await startNatsCluster();
}, 60_000);

afterEach(async () => {
  await f?.dispose();
  f = undefined;
});

afterAll(async () => {
  await nats?.dispose();
});

const poll = { timeout: 20_000, interval: 20 };

async function threeInstances(prefix = uniquePrefix('cl')): Promise<Fleet> {
  const fl = fleet(nats, prefix, { partitions: P, leaseMs: LEASE });
  f = fl;
  const t0 = performance.now();
  await fl.start('a');
  await fl.start('b');
  await fl.start('c');
  await expect.poll(() => fl.settled(['a', 'b', 'c']), poll).toBe(true);
  console.log(
    `[cluster int] three instances settled ${(performance.now() - t0).toFixed(0)} ms after the first started; loads ${JSON.stringify(loadsOf(fl))}`,
  );
  return fl;
}

describe('cluster on a three-node NATS cluster', () => {
  it('spreads the partitions over three instances (±1), each owned exactly once, in an R3 bucket', async () => {
    const prefix = uniquePrefix('cl');
    const fl = await threeInstances(prefix);
    const loads = Object.values(loadsOf(fl));
    expect(loads).toHaveLength(3);
    expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(1);
    const nc = await connect({ servers: nats.urls });
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(`KV_${prefix.toUpperCase()}_CLUSTER`);
    await nc.close();
    expect(info.config.num_replicas).toBe(3);
    expect(fl.violations).toEqual([]);
    expect(
      fl.instances
        .get('a')
        ?.cluster.members()
        .filter((m) => m.live),
    ).toHaveLength(3);
  });

  it('hands the partitions of an instance that dies to the others within lease + 1 s', async () => {
    const fl = await threeInstances();
    const hadC = [...fl.owners()].filter(([, who]) => who[0] === 'c').map(([p]) => p);
    const before = fl.events.length;
    const diedAt = performance.now();
    await fl.crash('c');
    await expect.poll(() => fl.settled(['a', 'b']), { timeout: LEASE + 5_000, interval: 10 }).toBe(true);
    // c's partitions are taken over; the new assignment of two may also move a few between a and b (handoffs).
    const gained = fl.events.slice(before).filter((e) => e.hook === 'acquired' && e.takeover);
    expect(gained.map((e) => e.partition).sort((x, y) => x - y)).toEqual([...hadC].sort((x, y) => x - y));
    expect(gained.every((e) => e.previousOwner === 'c')).toBe(true);
    const last = Math.max(...gained.map((e) => e.at)) - diedAt;
    console.log(
      `[cluster int] death of an instance → all ${hadC.length} of its partitions claimed: ${last.toFixed(0)} ms (lease ${LEASE} ms); ` +
        `per partition ${spread(gained.map((e) => e.at - diedAt))}`,
    );
    expect(last).toBeLessThanOrEqual(LEASE + 1_000);
    expect(fl.violations).toEqual([]);
  }, 60_000);

  it('hands partitions over to an instance that joins, and back when it leaves (release before claim, no takeover)', async () => {
    const fl = await threeInstances();
    const before = fl.events.length;
    const joinAt = performance.now();
    await fl.start('d');
    await expect.poll(() => fl.settled(['a', 'b', 'c', 'd']), poll).toBe(true);
    const joined = performance.now() - joinAt;
    const evs = fl.events.slice(before);
    const gained = evs.filter((e) => e.hook === 'acquired');
    const released = new Map(evs.filter((e) => e.hook === 'release').map((e) => [e.partition, e.at]));
    expect(gained.length).toBeGreaterThanOrEqual(P / 4 - 1);
    expect(gained.every((e) => !e.takeover && released.has(e.partition) && (released.get(e.partition) ?? Infinity) <= e.at)).toBe(true);
    console.log(
      `[cluster int] join: ${gained.length} partitions moved, settled ${joined.toFixed(0)} ms after the 4th started; ` +
        `per partition release hook → claimed ${spread(gained.map((e) => e.at - (released.get(e.partition) ?? e.at)))}`,
    );

    const beforeLeave = fl.events.length;
    const leaveAt = performance.now();
    const d = fl.instances.get('d');
    await d?.cluster.leave();
    const leaveDone = performance.now() - leaveAt;
    fl.instances.delete('d');
    await d?.nc.close();
    await expect.poll(() => fl.settled(['a', 'b', 'c']), poll).toBe(true);
    const back = fl.events.slice(beforeLeave).filter((e) => e.hook === 'acquired');
    expect(back.every((e) => !e.takeover)).toBe(true);
    console.log(
      `[cluster int] leave: leave() returned after ${leaveDone.toFixed(0)} ms, ${back.length} partitions re-claimed ${spread(back.map((e) => e.at - leaveAt))} after it began`,
    );
    expect(fl.violations).toEqual([]);
  }, 60_000);

  it('keeps ownership working when the NATS node leading the bucket is killed, and after it returns', async () => {
    const prefix = uniquePrefix('cl');
    const fl = await threeInstances(prefix);
    const stream = `KV_${prefix.toUpperCase()}_CLUSTER`;
    const leader = await nats.streamLeader(stream);
    expect(leader).toBeDefined();
    const beats = (): number[] => [...fl.instances.values()].map((i) => i.cluster.stats().heartbeats);
    const sum = (k: 'self_fenced' | 'claims_lost' | 'claims' | 'watch_restarts'): number =>
      [...fl.instances.values()].reduce((n, i) => n + i.cluster.stats()[k], 0);
    const b0 = beats();
    const claims0 = sum('claims');
    // When was any partition without an owner serving it (sampled every 5 ms)?
    let firstGap: number | undefined;
    let lastGap: number | undefined;
    const gapSampler = setInterval(() => {
      if (fl.owners().size < P) {
        firstGap ??= performance.now();
        lastGap = performance.now();
      }
    }, 5);
    const killedAt = performance.now();
    await nats.kill(leader ?? 'n1');
    // Through the election the owners may fence (their renewals wait for a leader), never overlap.
    // Every instance writes again (three heartbeats each past the kill), and all partitions are served:
    await expect
      .poll(() => beats().every((b, i) => b >= (b0[i] ?? 0) + 3) && fl.settled(['a', 'b', 'c']), { timeout: 30_000, interval: 10 })
      .toBe(true);
    clearInterval(gapSampler);
    const newLeader = await nats.streamLeader(stream);
    expect(newLeader).not.toBe(leader);
    const gap =
      firstGap === undefined || lastGap === undefined
        ? 'none'
        : `from ${(firstGap - killedAt).toFixed(0)} to ${(lastGap - killedAt).toFixed(0)} ms after the kill`;
    console.log(
      `[cluster int] NATS node ${leader} (bucket leader) killed, new leader ${newLeader}: partitions unserved ${gap}; ` +
        `${sum('self_fenced')} partition leases fenced, ${sum('claims_lost')} lost, ${sum('claims') - claims0} claimed anew, ${sum('watch_restarts')} watches restarted`,
    );
    expect(sum('claims_lost')).toBe(0);
    const renewals = (): number => beats().reduce((a, b) => a + b, 0);
    await nats.restart(leader ?? 'n1');
    const r1 = renewals();
    await expect.poll(() => renewals() >= r1 + 6 && fl.settled(['a', 'b', 'c']), poll).toBe(true);
    expect(fl.violations).toEqual([]);
  }, 90_000);

  it('rides out a graceful stop (SIGTERM) of the NATS node leading the bucket, as in a rolling restart of NATS', async () => {
    const prefix = uniquePrefix('cl');
    const fl = await threeInstances(prefix);
    const stream = `KV_${prefix.toUpperCase()}_CLUSTER`;
    const leader = await nats.streamLeader(stream);
    const beats = (): number[] => [...fl.instances.values()].map((i) => i.cluster.stats().heartbeats);
    const fenced = (): number => [...fl.instances.values()].reduce((n, i) => n + i.cluster.stats().self_fenced, 0);
    const lost = (): number => [...fl.instances.values()].reduce((n, i) => n + i.cluster.stats().claims_lost, 0);
    const b0 = beats();
    const f0 = fenced();
    const stoppedAt = performance.now();
    await nats.stop(leader ?? 'n1');
    const exited = performance.now() - stoppedAt;
    await expect.poll(() => beats().every((b, i) => b >= (b0[i] ?? 0) + 3), { timeout: 30_000, interval: 10 }).toBe(true);
    await expect.poll(() => fl.settled(['a', 'b', 'c']), poll).toBe(true);
    console.log(
      `[cluster int] NATS node ${leader} (bucket leader) stopped gracefully (exited after ${exited.toFixed(0)} ms): ${fenced() - f0} partition ` +
        `leases ran out, ${lost()} lost; three more heartbeats from every instance within ${(performance.now() - stoppedAt).toFixed(0)} ms (heartbeat 1000 ms)`,
    );
    expect(lost()).toBe(0);
    await nats.restart(leader ?? 'n1');
    expect(fl.violations).toEqual([]);
  }, 90_000);

  it('fences an instance paused past its lease before the others claim, and takes it back in on resume', async () => {
    const fl = await threeInstances();
    const c = fl.instances.get('c');
    if (!c) throw new Error('no c');
    const hadC = [...fl.owners()].filter(([, who]) => who[0] === 'c').map(([p]) => p);
    const before = fl.events.length;
    const fencedAt = new Map<number, number>();
    const watch = setInterval(() => {
      for (const p of hadC) if (!fencedAt.has(p) && !c.cluster.owns(p)) fencedAt.set(p, performance.now());
    }, 2);
    const pausedAt = performance.now();
    c.clock.pause();
    const takeovers = (): typeof fl.events => fl.events.slice(before).filter((e) => e.hook === 'acquired' && e.takeover);
    await expect.poll(() => takeovers().length, { timeout: LEASE + 5_000, interval: 10 }).toBe(hadC.length);
    clearInterval(watch);
    const claims = takeovers();
    expect(claims.map((e) => e.partition).sort((x, y) => x - y)).toEqual([...hadC].sort((x, y) => x - y));
    const gaps = claims.map((e) => e.at - (fencedAt.get(e.partition) ?? Infinity));
    expect(Math.min(...gaps)).toBeGreaterThan(0);
    console.log(
      `[cluster int] paused instance: stopped serving ${spread(hadC.map((p) => (fencedAt.get(p) ?? 0) - pausedAt))} after the pause; ` +
        `others claimed ${spread(gaps)} after it had stopped (lease ${LEASE}, margin ${LEASE / 6})`,
    );
    c.clock.resume();
    await expect.poll(() => fl.settled(['a', 'b', 'c']), poll).toBe(true);
    expect(c.cluster.stats().claims_lost).toBe(hadC.length);
    expect(fl.violations).toEqual([]);
  }, 60_000);

  it('refuses to start with another partition count than the deployment recorded', async () => {
    const prefix = uniquePrefix('cl');
    const nc = await connect({ servers: nats.urls });
    const a = await startCluster({ nc, prefix, instanceId: 'a', partitions: 16, replicas: 3 });
    const err = await startCluster({ nc, prefix, instanceId: 'b', partitions: 8, replicas: 3 }).catch((e: unknown) => e);
    await a.stop();
    await nc.close();
    expect(err).toBeInstanceOf(ClusterConfigError);
    expect((err as Error).message).toMatch(/set NIX_PARTITIONS=16/);
  });

  it('refuses more replicas than the cluster has servers, saying what to set', async () => {
    const nc = await connect({ servers: nats.urls });
    const err = await startCluster({ nc, prefix: uniquePrefix('cl'), instanceId: 'a', replicas: 5 }).catch((e: unknown) => e);
    await nc.close();
    expect(err).toBeInstanceOf(ClusterConfigError);
    expect((err as Error).message).toMatch(
      /NIX_REPLICAS=5 is larger than the NATS cluster.*no suitable peers for placement.*Set NIX_REPLICAS to at most/s,
    );
  });
});
