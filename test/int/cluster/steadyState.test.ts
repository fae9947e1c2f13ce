/**
 * Three service processes on a three-node NATS cluster (R3), no faults (SPEC §9): with
 * partition routing, ~200 cmd/s over 500 aggregates store with zero optimistic-concurrency
 * conflicts between instances; with routing off (the queue-group behaviour before SPEC §9,
 * `CIM_DOMAIN_NIX_ROUTING=off`, for this comparison only) the same load meets many. Both stay
 * correct (every command ok, stored once, gapless, on its seed subject). Also the cost of the
 * forwarding hop: command p50 sent straight to the owner and through one other instance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namedId } from '../../../src/domain/ids.js';
import { partitionOf } from '../../../src/cluster/index.js';
import { readClusterBucket } from '../../../src/cluster/index.js';
import { subjectsFor } from '../../../src/domain/subjects.js';
import { ClusterLoad, auditLoad, readStream, watchSeeds } from '../../support/clusterLoad.js';
import { startNatsCluster, type NatsCluster } from '../../support/natsCluster.js';
import { uniquePrefix } from '../../support/service.js';
import { killAllServiceProcesses } from '../../support/serviceProcess.js';
import { clusterClient, owners, percentile, startMember, stoppedCounters, waitSpread, type FleetSettings, type Member } from '../../support/serviceFleet.js';

let nats: NatsCluster;

beforeAll(async () => {
  nats = await startNatsCluster();
}, 60_000);

afterAll(async () => {
  await killAllServiceProcesses();
  await nats?.dispose();
});

const COMMANDS = 2_400; // 12 s at 200 cmd/s

async function runSteady(routing: boolean): Promise<{ conflicts: number; forwarded: number; p50: number; retried: number }> {
  const settings: FleetSettings = {
    prefix: uniquePrefix(routing ? 'steady' : 'qgroup'),
    partitions: 64,
    leaseMs: 3_000,
    env: routing ? {} : { CIM_DOMAIN_NIX_ROUTING: 'off' },
  };
  const members: Member[] = await Promise.all(['s1', 's2', 's3'].map((l) => startMember(nats, settings, l)));
  const nc = await clusterClient(nats);
  try {
    await waitSpread(nc, settings, members.map((m) => m.instanceId));
    const seeds = watchSeeds(nc, settings.prefix);
    const load = new ClusterLoad(nc, { prefix: settings.prefix, aggregates: 500, rate: 200 });
    load.start();
    await expect.poll(() => load.records.filter((r) => r.reply).length, { timeout: 60_000, interval: 100 }).toBeGreaterThanOrEqual(COMMANDS);
    await load.stop();
    const stops = await Promise.all(members.map((m) => m.proc.stop()));
    expect(stops.map((s) => s.code)).toEqual([0, 0, 0]);
    const counters = members.map((m) => stoppedCounters(m.proc));
    const events = await readStream(nc, settings.prefix);
    await nc.flush();
    const problems = auditLoad(load, events, seeds.ids, { owners: routing });
    expect(problems.slice(0, 20), `${problems.length} problems`).toEqual([]);
    const latencies = load.records.filter((r) => r.answeredAt !== undefined && r.attempts === 1).map((r) => r.answeredAt! - r.sentAt);
    return {
      conflicts: counters.reduce((n, c) => n + Number(c?.['conflicts'] ?? Number.NaN), 0),
      forwarded: counters.reduce((n, c) => n + Number((c?.['router'] as Record<string, number> | undefined)?.['forwarded'] ?? 0), 0),
      p50: percentile(latencies, 50),
      retried: load.retried().length,
    };
  } finally {
    await nc.close();
  }
}

describe('several instances, steady state', () => {
  it('meets no optimistic-concurrency conflict between instances with routing, where the queue group alone meets many', { timeout: 300_000 }, async () => {
    const routed = await runSteady(true);
    const plain = await runSteady(false);
    console.log(
      `[cluster figures] steady state, 3 instances, ${COMMANDS} module commands at 200 cmd/s over 500 aggregates: ` +
        `conflicts with routing ${routed.conflicts} (forwarded ${routed.forwarded}, command p50 ${routed.p50} ms), ` +
        `without routing ${plain.conflicts} (command p50 ${plain.p50} ms)`,
    );
    expect(routed.conflicts).toBe(0);
    expect(routed.forwarded).toBeGreaterThan(0);
    expect(plain.conflicts).toBeGreaterThan(0);
  });

  it('costs one forwarding hop: command p50 straight to the owner and through another instance', { timeout: 180_000 }, async () => {
    const settings: FleetSettings = { prefix: uniquePrefix('hop'), partitions: 64, leaseMs: 3_000 };
    const members = await Promise.all(['s1', 's2'].map((l) => startMember(nats, settings, l)));
    const nc = await clusterClient(nats);
    try {
      await waitSpread(nc, settings, members.map((m) => m.instanceId));
      const subjects = subjectsFor(settings.prefix);
      const state = (await readClusterBucket(nc, settings.prefix))!;
      const id = namedId('module', 'hop');
      const owner = owners(state).get(partitionOf(id, settings.partitions))!;
      const other = members.map((m) => m.instanceId).find((x) => x !== owner)!;
      const send = async (subject: string, n: number): Promise<number> => {
        const started = performance.now();
        const reply = (await nc.request(subject, JSON.stringify({ name: 'hop', module: { options: {}, config: { n }, imports: [] } }), { timeout: 5_000 })).json<Record<string, unknown>>();
        const ms = performance.now() - started;
        expect(reply['status'], JSON.stringify(reply)).toBe('ok');
        return ms;
      };
      await send(subjects.command('module', 'create'), 0);
      // As a command arrives at an instance: on its route subject (the owner's: no hop; another's: one hop to the owner).
      const direct: number[] = [];
      const hop: number[] = [];
      for (let i = 1; i <= 600; i++) {
        if (i % 2) direct.push(await send(subjects.routed(owner, 0, 'module', 'update'), i));
        else hop.push(await send(subjects.routed(other, 0, 'module', 'update'), i));
      }
      const [d, h] = [percentile(direct.slice(50), 50), percentile(hop.slice(50), 50)];
      console.log(
        `[cluster figures] forwarding hop: command p50 ${d.toFixed(3)} ms at the owner, ${h.toFixed(3)} ms through another instance (+${(h - d).toFixed(3)} ms); ` +
          `p90 ${percentile(direct.slice(50), 90).toFixed(3)} / ${percentile(hop.slice(50), 90).toFixed(3)} ms`,
      );
      expect(h).toBeGreaterThan(0);
      await Promise.all(members.map((m) => m.proc.stop()));
    } finally {
      await nc.close();
    }
  });
});
