/**
 * `startCluster`: checks the settings and the deployment's recorded partition count, opens the
 * bucket, and runs this instance's {@link ClusterEngine}. Returns the small {@link Cluster}
 * interface the runtime uses (routing, ownership checks, hooks, leave/stop).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { subjectsFor } from '../domain/subjects.js';
import { realClock } from './clock.js';
import { ClusterEngine } from './engine.js';
import { ClusterConfigError, KvConflictError, NoOwnerError } from './errors.js';
import type { ClusterKv } from './kv.js';
import { natsKvBuckets } from './natsKv.js';
import { partitionOf } from './partitions.js';
import { untilAnswered } from './replicas.js';
import { CONFIG_KEY, ConfigRecord, decodeRecord, encodeRecord } from './records.js';
import type { Cluster, ClusterLogger, ClusterOptions, MemberView } from './types.js';

/** Smallest lease accepted: the heartbeat (lease/3) must stay well above KV round trips. */
export const MIN_LEASE_MS = 300;
/** Largest partition count: each owned partition is one KV write per heartbeat. */
export const MAX_PARTITIONS = 1024;
export const DEFAULTS = { partitions: 64, leaseMs: 3000, replicas: 1, handoffTimeoutMs: 10_000 } as const;

const TOKEN_RE = /^[A-Za-z0-9_-]+$/;

const silent: ClusterLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Join the cluster: open `<PREFIX>_CLUSTER` (creating it with `replicas`), check or record
 * the partition count, announce this instance, claim what the assignment gives it. Throws
 * {@link ClusterConfigError} (saying what to set) for bad settings or a changed partition count.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const partitions = options.partitions ?? DEFAULTS.partitions;
  const leaseMs = options.leaseMs ?? DEFAULTS.leaseMs;
  const replicas = options.replicas ?? DEFAULTS.replicas;
  checkSettings(options.instanceId, partitions, leaseMs, replicas);
  const heartbeatMs = options.heartbeatMs ?? Math.floor(leaseMs / 3);
  if (heartbeatMs <= 0 || heartbeatMs > leaseMs / 3) {
    throw new ClusterConfigError(
      `the heartbeat (${heartbeatMs} ms) must beat at least three times per lease (${leaseMs} ms): use at most ${Math.floor(leaseMs / 3)} ms`,
    );
  }
  const safetyMarginMs = options.safetyMarginMs ?? Math.ceil(leaseMs / 6);
  if (safetyMarginMs <= 0 || safetyMarginMs >= leaseMs - heartbeatMs) {
    throw new ClusterConfigError(
      `the safety margin (${safetyMarginMs} ms) must be above 0 and below lease − heartbeat (${leaseMs - heartbeatMs} ms)`,
    );
  }
  const buckets = options.kv ?? (options.nc ? natsKvBuckets(options.nc, { timeoutMs: Math.max(100, heartbeatMs) }) : undefined);
  if (!buckets) throw new TypeError('startCluster needs `kv` (a KV port) or `nc` (a NATS connection)');
  const bucket = subjectsFor(options.prefix).clusterBucket;
  const kv = await buckets.open(bucket, { replicas });
  // The bucket may be a second old and still electing its leader: asked again while unanswered.
  await untilAnswered(() => checkPartitionCount(kv, partitions), 15_000);

  const clock = options.clock ?? realClock;
  const engine = new ClusterEngine(kv, {
    instanceId: options.instanceId,
    incarnation: randomUUID(),
    host: options.host ?? hostname(),
    version: options.version ?? '0.0.0',
    startedAt: (options.startedAt ?? new Date()).toISOString(),
    partitions,
    leaseMs,
    heartbeatMs,
    safetyMarginMs,
    handoffTimeoutMs: options.handoffTimeoutMs ?? DEFAULTS.handoffTimeoutMs,
    memberGcMs: options.memberGcMs ?? 10 * leaseMs,
    clock,
    logger: options.logger ?? silent,
    hooks: options.hooks ?? {},
    progress: options.progress,
  });
  await engine.start();

  let leaving: Promise<void> | undefined;
  const cluster: Cluster = {
    instanceId: options.instanceId,
    partitions,
    leaseMs,
    partitionOf: (id) => partitionOf(id, partitions),
    ownerOf: (p) => engine.ownerOf(p),
    owns: (p) => engine.owns(p),
    holds: (p) => !engine.stopped && engine.leases.held.has(p),
    epochOf: (p) => engine.leases.held.get(p)?.epoch,
    waitForOwner: (p, timeoutMs, exclude) => {
      const wanted = (): string | undefined => {
        const owner = engine.ownerOf(p);
        return owner !== undefined && owner !== exclude ? owner : undefined;
      };
      const now = wanted();
      if (now !== undefined) return Promise.resolve(now);
      return new Promise<string>((resolve, reject) => {
        const done = (): void => {
          unsubscribe();
          clock.clearTimeout(timer);
        };
        const unsubscribe = engine.onChange(() => {
          const owner = wanted();
          if (owner !== undefined) {
            done();
            resolve(owner);
          } else if (engine.stopped) {
            done();
            reject(new NoOwnerError(p, timeoutMs));
          }
        });
        const timer = clock.setTimeout(() => {
          unsubscribe();
          reject(new NoOwnerError(p, timeoutMs));
        }, timeoutMs);
      });
    },
    members: () => membersOf(engine, options.instanceId, clock.now()),
    stats: () => {
      const vt = engine.view.viewTime(clock.now());
      return {
        members_seen: engine.eligible(vt).length + (engine.leaving ? 1 : 0),
        partitions_owned: engine.ownedPartitions().length,
        partitions_fenced: engine.fencedPartitions(),
        ...engine.counters,
      };
    },
    onChange: (listener) => engine.onChange(listener),
    leave: () => {
      leaving ??= engine.leave().finally(() => engine.stop());
      return leaving;
    },
    stop: () => {
      engine.stop();
      return Promise.resolve();
    },
  };
  return cluster;
}

function checkSettings(instanceId: string, partitions: number, leaseMs: number, replicas: number): void {
  if (!TOKEN_RE.test(instanceId)) {
    throw new ClusterConfigError(`instance id ${JSON.stringify(instanceId)} must be one subject token: letters, digits, _ or -`);
  }
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new ClusterConfigError(`NIX_PARTITIONS=${partitions}: set a whole number from 1 to ${MAX_PARTITIONS} (default 64)`, {
      setting: 'NIX_PARTITIONS',
    });
  }
  if (!Number.isInteger(leaseMs) || leaseMs < MIN_LEASE_MS) {
    throw new ClusterConfigError(
      `NIX_LEASE_MS=${leaseMs} is too short: the heartbeat runs three times per lease and must stay well above a KV round trip; set NIX_LEASE_MS to at least ${MIN_LEASE_MS} (default 3000)`,
      { setting: 'NIX_LEASE_MS' },
    );
  }
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
    throw new ClusterConfigError(`NIX_REPLICAS=${replicas}: set 1, 3 or 5 (at most the number of JetStream servers)`, {
      setting: 'NIX_REPLICAS',
    });
  }
}

/** Record the partition count at first start; refuse a different one later. */
async function checkPartitionCount(kv: ClusterKv, partitions: number): Promise<void> {
  try {
    await kv.create(CONFIG_KEY, encodeRecord({ partitions }));
    return;
  } catch (e) {
    if (!(e instanceof KvConflictError)) throw e;
  }
  const cur = await kv.get(CONFIG_KEY);
  const stored = cur ? decodeRecord(ConfigRecord, cur.value) : undefined;
  if (!stored) {
    throw new ClusterConfigError(
      `KV bucket ${kv.bucket} key ${CONFIG_KEY} does not hold a partition count; with every instance stopped, remove it (\`nats kv del ${kv.bucket} ${CONFIG_KEY}\`) and start again`,
      { setting: 'NIX_PARTITIONS' },
    );
  }
  if (stored.partitions !== partitions) {
    throw new ClusterConfigError(
      `NIX_PARTITIONS=${partitions}, but this deployment was started with ${stored.partitions} partitions (recorded in KV bucket ` +
        `${kv.bucket}, key ${CONFIG_KEY}). The count is fixed for a deployment: set NIX_PARTITIONS=${stored.partitions}. To change it, ` +
        `stop every instance, run \`nats kv del ${kv.bucket} ${CONFIG_KEY}\`, then start them all with the new value.`,
      { setting: 'NIX_PARTITIONS' },
    );
  }
}

function membersOf(engine: ClusterEngine, self: string, now: number): MemberView[] {
  const vt = engine.view.viewTime(now);
  const out: MemberView[] = [];
  for (const [id, m] of engine.view.members) {
    const isSelf = id === self;
    out.push({
      id,
      host: m.record.host,
      version: m.record.version,
      started_at: m.record.started_at,
      partitions: isSelf ? engine.ownedPartitions() : m.record.partitions,
      leaving: isSelf ? engine.leaving : m.record.leaving,
      live: isSelf ? !engine.stopped : engine.view.isLive(id, vt),
      self: isSelf,
      last_seen_ms: isSelf ? 0 : Math.max(0, now - m.seenAt),
      ...(m.record.progress !== undefined ? { progress: m.record.progress } : {}),
    });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}
