/**
 * The door of `src/cluster/`: several instances on one NATS cluster, each partition of the
 * aggregates owned by at most one of them (SPEC §9, docs/cluster.md). The runtime calls
 * {@link startCluster} and plugs in its hooks; nothing else of this folder is its concern.
 */
export { startCluster, DEFAULTS as CLUSTER_DEFAULTS, MIN_LEASE_MS, MAX_PARTITIONS } from './cluster.js';
export type { Cluster, ClusterOptions, ClusterHooks, AcquiredInfo, LostInfo, MemberView, ClusterStats, ClusterLogger } from './types.js';
export { realClock, type ClusterClock } from './clock.js';
export { partitionOf } from './partitions.js';
export { newInstanceId } from './instanceId.js';
export { assignPartitions } from './assignment.js';
export { SETUP_ATTEMPT_MS, ensureReplicas, explainReplicaError, isReplicaRefusal, untilAnswered, type ReplicaChange } from './replicas.js';
export { ClusterConfigError, KvConflictError, KvTimeoutError, NoOwnerError } from './errors.js';
export type { ClusterKv, KvBuckets, KvChange, KvRecord, KvWatcher } from './kv.js';
export { natsKvBuckets, type NatsKvOptions, type NatsConnectionSource } from './natsKv.js';
export { MemoryKvServer, MemoryKvConnection, type CutOptions } from './memoryKv.js';
export { readClusterBucket, type ClusterBucketState, type Written } from './bucketState.js';
export type { MemberRecord, PartitionRecord } from './records.js';
