/**
 * The cluster phase's measurements under steady conditions: throughput of the instances that
 * run (closed loop through the queue group, with the service and NATS CPU each command cost),
 * the forwarding hop (one command at a time, at the owner and through another instance), and
 * a steady load of careful clients whose optimistic-concurrency conflicts the instances count.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { connect } from '@nats-io/transport-node';
import { partitionOf, readClusterBucket } from '../../src/cluster/index.js';
import { namedId } from '../../src/domain/ids.js';
import { subjectsFor } from '../../src/domain/subjects.js';
import { ClusterLoad } from '../support/clusterLoad.js';
import { owners } from '../support/serviceFleet.js';
import { natsCpuMs, type BenchFleet } from './clusterFleet.js';
import type { LoadGenerator } from './loadGenerator.js';
import type { LoadResult, TargetSpec } from './loadProtocol.js';
import { moduleCreatePayload, moduleUpdatePayload } from './payloads.js';
import { summarize, type LatencySummary } from './stats.js';

/** One throughput run: what the load generator saw and the CPU it cost. */
export interface ThroughputRun {
  instances: number;
  create?: LoadResult;
  warmup: LoadResult;
  measured: LoadResult;
  /** µs of service CPU (all instances together) per finished command. */
  serviceUs: number | undefined;
  /** µs of nats-server CPU (all three nodes) per finished command. */
  natsUs: number | undefined;
}

export interface ThroughputPlan {
  names: string;
  aggregates: number;
  window: number;
  warmupMs: number;
  durationMs: number;
  timeoutMs: number;
  /** Create the aggregates first. */
  create: boolean;
}

/**
 * Commands as fast as a window of outstanding requests allows, through the queue group (so a
 * command that lands on a non-owner is forwarded), after a warm-up; CPU of the services and of
 * the NATS nodes taken around the measured run only.
 */
export async function measureThroughput(load: LoadGenerator, fleet: BenchFleet, plan: ThroughputPlan): Promise<ThroughputRun> {
  const p = fleet.settings.prefix;
  const n = fleet.live().length;
  const target = (action: 'create' | 'update'): TargetSpec => ({
    kind: 'command',
    action,
    subject: `${p}.cmd.module.${action}`,
    names: plan.names,
    from: 0,
    count: plan.aggregates,
  });
  const create = plan.create
    ? await load.run({
        label: `cluster: create ${plan.aggregates} aggregates`,
        target: target('create'),
        drive: { kind: 'window', window: Math.min(plan.window, plan.aggregates), total: plan.aggregates },
        timeoutMs: plan.timeoutMs,
      })
    : undefined;
  const warmup = await load.run({
    label: `cluster: warm-up, ${n} instance(s)`,
    target: target('update'),
    drive: { kind: 'window', window: plan.window, durationMs: plan.warmupMs },
    timeoutMs: plan.timeoutMs,
  });
  const [svcA, natsA] = [fleet.cpuMs(), natsCpuMs(fleet.nats)];
  const measured = await load.run({
    label: `cluster: throughput, ${n} instance(s)`,
    target: target('update'),
    drive: { kind: 'window', window: plan.window, durationMs: plan.durationMs },
    timeoutMs: plan.timeoutMs,
  });
  const [svcB, natsB] = [fleet.cpuMs(), natsCpuMs(fleet.nats)];
  const per = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined || b === undefined || measured.finished === 0 ? undefined : ((b - a) * 1000) / measured.finished;
  return { instances: n, ...(create ? { create } : {}), warmup, measured, serviceUs: per(svcA, svcB), natsUs: per(natsA, natsB) };
}

export interface HopResult {
  /** Sent on the owner's route subject: served where it arrives. */
  direct: LatencySummary;
  /** Sent on another instance's route subject: forwarded once to the owner. */
  hop: LatencySummary;
  failures: Record<string, number>;
  /**
   * The floor under the hop, measured beside it on the same cluster with plain NATS: a responder
   * answering the same payload straight away, and the same request relayed once to it (published
   * unchanged with the client's reply subject, as the route bus forwards), each on its own
   * connection to another node.
   */
  relay: { direct: LatencySummary; relayed: LatencySummary };
}

/**
 * The forwarding hop's cost: one command at a time, idle cluster, to aggregates owned by each
 * instance in turn, alternately on the owner's route subject (as if the queue group had
 * delivered it there) and on another instance's (one hop to the owner). The first tenth of
 * each series is warm-up and left out.
 */
export async function measureHop(fleet: BenchFleet, samples: number, timeoutMs: number): Promise<HopResult> {
  const { prefix, partitions } = fleet.settings;
  const subjects = subjectsFor(prefix);
  const state = await readClusterBucket(fleet.nc, prefix);
  if (!state) throw new Error(`no cluster bucket for ${prefix}`);
  const ownerOf = owners(state);
  const ids = fleet.live().map((m) => m.instanceId);
  // One aggregate owned by each instance.
  const targets: { name: string; owner: string; others: string[] }[] = [];
  for (const owner of ids) {
    for (let k = 0; k < 10_000; k++) {
      const name = `hop-${k}`;
      if (ownerOf.get(partitionOf(namedId('module', name), partitions)) !== owner || targets.some((t) => t.name === name)) continue;
      targets.push({ name, owner, others: ids.filter((x) => x !== owner) });
      break;
    }
  }
  const failures: Record<string, number> = {};
  const send = async (subject: string, body: string): Promise<number> => {
    const t = performance.now();
    try {
      const reply = (await fleet.nc.request(subject, body, { timeout: timeoutMs })).json<Record<string, unknown>>();
      if (reply['status'] !== 'ok') failures[String(reply['code'])] = (failures[String(reply['code'])] ?? 0) + 1;
    } catch (e) {
      const code = /timeout/i.test(String(e)) ? 'timeout' : 'request_error';
      failures[code] = (failures[code] ?? 0) + 1;
    }
    return performance.now() - t;
  };
  for (const t of targets) await send(subjects.command('module', 'create'), moduleCreatePayload(t.name));
  const direct: number[] = [];
  const hop: number[] = [];
  for (let i = 0; direct.length < samples; i++) {
    for (const t of targets) {
      const other = t.others[i % t.others.length]!;
      direct.push(await send(subjects.routed(t.owner, 0, 'module', 'update'), moduleUpdatePayload(t.name, 2 * i)));
      hop.push(await send(subjects.routed(other, 0, 'module', 'update'), moduleUpdatePayload(t.name, 2 * i + 1)));
    }
  }
  const skip = Math.floor(direct.length / 10);
  const relay = await measureRelayFloor(fleet, samples, moduleUpdatePayload(targets[0]!.name, 0));
  return { direct: summarize(direct.slice(skip)), hop: summarize(hop.slice(skip)), failures, relay };
}

/** Plain NATS on the same cluster: request → responder, and request → relay → responder (see {@link HopResult.relay}). */
async function measureRelayFloor(fleet: BenchFleet, samples: number, body: string): Promise<HopResult['relay']> {
  const urls = fleet.nats.nodes.map((n) => n.url);
  const [responder, relay] = await Promise.all([connect({ servers: urls[1 % urls.length]! }), connect({ servers: urls[2 % urls.length]! })]);
  try {
    const echo = `_bench.hop.${process.pid}.echo`;
    const via = `_bench.hop.${process.pid}.relay`;
    responder.subscribe(echo, {
      callback: (_e, m) => {
        m.respond(m.data);
      },
    });
    relay.subscribe(via, {
      callback: (_e, m) => relay.publish(echo, m.data, { ...(m.reply ? { reply: m.reply } : {}), ...(m.headers ? { headers: m.headers } : {}) }),
    });
    await Promise.all([responder.flush(), relay.flush()]);
    const time = async (subject: string): Promise<number> => {
      const t = performance.now();
      await fleet.nc.request(subject, body, { timeout: 5_000 });
      return performance.now() - t;
    };
    const direct: number[] = [];
    const relayed: number[] = [];
    while (direct.length < samples) {
      direct.push(await time(echo));
      relayed.push(await time(via));
    }
    const skip = Math.floor(samples / 10);
    return { direct: summarize(direct.slice(skip)), relayed: summarize(relayed.slice(skip)) };
  } finally {
    await Promise.all([responder.close(), relay.close()]);
  }
}

export interface SteadyResult {
  commands: number;
  failed: number;
  retried: number;
  durationMs: number;
  /** ms from SIGTERM to the exit of the instance stopped in the middle of the load, if one was. */
  stopMs?: number;
}

/**
 * Careful clients (a command is sent again with the same message id until a definite answer)
 * at `rate` over `aggregates` aggregates for `durationMs`. With `midway`, it runs half-way
 * through (e.g. SIGTERM of one instance) while the load goes on.
 */
export async function steadyLoad(
  fleet: BenchFleet,
  options: { names: string; aggregates: number; rate: number; durationMs: number; midway?: () => Promise<void> },
): Promise<SteadyResult> {
  const load = new ClusterLoad(fleet.nc, {
    prefix: fleet.settings.prefix,
    aggregates: options.aggregates,
    rate: options.rate,
    requestTimeoutMs: 1_000,
    name: (i) => `${options.names}-${i}`,
  });
  const started = Date.now();
  load.start();
  let stopMs: number | undefined;
  try {
    if (options.midway) {
      await delay(options.durationMs / 2);
      const t = Date.now();
      await options.midway();
      stopMs = Date.now() - t;
      // The load goes on after it for the rest of the duration (at least half a second).
      await delay(Math.max(500, started + options.durationMs - Date.now()));
    } else {
      await delay(options.durationMs);
    }
  } finally {
    await load.stop();
  }
  return {
    commands: load.records.length,
    failed: load.failed().length,
    retried: load.retried().length,
    durationMs: Date.now() - started,
    ...(stopMs !== undefined ? { stopMs } : {}),
  };
}
