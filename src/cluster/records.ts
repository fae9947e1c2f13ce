/**
 * The values the cluster keeps in its bucket (`<PREFIX>_CLUSTER`), JSON with snake_case
 * fields like every other wire format of the service, one zod schema each:
 *
 * | key | value |
 * |---|---|
 * | `config.partitions` | {@link ConfigRecord}, created once by the first instance |
 * | `member.<instance_id>` | {@link MemberRecord}, rewritten by its instance every heartbeat |
 * | `part.<n>` | {@link PartitionRecord}, changed only by compare-and-set |
 */
import { z } from 'zod';

export const CONFIG_KEY = 'config.partitions';
export const MEMBER_PREFIX = 'member.';
export const PART_PREFIX = 'part.';

export const memberKey = (id: string): string => `${MEMBER_PREFIX}${id}`;
export const partKey = (p: number): string => `${PART_PREFIX}${p}`;

/** The deployment's fixed partition count. */
export const ConfigRecord = z.object({ partitions: z.number().int().min(1) });
export type ConfigRecord = z.infer<typeof ConfigRecord>;

/** One instance's announcement. */
export const MemberRecord = z.object({
  id: z.string(),
  host: z.string(),
  version: z.string(),
  /** Wall-clock start time (display only: liveness never compares clocks). */
  started_at: z.string(),
  /** Random per start: tells a restarted instance with the same id from its previous life. */
  incarnation: z.string(),
  lease_ms: z.number().int().positive(),
  /** Partitions it owned at its last heartbeat. */
  partitions: z.array(z.number().int().nonnegative()),
  /** True once it is shutting down: it takes no partitions and hands its own off. */
  leaving: z.boolean(),
  /** Heartbeat counter. */
  beat: z.number().int().nonnegative(),
  /**
   * The runtime's progress mark at the last heartbeat (the service: the stream sequence up to
   * which every event it stored is surely published), so a new owner knows where to look.
   */
  progress: z.number().int().nonnegative().optional(),
});
export type MemberRecord = z.infer<typeof MemberRecord>;

/** A partition's lease. */
export const PartitionRecord = z.object({
  /** The owning instance id; empty once released. */
  owner: z.string(),
  /** The owner's incarnation (empty once released). */
  incarnation: z.string(),
  /** Increases by one with every change of owner (a release keeps it). */
  epoch: z.number().int().nonnegative(),
  /** The owner's renewal counter within this epoch. */
  renewals: z.number().int().nonnegative(),
  /** The owner's lease: a claimant waits at least this long without seeing a renewal. */
  lease_ms: z.number().int().positive(),
  /** The owner is handing the partition off: commands wait for the next owner. */
  draining: z.boolean(),
  /** After a release: who released it, and whether its release hook finished (clean handoff). */
  last_owner: z.string().optional(),
  clean: z.boolean().optional(),
});
export type PartitionRecord = z.infer<typeof PartitionRecord>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encode a record for the bucket. */
export function encodeRecord(value: ConfigRecord | MemberRecord | PartitionRecord): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Decode a stored value with its schema; undefined when it is not one (someone else wrote it). */
export function decodeRecord<T>(schema: z.ZodType<T>, bytes: Uint8Array): T | undefined {
  try {
    const r = schema.safeParse(JSON.parse(decoder.decode(bytes)));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
