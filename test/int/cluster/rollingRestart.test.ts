/**
 * A rolling restart with real processes (SPEC §9): three service processes on a three-node NATS
 * cluster under ~200 cmd/s over 500 aggregates; each instance in turn gets SIGTERM (it hands
 * its partitions off before it goes) and is started again in its own directory. No command
 * fails, and the audit of the stream holds. Prints the handoff time per partition (the old
 * owner starts handing off → the new owner has claimed it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterLoad, auditLoad, readStream, watchSeeds } from '../../support/clusterLoad.js';
import { startNatsCluster, type NatsCluster } from '../../support/natsCluster.js';
import { uniquePrefix } from '../../support/service.js';
import { killAllServiceProcesses, type ServiceProcess } from '../../support/serviceProcess.js';
import {
  clusterClient,
  percentile,
  restartMember,
  startMember,
  stoppedCounters,
  waitSpread,
  type FleetSettings,
  type Member,
} from '../../support/serviceFleet.js';

let nats: NatsCluster;

beforeAll(async () => {
  nats = await startNatsCluster();
}, 60_000);

afterAll(async () => {
  await killAllServiceProcesses();
  await nats?.dispose();
});

/** Per handed-off partition: ms from 'handing partition off' at the old owner to 'partition claimed' at the new one. */
function handoffTimes(procs: readonly ServiceProcess[], ids: ReadonlyMap<ServiceProcess, string>): number[] {
  const claims = procs.flatMap((p) =>
    p.lines.filter((l) => l.msg === 'partition claimed' && l['takeover'] === false).map((l) => ({ partition: l['partition'], from: l['previous_owner'], at: Date.parse(String(l['time'])) })),
  );
  const out: number[] = [];
  for (const p of procs) {
    for (const l of p.lines.filter((x) => x.msg === 'handing partition off')) {
      const at = Date.parse(String(l['time']));
      const claim = claims.find((c) => c.partition === l['partition'] && c.from === ids.get(p) && c.at >= at);
      if (claim) out.push(claim.at - at);
    }
  }
  return out;
}

describe('several instances: rolling restart', () => {
  it('fails no command while every instance is stopped (SIGTERM) and started again in turn', { timeout: 400_000 }, async () => {
    const settings: FleetSettings = { prefix: uniquePrefix('roll'), partitions: 64, leaseMs: 3_000 };
    const members: Member[] = await Promise.all(['s1', 's2', 's3'].map((l) => startMember(nats, settings, l)));
    const procs: ServiceProcess[] = [];
    const ids = new Map<ServiceProcess, string>();
    const remember = (m: Member): void => {
      procs.push(m.proc);
      ids.set(m.proc, m.instanceId);
    };
    members.forEach(remember);
    const nc = await clusterClient(nats);
    try {
      await waitSpread(nc, settings, members.map((m) => m.instanceId));
      const seeds = watchSeeds(nc, settings.prefix);
      const load = new ClusterLoad(nc, { prefix: settings.prefix, aggregates: 500, rate: 200, requestTimeoutMs: 1_000 });
      const answered = () => load.records.filter((r) => r.reply).length;
      load.start();
      await expect.poll(answered, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(600);
      const counters: Array<Record<string, unknown>> = [];
      for (const m of members) {
        const exit = await m.proc.stop(30_000);
        expect(exit.code).toBe(0);
        counters.push(stoppedCounters(m.proc)!);
        await waitSpread(nc, settings, members.filter((x) => x !== m).map((x) => x.instanceId));
        await restartMember(nats, settings, m);
        remember(m);
        await waitSpread(nc, settings, members.map((x) => x.instanceId));
        const now = answered();
        await expect.poll(answered, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(now + 400);
      }
      await load.stop();
      const stops = await Promise.all(members.map((m) => m.proc.stop(30_000)));
      expect(stops.map((s) => s.code)).toEqual([0, 0, 0]);
      counters.push(...members.map((m) => stoppedCounters(m.proc)!));
      const events = await readStream(nc, settings.prefix);
      const problems = auditLoad(load, events, seeds.ids);
      const transient = load.records.flatMap((r) => r.transient);
      const handoffs = handoffTimes(procs, ids);
      console.log(
        `[cluster figures] rolling restart of 3 instances at 200 cmd/s: ${load.records.length} commands, ${load.failed().length} failed, ` +
          `${load.retried().length} retried (${['timeout', 'unavailable', 'no_responders'].map((k) => `${k} ${transient.filter((t) => t === k).length}`).join(', ')}); ` +
          `handoff per partition (${handoffs.length}): p50 ${percentile(handoffs, 50)} ms, p90 ${percentile(handoffs, 90)} ms, max ${Math.max(...handoffs)} ms; ` +
          `takeovers ${counters.reduce((n, c) => n + Number(c['takeovers']), 0)}, conflicts ${counters.reduce((n, c) => n + Number(c['conflicts']), 0)}`,
      );
      expect(load.failed()).toEqual([]);
      expect(problems.slice(0, 20), `${problems.length} problems`).toEqual([]);
      // Every partition moved by handoff, none by takeover (nobody waited for a lease to run out).
      expect(counters.reduce((n, c) => n + Number(c['takeovers']), 0)).toBe(0);
      expect(counters.reduce((n, c) => n + Number(c['conflicts']), 0)).toBe(0);
    } finally {
      await nc.close();
    }
  });
});
