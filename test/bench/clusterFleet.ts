/**
 * The cluster phase's instances (SPEC §9): real service processes on the bench's three-node
 * NATS cluster, started, stopped and killed as the scenarios need; the CPU time they and the
 * NATS nodes use (from /proc), the counters each logs when it stops, and the handoff time per
 * partition read from their logs.
 */
import { rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ClusterBucketState } from '../../src/cluster/index.js';
import { HEALTH_SUBJECT } from '../../src/domain/subjects.js';
import type { NatsCluster } from '../support/natsCluster.js';
import type { ServiceProcess } from '../support/serviceProcess.js';
import { owners, restartMember, startMember, stoppedCounters, waitSpread, type FleetSettings, type Member } from '../support/serviceFleet.js';
import { cpuMs } from './machine.js';

/** What an instance logged when it stopped (SIGTERM): the cluster counters. */
export type StopCounters = Record<string, unknown>;

/** One life of a service process (a restart is a new life with a new instance id). */
interface Life {
  proc: ServiceProcess;
  id: string;
}

/** Several service processes of one deployment (one prefix). */
export class BenchFleet {
  readonly members: Member[] = [];
  private readonly lives: Life[] = [];
  private readonly down = new Set<Member>();
  private readonly dirs = new Set<string>();
  /** What each stopped life logged at its stop, by instance id. */
  private readonly stopped = new Map<string, StopCounters>();

  constructor(
    readonly nats: NatsCluster,
    readonly nc: NatsConnection,
    readonly settings: FleetSettings,
  ) {}

  /** Start members (in parallel) and wait until the partitions are spread over every live one. */
  async add(labels: readonly string[]): Promise<Member[]> {
    const added = await Promise.all(labels.map((l) => startMember(this.nats, this.settings, l)));
    for (const m of added) {
      this.members.push(m);
      this.dirs.add(m.cwd);
      this.lives.push({ proc: m.proc, id: m.instanceId });
    }
    await this.spread();
    return added;
  }

  /** Start a stopped or killed member again in its own directory (new instance id) and wait for the spread. */
  async restart(m: Member): Promise<void> {
    await restartMember(this.nats, this.settings, m);
    this.down.delete(m);
    this.lives.push({ proc: m.proc, id: m.instanceId });
    await this.spread();
  }

  /** Members whose process runs. */
  live(): Member[] {
    return this.members.filter((m) => !this.down.has(m));
  }

  /** Resolve once every partition is owned by a live member and each owns one (bounded). */
  async spread(timeoutMs = 90_000): Promise<void> {
    await waitSpread(this.nc, this.settings, this.live().map((m) => m.instanceId), timeoutMs);
  }

  /** Resolve once the partitions are spread evenly (loads differ by at most one) and none is draining (bounded). */
  async balanced(timeoutMs = 90_000): Promise<ClusterBucketState> {
    const ids = this.live().map((m) => m.instanceId);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await waitSpread(this.nc, this.settings, ids, Math.max(1, deadline - Date.now()));
      const loads = ids.map((id) => [...owners(state).values()].filter((o) => o === id).length);
      if (owners(state).size === this.settings.partitions && Math.max(...loads) - Math.min(...loads) <= 1) return state;
      if (Date.now() > deadline) throw new Error(`the partitions were not balanced over ${ids.join(', ')} within ${timeoutMs} ms (${loads.join('/')})`);
      await delay(100);
    }
  }

  /**
   * Every live member's cluster counters now, from its health reply (health is a queue-group
   * endpoint: asked until each member has answered, bounded); stopped members' from their stop line.
   */
  async counters(timeoutMs = 15_000): Promise<Map<string, StopCounters>> {
    const out = new Map(this.stopped);
    const want = new Set(this.live().map((m) => m.instanceId));
    const fresh = new Set<string>();
    const deadline = Date.now() + timeoutMs;
    while (fresh.size < want.size) {
      if (Date.now() > deadline) throw new Error(`health of ${[...want].filter((id) => !fresh.has(id)).join(', ')} not answered within ${timeoutMs} ms`);
      const reply = await this.nc
        .request(HEALTH_SUBJECT, '', { timeout: 2_000 })
        .then((m) => m.json<{ cluster?: StopCounters }>())
        .catch(() => undefined);
      const c = reply?.cluster;
      const id = String(c?.['instance_id']);
      if (c && want.has(id)) {
        out.set(id, c);
        fresh.add(id);
      }
    }
    return out;
  }

  /** SIGKILL a member (a crash) and wait for its exit. */
  async kill(m: Member): Promise<void> {
    m.proc.signal('SIGKILL');
    await m.proc.waitForExit();
    this.down.add(m);
  }

  /** SIGTERM a member (it hands its partitions off first) and return what it logged at the stop. */
  async stop(m: Member): Promise<StopCounters> {
    const exit = await m.proc.stop(30_000);
    this.down.add(m);
    const counters = stoppedCounters(m.proc);
    if (exit.code !== 0 || !counters) throw new Error(`instance ${m.label} did not stop cleanly (code ${exit.code}, signal ${exit.signal})`);
    this.stopped.set(m.instanceId, counters);
    return counters;
  }

  /** SIGTERM every live member. */
  async stopAll(): Promise<StopCounters[]> {
    return Promise.all(this.live().map((m) => this.stop(m)));
  }

  /** CPU time (ms) the live members have used so far, summed; undefined off Linux. */
  cpuMs(): number | undefined {
    return sumCpu(this.live().map((m) => m.proc.pid));
  }

  /** Handoff times per partition over every life so far (see {@link handoffTimes}). */
  handoffs(): HandoffTimes {
    return handoffTimes(this.lives);
  }

  /** SIGKILL what still runs and remove the members' directories. */
  async dispose(): Promise<void> {
    await Promise.all(this.live().map((m) => this.kill(m)));
    await Promise.all([...this.dirs].map((d) => rm(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })));
  }
}

/** CPU time (ms) of the NATS cluster's running nodes, summed. */
export function natsCpuMs(nats: NatsCluster): number | undefined {
  return sumCpu(nats.nodes.map((n) => n.pid));
}

function sumCpu(pids: readonly (number | undefined)[]): number | undefined {
  let total = 0;
  for (const pid of pids) {
    const ms = cpuMs(pid);
    if (ms === undefined) return undefined;
    total += ms;
  }
  return total;
}

/** Handoff per partition (ms), by what moved it: an instance joining, or one leaving (SIGTERM). */
export interface HandoffTimes {
  join: number[];
  leave: number[];
}

/**
 * Per handed-off partition: ms from `handing partition off` at the old owner (it stops taking
 * commands for it, finishes in flight, snapshots, releases) to `partition claimed` at the new
 * owner (no takeover). Both are log lines with millisecond ISO times from one machine's clock.
 */
export function handoffTimes(lives: readonly Life[]): HandoffTimes {
  const time = (l: Record<string, unknown>): number => Date.parse(String(l['time']));
  const claims = lives
    .flatMap((life) =>
      life.proc.lines
        .filter((l) => l.msg === 'partition claimed')
        .map((l) => ({ partition: l['partition'], from: l['previous_owner'], takeover: l['takeover'], at: time(l) })),
    )
    .sort((a, b) => a.at - b.at);
  const out: HandoffTimes = { join: [], leave: [] };
  for (const life of lives) {
    for (const l of life.proc.lines.filter((x) => x.msg === 'handing partition off')) {
      const at = time(l);
      // The partition's next claim: a handoff when it follows this owner's clean release.
      const claim = claims.find((c) => c.partition === l['partition'] && c.at >= at);
      if (claim && claim.from === life.id && claim.takeover === false) (l['leaving'] === true ? out.leave : out.join).push(claim.at - at);
    }
  }
  return out;
}

/** How much `name` grew between two readings of {@link BenchFleet.counters}, summed over the members in both. */
export function grew(before: ReadonlyMap<string, StopCounters>, after: ReadonlyMap<string, StopCounters>, name: string): number {
  let n = 0;
  for (const [id, b] of before) {
    const a = after.get(id);
    // A member killed meanwhile (SIGKILL) left no counters: only the others count.
    if (a) n += Number(a[name] ?? Number.NaN) - Number(b[name] ?? Number.NaN);
  }
  return n;
}

/** Sum one numeric counter over the stop lines. */
export function sumCounter(counters: readonly StopCounters[], name: string): number {
  return counters.reduce((n, c) => n + Number(c[name] ?? Number.NaN), 0);
}

/** Commands the instances forwarded to an owner (router counters), summed. */
export function forwarded(counters: readonly StopCounters[]): number {
  return counters.reduce((n, c) => n + Number((c['router'] as Record<string, number> | undefined)?.['forwarded'] ?? 0), 0);
}
