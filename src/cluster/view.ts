/**
 * One instance's view of the bucket: every member and partition record it has seen through
 * its watch, each with the time (on its OWN clock) at which it first saw that revision. All
 * judgements — is a member alive, has a lease lapsed — compare this receipt time with the
 * same clock, so the clocks of different machines never have to agree.
 *
 * The view also knows whether its watch is current: the instance's own heartbeats must come
 * back through it. While they do not, the view's time stops advancing ({@link ClusterView.viewTime}),
 * so a stalled watch never makes others look dead.
 */
import type { KvChange } from './kv.js';
import { MEMBER_PREFIX, MemberRecord, PART_PREFIX, PartitionRecord, decodeRecord } from './records.js';

/** A member as last seen. */
export interface SeenMember {
  record: MemberRecord;
  revision: number;
  /** Local time the revision was first seen. */
  seenAt: number;
}

/** A partition key as last seen. `record` is undefined when it was deleted or holds something unreadable. */
export interface SeenPartition {
  record: PartitionRecord | undefined;
  revision: number;
  seenAt: number;
  /** True when the value could not be read as a {@link PartitionRecord} (treated as a stale owner). */
  unreadable: boolean;
}

export class ClusterView {
  readonly members = new Map<string, SeenMember>();
  readonly parts = new Map<number, SeenPartition>();
  /** Local time the instance last saw its own heartbeat come back. */
  lastOwnEcho: number;
  /** Highest revision of its own member key it has seen. */
  ownRevision = 0;

  constructor(
    private readonly selfId: string,
    private readonly incarnation: string,
    private readonly partitions: number,
    /** How long the view trusts itself after the last own echo. */
    private readonly echoGraceMs: number,
    now: number,
  ) {
    this.lastOwnEcho = now;
  }

  /**
   * Fold one watched change in. Returns what it touched: `own-lease` is this incarnation's own
   * claim or renewal of a partition coming back (nothing the engine decides on changed: its
   * lease state moves on the write's acknowledgement, not on the echo).
   */
  apply(c: KvChange, now: number): 'member' | 'part' | 'own-lease' | undefined {
    if (c.key.startsWith(MEMBER_PREFIX)) {
      const id = c.key.slice(MEMBER_PREFIX.length);
      const prev = this.members.get(id);
      if (prev && prev.revision >= c.revision) return undefined;
      const record = c.operation === 'PUT' ? decodeRecord(MemberRecord, c.value) : undefined;
      if (!record) {
        this.members.delete(id);
        return 'member';
      }
      if (id === this.selfId && record.incarnation === this.incarnation) {
        this.regainSight(now);
        this.lastOwnEcho = now;
        this.ownRevision = Math.max(this.ownRevision, c.revision);
      }
      this.members.set(id, { record, revision: c.revision, seenAt: now });
      return 'member';
    }
    if (c.key.startsWith(PART_PREFIX)) {
      const p = Number(c.key.slice(PART_PREFIX.length));
      if (!Number.isInteger(p) || p < 0 || p >= this.partitions) return undefined;
      const prev = this.parts.get(p);
      if (prev && prev.revision >= c.revision) return undefined;
      const record = c.operation === 'PUT' ? decodeRecord(PartitionRecord, c.value) : undefined;
      this.parts.set(p, { record, revision: c.revision, seenAt: now, unreadable: c.operation === 'PUT' && !record });
      if (record && record.owner === this.selfId && record.incarnation === this.incarnation && !record.draining && prev?.record?.owner === this.selfId) return 'own-lease';
      return 'part';
    }
    return undefined;
  }

  /**
   * The view was blind (its own heartbeats did not come back: watch stalled, or the bucket had
   * no leader) from the moment its time froze until now. Nothing seen or missed in that window
   * counts: every earlier receipt time moves forward by the blind span, so an owner whose
   * renewals were blocked by the same outage gets a whole lease to renew before anyone claims.
   */
  private regainSight(now: number): void {
    const frozenAt = this.lastOwnEcho + this.echoGraceMs;
    const blind = now - frozenAt;
    if (blind <= 0) return;
    for (const m of this.members.values()) if (m.seenAt <= frozenAt) m.seenAt = Math.min(now, m.seenAt + blind);
    for (const p of this.parts.values()) if (p.seenAt <= frozenAt) p.seenAt = Math.min(now, p.seenAt + blind);
  }

  /**
   * The time judgements are made at: now while the watch is current, frozen at the last own
   * echo plus the grace while it is not (so nobody is declared dead on a stale view).
   */
  viewTime(now: number): number {
    return Math.min(now, this.lastOwnEcho + this.echoGraceMs);
  }

  /** True while the view is current (its own heartbeats come back). */
  current(now: number): boolean {
    return now <= this.lastOwnEcho + this.echoGraceMs;
  }

  /** Is `id` (not this instance) alive at view time `vt`: its record changed within its lease. */
  isLive(id: string, vt: number): boolean {
    const m = this.members.get(id);
    return m !== undefined && vt - m.seenAt < m.record.lease_ms;
  }
}
