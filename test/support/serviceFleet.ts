/**
 * Several service processes on one NATS cluster, for the scale-out tests (SPEC §9): start and
 * stop members, wait until the partitions are spread (read from the cluster bucket), and the
 * figures and final counters each member logs (its `service stopped` line carries the
 * cluster counters: conflicts, fenced writes, handoffs, takeovers).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { readClusterBucket, type ClusterBucketState } from '../../src/cluster/index.js';
import { clusterEnv, type NatsCluster } from './natsCluster.js';
import { startServiceProcess, type LogLine, type ServiceProcess } from './serviceProcess.js';

export interface Member {
  /** A stable label for the test (`s1`, `s2`, …); the instance id changes with every start. */
  readonly label: string;
  readonly cwd: string;
  proc: ServiceProcess;
  instanceId: string;
}

export interface FleetSettings {
  prefix: string;
  partitions: number;
  leaseMs: number;
  /** More environment for every member. */
  env?: Record<string, string>;
}

const ready = (l: LogLine): boolean => typeof l.msg === 'string' && l.msg.startsWith('cim-domain-nix ready');

/** Start one member (in `cwd` when given: a restart keeps its workspace). */
export async function startMember(nats: Pick<NatsCluster, 'urls'>, settings: FleetSettings, label: string, cwd?: string): Promise<Member> {
  const dir = cwd ?? (await mkdtemp(join(tmpdir(), `cim-${label}-`)));
  const proc = await startServiceProcess({
    cwd: dir,
    env: {
      ...clusterEnv(nats, { prefix: settings.prefix, partitions: settings.partitions, leaseMs: settings.leaseMs }),
      LOG_LEVEL: 'info',
      INSPECTOR_ENABLED: 'false',
      ...settings.env,
    },
  });
  const line = await proc.waitForLog(ready, 90_000);
  return { label, cwd: dir, proc, instanceId: String(line['instance_id']) };
}

/** Restart a member in its own directory (same workspace, new instance id). */
export async function restartMember(nats: Pick<NatsCluster, 'urls'>, settings: FleetSettings, member: Member): Promise<void> {
  const next = await startMember(nats, settings, member.label, member.cwd);
  member.proc = next.proc;
  member.instanceId = next.instanceId;
}

/** A client on every node of the cluster (fails over between them). */
export function clusterClient(nats: Pick<NatsCluster, 'urls'>): Promise<NatsConnection> {
  return connect({ servers: nats.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100, reconnectJitter: 0 });
}

/** Partition → owner, as the bucket says now (undefined: released or never claimed). */
export function owners(state: ClusterBucketState): Map<number, string> {
  const out = new Map<number, string>();
  for (const l of state.leases) if (l.owner !== '' && !l.draining) out.set(l.partition, l.owner);
  return out;
}

/**
 * Resolve with the bucket once every partition is owned by one of `instances` and each of them
 * owns at least one (bounded; polls the bucket, no sleeps in the test).
 */
export async function waitSpread(nc: NatsConnection, settings: FleetSettings, instances: readonly string[], timeoutMs = 60_000): Promise<ClusterBucketState> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no read';
  while (Date.now() < deadline) {
    const state = await readClusterBucket(nc, settings.prefix).catch(() => undefined);
    if (state) {
      const o = owners(state);
      const counts = instances.map((id) => [...o.values()].filter((x) => x === id).length);
      last = `owned ${o.size}/${settings.partitions}, per instance ${counts.join('/')}`;
      if (o.size === settings.partitions && [...o.values()].every((x) => instances.includes(x)) && counts.every((c) => c > 0)) return state;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the partitions were not spread over ${instances.join(', ')} within ${timeoutMs} ms (${last})`);
}

/** The cluster counters a member logged when it stopped (SIGTERM). */
export function stoppedCounters(proc: ServiceProcess): Record<string, unknown> | undefined {
  const line = proc.lines.find((l) => l.msg === 'service stopped');
  return line?.['cluster'] as Record<string, unknown> | undefined;
}

/** Percentile of a list of numbers (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
