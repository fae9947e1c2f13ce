/**
 * The runtime side of several instances (SPEC §9): the cluster layer (src/cluster) started with
 * the partition hooks, the partition router in front of the supervisor, and the fencing of
 * stores — a slot stores only while this instance owns the aggregate's partition, and every
 * optimistic-concurrency refusal the slots meet is counted. A single instance runs the same
 * code and simply owns every partition.
 */
import type { Logger } from 'pino';
import { startCluster, type Cluster, type ClusterClock, type KvBuckets, type NatsConnectionSource } from '../cluster/index.js';
import type { Subjects } from '../domain/subjects.js';
import { PartitionHooks, type PartitionHookStats, type PartitionHooksDeps } from './partitionHooks.js';
import { PartitionRouter, type CommandRoute, type Routable, type RouteBus, type RouterStats } from './partitionRouter.js';
import type { SlotRef } from './slotHost.js';
import { systemClock, type Clock } from '../time/clock.js';

/** Stores refused or rejected because of ownership, and every optimistic-concurrency conflict. */
export interface FencingStats {
  /** Appends the event store refused because another writer had stored since (all of them). */
  conflicts: number;
  /** … of which met while this instance did not own the aggregate's partition: a stale owner's write stopped by the sequence check. */
  fenced_writes: number;
  /** Stores this instance did not attempt because it no longer owned the partition (answered `unavailable`). */
  refused_writes: number;
}

/**
 * The slots' ownership check and conflict counter. Built before the cluster starts (the
 * supervisor needs it at construction) and bound to it once it runs.
 */
export class Fencing {
  readonly counts: FencingStats & { waited_for_renewal: number; outcomes_stored_fenced: number } = {
    conflicts: 0,
    fenced_writes: 0,
    refused_writes: 0,
    waited_for_renewal: 0,
    outcomes_stored_fenced: 0,
  };
  private cluster: Pick<Cluster, 'owns' | 'holds' | 'ownerOf' | 'instanceId' | 'partitionOf' | 'onChange' | 'leaseMs'> | undefined;
  /** False: stores are never refused (routing off, the old queue-group behaviour, for comparisons). */
  enforce = true;

  constructor(private readonly clock: Clock = systemClock) {}

  attach(cluster: Pick<Cluster, 'owns' | 'holds' | 'ownerOf' | 'instanceId' | 'partitionOf' | 'onChange' | 'leaseMs'>): void {
    this.cluster = cluster;
  }

  /**
   * May this instance store events of `slot` now? Yes while it owns the partition. For a
   * command, while it holds the partition fenced (a renewal is late: a stalled event loop, a
   * slow bucket, NATS away) the store waits for the outcome: a renewal that succeeds proves
   * nobody else claimed it meanwhile (then yes), a lost or released lease means no — bounded
   * by one lease. The **outcome of an effect** (work that ran while this instance owned the
   * partition) is refused only when another instance is known to own the partition now: else
   * it is stored — an unreachable store keeps it as a dead letter, and the expected-sequence
   * check refuses it if another owner wrote meanwhile — so a finished build is not thrown away
   * because NATS was away.
   */
  mayStore(slot: SlotRef, origin: 'command' | 'outcome' = 'command'): boolean | Promise<boolean> {
    const c = this.cluster;
    if (!c || !this.enforce) return true;
    const p = c.partitionOf(slot.id);
    if (c.owns(p)) return true;
    if (origin === 'outcome') {
      const owner = c.ownerOf(p);
      if (owner !== undefined && owner !== c.instanceId) return this.refuse();
      this.counts.outcomes_stored_fenced++;
      return true;
    }
    if (!c.holds(p)) return this.refuse();
    this.counts.waited_for_renewal++;
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        off();
        this.clock.clearTimeout(timer);
        resolve(ok || this.refuse());
      };
      const off = c.onChange(() => {
        if (c.owns(p)) done(true);
        else if (!c.holds(p)) done(false);
      });
      const timer = this.clock.setTimeout(() => done(c.owns(p)), c.leaseMs);
    });
  }

  private refuse(): false {
    this.counts.refused_writes++;
    return false;
  }

  /** The event store refused an append of `slot` (expected last subject sequence). */
  conflict(slot: SlotRef): void {
    this.counts.conflicts++;
    const c = this.cluster;
    if (c && !c.owns(c.partitionOf(slot.id))) this.counts.fenced_writes++;
  }
}

export interface ClusterRuntimeOptions<M extends Routable = Routable> {
  /** The NATS connection (a function when it may be replaced), or `kv` (tests: the in-memory twin). */
  nc?: NatsConnectionSource;
  kv?: KvBuckets;
  subjects: Subjects;
  instanceId: string;
  host?: string;
  version: string;
  partitions: number;
  leaseMs: number;
  replicas: number;
  /** The cluster layer's clock (default: monotonic real time). */
  clock?: ClusterClock;
  /** Longest the release hook may take (the cluster layer's handoff bound). */
  handoffTimeoutMs: number;
  logger: Logger;
  /** The supervisor (commands this instance serves go there). */
  local: CommandRoute;
  bus: RouteBus<M>;
  /** False: every command is served where it arrives (the queue-group behaviour before SPEC §9; for measurements). */
  routing: boolean;
  /** Longest a command waits for its partition to get an owner. */
  waitMs: number;
  /** The hooks' dependencies (the runtime clock, models, catch-up, relay). */
  hooks: Omit<PartitionHooksDeps, 'partitionOf' | 'logger'>;
  fencing: Fencing;
  /** The publication mark announced with every heartbeat. */
  progress?: () => number;
}

/** What health reports under `cluster`. */
export interface ClusterRuntimeStats extends FencingStats {
  instance_id: string;
  routing: 'partitioned' | 'off';
  partitions: number;
  members_seen: number;
  partitions_owned: number;
  partitions_fenced: number;
  handoffs: number;
  takeovers: number;
  claims: number;
  claims_lost: number;
  self_fenced: number;
  router: RouterStats & { waiting: number };
  release_ms: PartitionHookStats['release_ms'];
  effects_resumed: number;
  republished: number;
}

/** The members and the partitions' owners, as one instance sees them. */
export interface ClusterPicture {
  partitions: number;
  members: { id: string; host: string; version: string; started_at: string; live: boolean; leaving: boolean; last_seen_ms: number }[];
  leases: { partition: number; owner: string | null; epoch: number | null }[];
}

export interface ClusterRuntime<M extends Routable = Routable> {
  readonly cluster: Cluster;
  /** What the command intake routes through. */
  readonly route: CommandRoute;
  readonly router: PartitionRouter<M>;
  readonly hooks: PartitionHooks;
  stats(): ClusterRuntimeStats;
  /** The members and every partition's owner, as this instance sees them (the inspector's cluster view). */
  picture(): ClusterPicture;
  /** SIGTERM: stop waiting here (commands go back to the queue group), hand every partition off, leave. */
  leave(): Promise<void>;
  /** Stop without handing off (to the others, a crash). */
  stop(): Promise<void>;
}

/** Join the cluster (refusing bad settings with what to do) and route commands by partition. */
export async function startClusterRuntime<M extends Routable = Routable>(options: ClusterRuntimeOptions<M>): Promise<ClusterRuntime<M>> {
  const logger = options.logger.child({ component: 'cluster' });
  let partitionOf: (id: string) => number = () => 0;
  const hooks = new PartitionHooks({ ...options.hooks, partitionOf: (id) => partitionOf(id), logger });
  const cluster = await startCluster({
    ...(options.kv ? { kv: options.kv } : {}),
    ...(options.nc ? { nc: options.nc } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.progress ? { progress: options.progress } : {}),
    prefix: options.subjects.prefix,
    instanceId: options.instanceId,
    ...(options.host !== undefined ? { host: options.host } : {}),
    version: options.version,
    partitions: options.partitions,
    leaseMs: options.leaseMs,
    replicas: options.replicas,
    handoffTimeoutMs: options.handoffTimeoutMs,
    logger,
    hooks,
  });
  partitionOf = (id) => cluster.partitionOf(id);
  options.fencing.enforce = options.routing;
  options.fencing.attach(cluster);
  const router = new PartitionRouter<M>({
    cluster,
    local: options.local,
    bus: options.bus,
    subjects: options.subjects,
    logger,
    waitMs: options.waitMs,
  });
  const route: CommandRoute = options.routing ? router : options.local;
  return {
    cluster,
    route,
    router,
    hooks,
    stats: () => {
      const c = cluster.stats();
      return {
        instance_id: cluster.instanceId,
        routing: options.routing ? 'partitioned' : 'off',
        partitions: cluster.partitions,
        members_seen: c.members_seen,
        partitions_owned: c.partitions_owned,
        partitions_fenced: c.partitions_fenced,
        handoffs: c.handoffs,
        takeovers: c.takeovers,
        claims: c.claims,
        claims_lost: c.claims_lost,
        self_fenced: c.self_fenced,
        ...options.fencing.counts,
        router: router.stats(),
        release_ms: { ...hooks.counts.release_ms },
        effects_resumed: hooks.counts.effects_resumed,
        republished: hooks.counts.republished,
      };
    },
    picture: () => ({
      partitions: cluster.partitions,
      members: cluster.members().map((m) => ({
        id: m.id,
        host: m.host,
        version: m.version,
        started_at: m.started_at,
        live: m.live,
        leaving: m.leaving,
        last_seen_ms: Math.round(m.last_seen_ms),
      })),
      leases: Array.from({ length: cluster.partitions }, (_, partition) => ({
        partition,
        owner: cluster.ownerOf(partition) ?? null,
        epoch: cluster.epochOf(partition) ?? null,
      })),
    }),
    leave: async () => {
      router.leave();
      await cluster.leave();
    },
    stop: () => cluster.stop(),
  };
}
