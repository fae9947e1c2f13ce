/**
 * The cluster bucket as it is now, read once (for `cim-domain-nix cluster` and tools): the
 * recorded partition count, every member record and every partition lease, each with the
 * server time of its last write. Reading changes nothing: no bucket is created.
 */
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { subjectsFor } from '../domain/subjects.js';
import { CONFIG_KEY, ConfigRecord, MEMBER_PREFIX, MemberRecord, PART_PREFIX, PartitionRecord, decodeRecord } from './records.js';

/** One key's record and when the server stored it. */
export type Written<T> = T & { written_at: string };

export interface ClusterBucketState {
  bucket: string;
  /** The recorded partition count (undefined before the first instance started). */
  partitions: number | undefined;
  members: Written<MemberRecord>[];
  leases: Written<PartitionRecord & { partition: number }>[];
}

/** Read `<PREFIX>_CLUSTER`; undefined when the bucket does not exist (no instance ever ran with this prefix). */
export async function readClusterBucket(nc: NatsConnection, prefix: string): Promise<ClusterBucketState | undefined> {
  const bucket = subjectsFor(prefix).clusterBucket;
  let kv;
  try {
    kv = await new Kvm(nc).open(bucket);
    await kv.status();
  } catch {
    return undefined;
  }
  const state: ClusterBucketState = { bucket, partitions: undefined, members: [], leases: [] };
  // A key written again while the listing runs (every heartbeat rewrites its member key) is listed again.
  const keys = new Set<string>();
  for await (const key of await kv.keys()) keys.add(key);
  for (const key of [...keys].sort()) {
    const entry = await kv.get(key);
    if (!entry || entry.operation !== 'PUT') continue;
    const written_at = entry.created.toISOString();
    if (key === CONFIG_KEY) {
      state.partitions = decodeRecord(ConfigRecord, entry.value)?.partitions;
    } else if (key.startsWith(MEMBER_PREFIX)) {
      const m = decodeRecord(MemberRecord, entry.value);
      if (m) state.members.push({ ...m, written_at });
    } else if (key.startsWith(PART_PREFIX)) {
      const p = decodeRecord(PartitionRecord, entry.value);
      const partition = Number(key.slice(PART_PREFIX.length));
      if (p && Number.isInteger(partition)) state.leases.push({ ...p, partition, written_at });
    }
  }
  state.leases.sort((a, b) => a.partition - b.partition);
  return state;
}
