/**
 * The cluster layer's public shapes: what {@link startCluster} takes and returns. The lead's
 * runtime supplies the hooks; everything else is decided here.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { ClusterClock } from './clock.js';
import type { KvBuckets } from './kv.js';

/** What the runtime learns when this instance gains a partition. */
export interface AcquiredInfo {
  /** The partition's new epoch (increases with every change of owner). */
  epoch: number;
  /** The instance that owned it before, when known. */
  previousOwner: string | undefined;
  /**
   * True when the previous owner did not hand it off cleanly (it died, was fenced, or its
   * release hook failed): aggregates it left waiting for effects must be settled.
   */
  takeover: boolean;
}

/** A partition lost without a handoff: another instance claimed it after this one's lease ran out. */
export interface LostInfo {
  /** The epoch this instance held. */
  epoch: number;
  /** The instance that holds it now, when known. */
  by: string | undefined;
}

/** Callbacks into the runtime. Errors they throw are logged, never fatal. */
export interface ClusterHooks {
  /** This instance now owns `partition` (called after the claim succeeded; `owns` is already true). */
  acquired?(partition: number, info: AcquiredInfo): void | Promise<void>;
  /**
   * Hand `partition` off: stop taking commands for it, finish in-flight work, write snapshots.
   * Bounded by `handoffTimeoutMs`; the lease stays held (and renewed) until it resolves.
   */
  release?(partition: number): Promise<void>;
  /**
   * `partition` was lost without a handoff: its lease ran out here (cut off, paused) and another
   * instance claimed it. Drop its state. (While merely fenced, `owns` is false and nothing is
   * called: if the next renewal succeeds nobody else owned it meanwhile, and serving resumes.)
   */
  lost?(partition: number, info: LostInfo): void;
}

/** The logger shape the layer writes to (pino's `Logger` fits). */
export interface ClusterLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** The KV port (the in-memory twin in tests); or give `nc` for NATS JetStream KV. */
  kv?: KvBuckets;
  /**
   * The NATS connection, or a function returning the current one (`() => supervisor.connection`)
   * when the connection supervisor may replace it; the bucket is bound again to a new one.
   */
  nc?: NatsConnection | (() => NatsConnection | undefined);
  /** Subject prefix `P`; the bucket is `<P upper-cased>_CLUSTER`. */
  prefix: string;
  /** Unique per running instance; one subject token (letters, digits, `_`, `-`). */
  instanceId: string;
  host?: string;
  version?: string;
  /** `NIX_PARTITIONS` (default 64): fixed for a deployment. */
  partitions?: number;
  /** `NIX_LEASE_MS` (default 3000, at least 300). */
  leaseMs?: number;
  /** Heartbeat period (default lease/3; at most lease/3). */
  heartbeatMs?: number;
  /** The owner stops serving this long before its lease would end (default lease/6). */
  safetyMarginMs?: number;
  /** `NIX_REPLICAS` (default 1): replicas of the cluster bucket. */
  replicas?: number;
  /** Longest a release hook may take before the partition is released anyway, marked unclean (default 10 s). */
  handoffTimeoutMs?: number;
  /** A member unseen this long is removed from the bucket (default 10 leases). */
  memberGcMs?: number;
  clock?: ClusterClock;
  logger?: ClusterLogger;
  hooks?: ClusterHooks;
  /** Shown as `started_at` (display only; default now). */
  startedAt?: Date;
  /**
   * A number the runtime announces with every heartbeat, read by the others as
   * {@link MemberView.progress} (the service: its publication watermark, so the instance that
   * takes over its partitions after a crash knows from where to publish its events again).
   */
  progress?: () => number;
}

/** A member as this instance sees it. */
export interface MemberView {
  id: string;
  host: string;
  version: string;
  started_at: string;
  /** Partitions it announced at its last heartbeat. */
  partitions: number[];
  leaving: boolean;
  /** Seen within its lease (always true for this instance until it leaves). */
  live: boolean;
  self: boolean;
  /** Milliseconds since this instance saw its heartbeat (0 for itself). */
  last_seen_ms: number;
  /** Its `progress` at its last heartbeat seen (see {@link ClusterOptions.progress}). */
  progress?: number;
}

/** Counters for health and benchmarks (monotonic since start, except the first two). */
export interface ClusterStats {
  /** Live members in this instance's view, itself included. */
  members_seen: number;
  /** Partitions this instance owns now (`owns` true). */
  partitions_owned: number;
  /** Partitions it holds but does not serve now: fenced (lease ran out, no renewal acknowledged yet). */
  partitions_fenced: number;
  /** Partitions this instance claimed. */
  claims: number;
  /** … of which from an owner that did not hand off cleanly. */
  takeovers: number;
  /** Partitions this instance handed off (released). */
  handoffs: number;
  /** Claims that lost the compare-and-set (another instance was faster). */
  claim_conflicts: number;
  /** Partitions lost without a handoff. */
  claims_lost: number;
  /**
   * Times a partition's lease ran out here before a renewal was acknowledged, so it stopped
   * serving it (self-fencing; not the runtime's "fenced writes", the expected-sequence refusals).
   */
  self_fenced: number;
  /** Renewals that failed (timeouts, no leader); a lost compare-and-set counts in `claims_lost`. */
  renew_failures: number;
  heartbeats: number;
  heartbeat_failures: number;
  /** Times the watch was restarted because this instance's own heartbeats stopped coming back. */
  watch_restarts: number;
  /** Departed members this instance removed from the bucket. */
  members_removed: number;
}

/** The running cluster layer of one instance. */
export interface Cluster {
  readonly instanceId: string;
  readonly partitions: number;
  readonly leaseMs: number;
  /** The partition of an aggregate id (deterministic, the same on every instance). */
  partitionOf(aggregateId: string): number;
  /**
   * The instance serving `partition` now, as this instance sees it: undefined while nobody
   * does (unowned, handing off, or its owner's lease lapsed and nobody claimed it yet).
   */
  ownerOf(partition: number): string | undefined;
  /**
   * True while this instance holds `partition`'s lease, checked against the clock at call time
   * (false from lease − safety margin after the last renewal that was acknowledged). Still true
   * while handing off, so in-flight work can finish; see {@link Cluster.ownerOf} for intake.
   */
  owns(partition: number): boolean;
  /**
   * True while this instance holds `partition`'s lease in any state: serving, handing off, or
   * fenced (its lease ran out here, no renewal acknowledged yet, nobody else has claimed it).
   */
  holds(partition: number): boolean;
  /** The epoch of `partition` while this instance holds it (its ownership period; tags what it writes), else undefined. */
  epochOf(partition: number): number | undefined;
  /**
   * Resolve with the owner as soon as there is one (other than `exclude`: pass the owner a
   * forward just failed to reach, to wait for its successor); reject with `NoOwnerError`
   * after `timeoutMs` on the cluster's clock.
   */
  waitForOwner(partition: number, timeoutMs: number, exclude?: string): Promise<string>;
  members(): MemberView[];
  stats(): ClusterStats;
  /** Called after every change of members or owners seen here; returns the unsubscribe. */
  onChange(listener: () => void): () => void;
  /** Graceful exit (SIGTERM): hand every partition off, leave the bucket, then stop. */
  leave(): Promise<void>;
  /** Stop timers and the watch without releasing anything: to the others, like a crash. */
  stop(): Promise<void>;
}

/** Settings the engine runs with (validated by startCluster). */
export interface EngineSettings {
  instanceId: string;
  incarnation: string;
  host: string;
  version: string;
  startedAt: string;
  partitions: number;
  leaseMs: number;
  heartbeatMs: number;
  safetyMarginMs: number;
  handoffTimeoutMs: number;
  memberGcMs: number;
  clock: ClusterClock;
  logger: ClusterLogger;
  hooks: ClusterHooks;
  /** The runtime's progress mark, announced with every heartbeat (see {@link ClusterOptions.progress}). */
  progress?: (() => number) | undefined;
}
