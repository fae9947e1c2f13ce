/**
 * The cluster phase (`npm run bench -- --cluster`, SPEC §9): a three-node nats-server cluster
 * on loopback (routes, JetStream, R3) and real service processes with `NIX_REPLICAS=3`.
 *
 * 1. One instance: throughput (closed loop) and its CPU per command; two more join (the
 *    handoffs on join are timed); the same with three instances; the forwarding hop; a steady
 *    load of careful clients; then the same load while one instance stops (SIGTERM: handoffs on
 *    leave, no command may fail). The instances' counters (health, then their stop lines),
 *    read between these steps, give the conflicts of each step.
 *    The stopped instance starts again; then SIGKILL of one of the three under load, several
 *    trials (failover time; each killed instance starts again for the next).
 * 2. Three instances with routing off (the queue group alone): the same steady load, to count
 *    the conflicts routing avoids.
 */
import { startNatsCluster, type NatsCluster } from '../support/natsCluster.js';
import { uniquePrefix } from '../support/service.js';
import { killAllServiceProcesses } from '../support/serviceProcess.js';
import { clusterClient, type FleetSettings } from '../support/serviceFleet.js';
import { ROUTING_ENV } from '../../src/service.js';
import { clusterFigures } from './clusterFigures.js';
import { measureFailover, type FailoverPlan, type FailoverTrial } from './clusterFailover.js';
import { BenchFleet, grew, sumCounter, type HandoffTimes, type StopCounters } from './clusterFleet.js';
import { measureHop, measureThroughput, steadyLoad, type HopResult, type SteadyResult, type ThroughputRun } from './clusterScale.js';
import { BENCH_SERVICE_ENV, type BenchContext } from './context.js';
import type { Figure } from './figures.js';
import { LoadGenerator } from './loadGenerator.js';
import type { BenchSettings } from './options.js';

export interface ClusterBenchSettings {
  partitions: number;
  leaseMs: number;
  timeoutMs: number;
  throughput: { aggregates: number; window: number; warmupMs: number; durationMs: number };
  /** Commands at the owner and through another instance, each. */
  hopSamples: number;
  steady: { aggregates: number; rate: number; durationMs: number };
  /** Load while one instance is stopped (SIGTERM) half-way. */
  leaveMs: number;
  failover: FailoverPlan;
}

/** Sizes: the full run follows issue 14 (~200 cmd/s over 500 aggregates, the default lease); smoke takes seconds. */
export function clusterSettings(bench: BenchSettings): ClusterBenchSettings {
  if (bench.mode === 'smoke') {
    return {
      partitions: 16,
      leaseMs: 1_500,
      timeoutMs: 5_000,
      throughput: { aggregates: 40, window: 8, warmupMs: 300, durationMs: 700 },
      hopSamples: 20,
      steady: { aggregates: 40, rate: 100, durationMs: 1_500 },
      leaveMs: 1_000,
      failover: { trials: 1, aggregates: 40, rate: 100, beforeMs: 700, afterMs: 700 },
    };
  }
  return {
    partitions: 64,
    leaseMs: 3_000,
    timeoutMs: 10_000,
    throughput: { aggregates: 1_000, window: bench.commands.window, warmupMs: 3_000, durationMs: 20_000 },
    hopSamples: 1_000,
    steady: { aggregates: 500, rate: 200, durationMs: 16_000 },
    leaveMs: 6_000,
    failover: { trials: 3, aggregates: 500, rate: 200, beforeMs: 3_000, afterMs: 3_000 },
  };
}

export interface ClusterResults {
  settings: ClusterBenchSettings;
  throughput: ThroughputRun[];
  hop: HopResult;
  handoffs: HandoffTimes;
  /** Steady load with routing and without; load while one instance stops (SIGTERM). */
  steady: { routed: SteadyResult; unrouted: SteadyResult; leave: SteadyResult };
  failover: FailoverTrial[];
  /** Conflicts and fenced writes per segment (routing on: counters read before and after it; the others: over the instances' lives). */
  conflicts: Record<'throughput' | 'steady' | 'leave' | 'failover' | 'unrouted', { conflicts: number; fenced: number }>;
  /** What the instances logged when they stopped, per scenario. */
  counters: { routed: StopCounters[]; unrouted: StopCounters[] };
  figures: Figure[];
}

/** Service settings: like the bench's in-process service, but with the info log the handoff times are read from. */
const SERVICE_ENV: Record<string, string> = { ...BENCH_SERVICE_ENV, LOG_LEVEL: 'info' };

/** The cluster of the run in progress (so a signal handler can stop it). */
let active: NatsCluster | undefined;

/** SIGKILL the cluster phase's processes now (from a signal handler: synchronous). */
export function killClusterNow(): void {
  void killAllServiceProcesses();
  for (const n of active?.nodes ?? []) if (n.pid) process.kill(n.pid, 'SIGKILL');
}

export async function measureCluster(ctx: BenchContext): Promise<ClusterResults> {
  const s = clusterSettings(ctx.settings);
  ctx.log('cluster: starting a three-node nats-server cluster (loopback, JetStream, R3)');
  const nats = await startNatsCluster();
  active = nats;
  const fleets: BenchFleet[] = [];
  let load: LoadGenerator | undefined;
  const nc = await clusterClient(nats).catch(async (e: unknown) => {
    await nats.dispose();
    throw e;
  });
  try {
    load = await LoadGenerator.start(nats.urls[0]!, process.hrtime.bigint());
    const fleet = (label: string, env: Record<string, string> = {}): BenchFleet => {
      const settings: FleetSettings = { prefix: uniquePrefix(label), partitions: s.partitions, leaseMs: s.leaseMs, env: { ...SERVICE_ENV, ...env } };
      const f = new BenchFleet(nats, nc, settings);
      fleets.push(f);
      return f;
    };
    const plan = { names: 'agg', ...s.throughput, timeoutMs: s.timeoutMs };

    const scale = fleet('bscale');
    ctx.log('cluster: one instance');
    await scale.add(['s1']);
    ctx.log(`cluster: throughput with 1 instance, window ${plan.window}, ${plan.durationMs / 1000} s`);
    const one = await measureThroughput(load, scale, { ...plan, create: true });
    ctx.log('cluster: two more instances join');
    await scale.add(['s2', 's3']);
    await scale.balanced();
    const c0 = await scale.counters();
    ctx.log(`cluster: throughput with 3 instances, window ${plan.window}, ${plan.durationMs / 1000} s`);
    const three = await measureThroughput(load, scale, { ...plan, create: false });
    ctx.log(`cluster: forwarding hop, ${s.hopSamples} commands each way`);
    const hop = await measureHop(scale, s.hopSamples, s.timeoutMs);
    await scale.balanced();
    const c1 = await scale.counters();
    ctx.log(`cluster: steady load with routing, ${s.steady.rate} cmd/s for ${s.steady.durationMs / 1000} s`);
    const routed = await steadyLoad(scale, { names: 'steady', ...s.steady });
    const c2 = await scale.counters();
    ctx.log(`cluster: load while one instance stops (SIGTERM), ${s.leaveMs / 1000} s`);
    const leave = await steadyLoad(scale, {
      names: 'leave',
      ...s.steady,
      durationMs: s.leaveMs,
      midway: async () => {
        await scale.stop(scale.live()[2]!);
      },
    });
    const c3 = await scale.counters();

    ctx.log('cluster: the stopped instance starts again, for the failover trials');
    await scale.restart(scale.members[2]!);
    const c4 = await scale.counters();
    const failover = await measureFailover(scale, s.failover, ctx.log);
    await scale.stopAll();
    const c5 = await scale.counters();
    const routedCounters = [...c5.values()];
    const segment = (a: Map<string, StopCounters>, b: Map<string, StopCounters>) => ({ conflicts: grew(a, b, 'conflicts'), fenced: grew(a, b, 'fenced_writes') });

    const plain = fleet('bqueue', { [ROUTING_ENV]: 'off' });
    ctx.log(`cluster: three instances with routing off, steady load ${s.steady.rate} cmd/s for ${s.steady.durationMs / 1000} s`);
    await plain.add(['q1', 'q2', 'q3']);
    const unrouted = await steadyLoad(plain, { names: 'steady', ...s.steady });
    const unroutedCounters = await plain.stopAll();

    const lives = (list: StopCounters[]) => ({ conflicts: sumCounter(list, 'conflicts'), fenced: sumCounter(list, 'fenced_writes') });
    const handoffs: HandoffTimes = { join: [], leave: [] };
    for (const f of fleets) {
      const h = f.handoffs();
      handoffs.join.push(...h.join);
      handoffs.leave.push(...h.leave);
    }
    const results: Omit<ClusterResults, 'figures'> = {
      settings: s,
      throughput: [one, three],
      hop,
      handoffs,
      steady: { routed, unrouted, leave },
      failover,
      conflicts: {
        throughput: segment(c0, c1),
        steady: segment(c1, c2),
        leave: segment(c2, c3),
        failover: segment(c4, c5),
        unrouted: lives(unroutedCounters),
      },
      counters: { routed: routedCounters, unrouted: unroutedCounters },
    };
    return { ...results, figures: clusterFigures(results, ctx.settings.mode === 'smoke') };
  } finally {
    await load?.stop();
    await nc.close().catch(() => undefined);
    for (const f of fleets) await f.dispose();
    await nats.dispose();
    active = undefined;
  }
}
