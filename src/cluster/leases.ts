/**
 * The leases of the partitions this instance holds or claims: claim by compare-and-set, renew
 * on every heartbeat (compare-and-set on the revision it last wrote), fence when renewals stop
 * being acknowledged, hand off (draining flag, the runtime's release hook, then release), and
 * drop a partition whose compare-and-set another instance won. Writes to one key run one at a
 * time. The engine decides WHEN; this decides HOW.
 */
import { KvConflictError } from './errors.js';
import type { ClusterKv } from './kv.js';
import { PartitionRecord, decodeRecord, encodeRecord, partKey } from './records.js';
import type { EngineSettings } from './types.js';
import type { ClusterStats } from './types.js';
import type { SeenPartition } from './view.js';
import { ensureError } from '../errors.js';

/** The states of a held lease (serving, handing off, writing its release). */
export const LEASE_STATES = ['owned', 'draining', 'releasing'] as const;

/** A partition this instance holds. */
export interface Held {
  partition: number;
  epoch: number;
  renewals: number;
  /** The revision it last wrote (the compare-and-set base of its next write). */
  revision: number;
  /** Local time until which it may serve: send time of the last acknowledged renewal + lease − margin. */
  validUntil: number;
  state: (typeof LEASE_STATES)[number];
  fenced: boolean;
  /** Did the release hook finish (a clean handoff)? */
  clean: boolean;
  /** Writes to the key run one at a time. */
  lane: Promise<void>;
  queued: number;
}

/** What the leases tell the engine. */
export interface LeaseHost {
  readonly leaving: boolean;
  readonly stopped: boolean;
  changed(): void;
  requestReconcile(): void;
  armDeadline(at: number): void;
}

export type LeaseCounters = Pick<
  ClusterStats,
  'claims' | 'takeovers' | 'handoffs' | 'claim_conflicts' | 'claims_lost' | 'self_fenced' | 'renew_failures'
>;

const isConflict = (e: unknown): boolean => e instanceof KvConflictError;

export class Leases {
  readonly held = new Map<number, Held>();
  readonly claiming = new Set<number>();
  readonly counters: LeaseCounters = {
    claims: 0,
    takeovers: 0,
    handoffs: 0,
    claim_conflicts: 0,
    claims_lost: 0,
    self_fenced: 0,
    renew_failures: 0,
  };

  constructor(
    private readonly kv: ClusterKv,
    private readonly s: EngineSettings,
    private readonly host: LeaseHost,
  ) {}

  /** Held, and the fence not passed: checked against the clock at call time. */
  owns(p: number): boolean {
    const h = this.held.get(p);
    return h !== undefined && !this.host.stopped && this.s.clock.now() < h.validUntil;
  }

  /** The heartbeat's share: renew every held lease (or retry a pending release). */
  renewAll(): void {
    for (const h of this.held.values()) {
      if (h.queued === 0) void this.enqueue(h, () => (h.state === 'releasing' ? this.releaseWrite(h) : this.renew(h)));
    }
  }

  /** Mark the leases whose fence passed; returns the earliest fence still ahead. */
  checkFences(now: number): number {
    let next = Infinity;
    for (const h of this.held.values()) {
      if (now < h.validUntil) {
        next = Math.min(next, h.validUntil);
        continue;
      }
      // Fenced: not served until a renewal is acknowledged (nobody else claimed it meanwhile)
      // or refused (somebody did: then it is lost).
      if (!h.fenced) {
        h.fenced = true;
        this.counters.self_fenced++;
        this.s.logger.warn(
          { partition: h.partition, epoch: h.epoch },
          'lease ran out before a renewal was acknowledged: stopped serving the partition',
        );
        this.host.changed();
      }
    }
    return next;
  }

  private enqueue(h: Held, fn: () => Promise<void>): Promise<void> {
    h.queued++;
    h.lane = h.lane.then(fn).finally(() => {
      h.queued--;
    });
    return h.lane;
  }

  private leaseRecord(h: Held): PartitionRecord {
    return {
      owner: this.s.instanceId,
      incarnation: this.s.incarnation,
      epoch: h.epoch,
      renewals: h.renewals + 1,
      lease_ms: this.s.leaseMs,
      draining: h.state !== 'owned',
    };
  }

  private async renew(h: Held): Promise<void> {
    if (this.host.stopped || this.held.get(h.partition) !== h) return;
    const record = this.leaseRecord(h);
    // The lease counts from BEFORE the request left: the server may apply it any time after.
    const sentAt = this.s.clock.now();
    try {
      const rev = await this.kv.update(partKey(h.partition), encodeRecord(record), h.revision);
      if (this.host.stopped || this.held.get(h.partition) !== h) return;
      // A renewal of a lease still served changes nothing a listener sees: tell them only when it was not.
      const wasServing = this.owns(h.partition);
      h.revision = rev;
      h.renewals = record.renewals;
      h.validUntil = sentAt + this.s.leaseMs - this.s.safetyMarginMs;
      if (h.fenced) {
        h.fenced = false;
        this.s.logger.info({ partition: h.partition, epoch: h.epoch }, 'lease renewed after it had run out: serving the partition again');
      }
      this.host.armDeadline(h.validUntil);
      if (!wasServing) this.host.changed();
    } catch (e) {
      if (isConflict(e)) await this.settleConflict(h);
      else {
        this.counters.renew_failures++;
        this.s.logger.debug({ partition: h.partition, err: ensureError(e).message }, 'lease renewal failed');
      }
    }
  }

  /** A write of ours lost its compare-and-set: adopt it if the current value is our own (its answer was lost), else the partition is gone. */
  private async settleConflict(h: Held): Promise<void> {
    let cur;
    try {
      cur = await this.kv.get(partKey(h.partition));
    } catch {
      return; // try again on the next heartbeat
    }
    if (this.host.stopped || this.held.get(h.partition) !== h) return;
    const rec = cur ? decodeRecord(PartitionRecord, cur.value) : undefined;
    if (cur && rec && rec.epoch === h.epoch && rec.owner === this.s.instanceId && rec.incarnation === this.s.incarnation) {
      h.revision = cur.revision;
      h.renewals = rec.renewals;
      return;
    }
    if (cur && rec && rec.epoch === h.epoch && rec.owner === '' && rec.last_owner === this.s.instanceId && h.state === 'releasing') {
      this.released(h);
      return;
    }
    this.lose(h, rec?.owner || undefined);
  }

  private lose(h: Held, by: string | undefined): void {
    if (this.held.get(h.partition) !== h) return;
    this.held.delete(h.partition);
    this.counters.claims_lost++;
    this.s.logger.warn({ partition: h.partition, epoch: h.epoch, by }, 'partition lost without a handoff: another instance claimed it');
    this.callHook(() => this.s.hooks.lost?.(h.partition, { epoch: h.epoch, by }), 'lost', h.partition);
    this.host.changed();
    this.host.requestReconcile();
  }

  /** Claim `p` by compare-and-set on the revision this instance saw (create when it saw none). */
  async claim(p: number, seen: SeenPartition | undefined): Promise<void> {
    this.claiming.add(p);
    const prev = seen?.record;
    const epoch = (prev?.epoch ?? 0) + 1;
    const record: PartitionRecord = {
      owner: this.s.instanceId,
      incarnation: this.s.incarnation,
      epoch,
      renewals: 0,
      lease_ms: this.s.leaseMs,
      draining: false,
    };
    const sentAt = this.s.clock.now();
    try {
      const value = encodeRecord(record);
      const rev =
        !seen || (!seen.record && !seen.unreadable)
          ? await this.kv.create(partKey(p), value)
          : await this.kv.update(partKey(p), value, seen.revision);
      const h: Held = {
        partition: p,
        epoch,
        renewals: 0,
        revision: rev,
        validUntil: sentAt + this.s.leaseMs - this.s.safetyMarginMs,
        state: 'owned',
        fenced: false,
        clean: true,
        lane: Promise.resolve(),
        queued: 0,
      };
      if (this.host.stopped) return;
      this.held.set(p, h);
      this.counters.claims++;
      if (this.host.leaving) {
        // Won a race while leaving: give it straight back.
        void this.handoff(h);
        return;
      }
      const takeover = prev ? prev.owner !== '' || prev.clean === false : (seen?.unreadable ?? false);
      if (takeover) this.counters.takeovers++;
      const previousOwner = prev ? prev.owner || prev.last_owner || undefined : undefined;
      this.s.logger.info({ partition: p, epoch, previous_owner: previousOwner, takeover }, 'partition claimed');
      this.host.armDeadline(h.validUntil);
      this.host.changed();
      this.callHook(() => this.s.hooks.acquired?.(p, { epoch, previousOwner, takeover }), 'acquired', p);
    } catch (e) {
      if (isConflict(e)) this.counters.claim_conflicts++;
      else this.s.logger.debug({ partition: p, err: ensureError(e).message }, 'claim failed');
    } finally {
      this.claiming.delete(p);
    }
  }

  /** Hand `h` off: mark it draining, let the runtime release it (bounded), then release the key. */
  async handoff(h: Held): Promise<void> {
    if (h.state !== 'owned') return;
    h.state = 'draining';
    this.s.logger.info({ partition: h.partition, epoch: h.epoch, leaving: this.host.leaving }, 'handing partition off');
    this.host.changed();
    // Publish the draining flag first, so other instances hold commands instead of forwarding them here.
    await this.enqueue(h, () => this.renew(h));
    if (this.held.get(h.partition) !== h) return;
    h.clean = await this.runRelease(h.partition);
    if (this.held.get(h.partition) !== h) return;
    h.state = 'releasing';
    await this.enqueue(h, () => this.releaseWrite(h));
  }

  private async runRelease(p: number): Promise<boolean> {
    const hooks = this.s.hooks;
    if (!hooks.release) return true;
    let timer: unknown;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = this.s.clock.setTimeout(() => resolve('timeout'), this.s.handoffTimeoutMs);
    });
    try {
      const outcome = await Promise.race([hooks.release(p).then(() => 'done' as const), timedOut]);
      if (outcome === 'timeout') {
        this.s.logger.warn(
          { partition: p, timeout_ms: this.s.handoffTimeoutMs },
          'release hook did not finish in time: releasing the partition unclean',
        );
        return false;
      }
      return true;
    } catch (e) {
      this.s.logger.error({ partition: p, err: ensureError(e).message }, 'release hook failed: releasing the partition unclean');
      return false;
    } finally {
      this.s.clock.clearTimeout(timer);
    }
  }

  private async releaseWrite(h: Held): Promise<void> {
    if (this.host.stopped || this.held.get(h.partition) !== h) return;
    const record: PartitionRecord = {
      owner: '',
      incarnation: '',
      epoch: h.epoch,
      renewals: h.renewals,
      lease_ms: this.s.leaseMs,
      draining: false,
      last_owner: this.s.instanceId,
      clean: h.clean,
    };
    try {
      await this.kv.update(partKey(h.partition), encodeRecord(record), h.revision);
      this.released(h);
    } catch (e) {
      if (isConflict(e)) await this.settleConflict(h);
      else this.s.logger.debug({ partition: h.partition, err: ensureError(e).message }, 'release failed; retrying on the next heartbeat');
    }
  }

  private released(h: Held): void {
    if (this.held.get(h.partition) !== h) return;
    this.held.delete(h.partition);
    this.counters.handoffs++;
    this.s.logger.info({ partition: h.partition, epoch: h.epoch, clean: h.clean }, 'partition released');
    this.host.changed();
    this.host.requestReconcile();
  }

  private callHook(fn: () => unknown, name: string, p: number): void {
    try {
      const r = fn();
      if (r instanceof Promise)
        r.catch((e: unknown) => this.s.logger.error({ partition: p, hook: name, err: ensureError(e).message }, 'cluster hook failed'));
    } catch (e) {
      this.s.logger.error({ partition: p, hook: name, err: ensureError(e).message }, 'cluster hook failed');
    }
  }
}
