/**
 * Which partition an aggregate falls into. Aggregate ids are UUIDv5 (SPEC §3): SHA-1 output
 * with the version and variant bits overwritten, so their first six bytes are uniformly
 * spread. Any instance computes the same partition for the same id.
 */
import { createHash } from 'node:crypto';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The partition (0 … `partitions`−1) of an aggregate id: the UUID's first 48 bits mod the
 * count. A string that is not a UUID is hashed first (SHA-256), so every input has a stable
 * partition.
 */
export function partitionOf(aggregateId: string, partitions: number): number {
  let high: number;
  if (UUID_RE.test(aggregateId)) {
    high = Number.parseInt(aggregateId.slice(0, 8) + aggregateId.slice(9, 13), 16);
  } else {
    high = createHash('sha256').update(aggregateId).digest().readUIntBE(0, 6);
  }
  return high % partitions;
}
