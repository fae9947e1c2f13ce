/**
 * The protocol of one instance, driven by its clock and its watch of the bucket: every
 * heartbeat it announces itself ({@link Membership}) and renews its leases ({@link Leases});
 * on every change it judges who is alive from its own view, assigns partitions by rendezvous
 * hashing, claims what the assignment gives it when that is free or lapsed, and hands off what
 * it should no longer own. See docs/cluster.md for the protocol and why it is safe.
 */
import { assignPartitions } from './assignment.js';
import type { ClusterKv } from './kv.js';
import { LEASE_STATES, Leases, type LeaseHost } from './leases.js';
import { Membership, type MembershipHost } from './membership.js';
import type { ClusterStats, EngineSettings } from './types.js';
import type { ClusterView, SeenPartition } from './view.js';
import { ensureError } from '../errors.js';

export class ClusterEngine implements LeaseHost, MembershipHost {
  readonly membership: Membership;
  readonly leases: Leases;
  leaving = false;
  stopped = false;
  private readonly listeners = new Set<() => void>();
  private tickTimer: unknown;
  private deadlineTimer: unknown;
  private deadlineAt = Infinity;
  private reconcileQueued = false;
  /** What listeners were last told about (compared in place: no strings built per call). */
  private readonly seen = { eligible: [] as string[], owners: [] as string[], held: new Map<number, number>() };
  private assignmentKey = '';
  private assignment: string[] = [];
  private readyAt: number;
  /** How long an unowned partition waits for its assigned member before anyone may claim it. */
  private readonly fallbackMs: number;

  constructor(
    kv: ClusterKv,
    private readonly s: EngineSettings,
  ) {
    this.fallbackMs = s.heartbeatMs;
    this.readyAt = s.clock.now();
    this.membership = new Membership(kv, s, this);
    this.leases = new Leases(kv, s, this);
  }

  get view(): ClusterView {
    return this.membership.view;
  }

  /** Counters of both halves. */
  get counters(): Omit<ClusterStats, 'members_seen' | 'partitions_owned' | 'partitions_fenced'> {
    return { ...this.leases.counters, ...this.membership.counters };
  }

  /** Load the view, announce this instance, run the first heartbeat. */
  async start(): Promise<void> {
    await this.membership.startFirstWatch();
    this.readyAt = this.s.clock.now();
    this.view.lastOwnEcho = this.readyAt;
    await this.membership.announce();
    this.tick();
  }

  owns(p: number): boolean {
    return this.leases.owns(p);
  }

  /** The serving owner in this instance's view (undefined: unowned, draining, or its lease lapsed). */
  ownerOf(p: number): string | undefined {
    const h = this.leases.held.get(p);
    if (h) return h.state === 'owned' && this.owns(p) ? this.s.instanceId : undefined;
    const seen = this.view.parts.get(p);
    const rec = seen?.record;
    if (!seen || !rec || rec.owner === '' || rec.draining || rec.owner === this.s.instanceId) return undefined;
    const vt = this.view.viewTime(this.s.clock.now());
    return vt - seen.seenAt >= Math.max(rec.lease_ms, this.s.leaseMs) ? undefined : rec.owner;
  }

  /** Members that take partitions now: live, not leaving (this instance unless it leaves). */
  eligible(vt: number): string[] {
    const out: string[] = this.leaving ? [] : [this.s.instanceId];
    for (const [id, m] of this.view.members) {
      if (id !== this.s.instanceId && !m.record.leaving && this.view.isLive(id, vt)) out.push(id);
    }
    return out.sort();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Partitions served now (announced in the member record). */
  ownedPartitions(): number[] {
    return [...this.leases.held.keys()].filter((p) => this.leases.owns(p)).sort((a, b) => a - b);
  }

  /** Partitions held but not served now (their lease ran out before a renewal was acknowledged). */
  fencedPartitions(): number {
    let n = 0;
    for (const p of this.leases.held.keys()) if (!this.leases.owns(p)) n++;
    return n;
  }

  viewChanged(what: 'member' | 'part' | 'own-lease'): void {
    // About 64 renewals a second come back as echoes: none changes what reconcile decides.
    if (what !== 'own-lease') this.requestReconcile();
  }

  private tick(): void {
    if (this.stopped) return;
    this.tickTimer = this.s.clock.setTimeout(() => this.tick(), this.s.heartbeatMs);
    void this.membership.announce();
    this.leases.renewAll();
    this.membership.watchdog();
    this.reconcile();
  }

  requestReconcile(): void {
    if (this.reconcileQueued || this.stopped) return;
    this.reconcileQueued = true;
    queueMicrotask(() => {
      this.reconcileQueued = false;
      this.reconcile();
    });
  }

  /** Fences, assignment, claims, handoffs, clean-up; then arm a timer for the next deadline. */
  private reconcile(): void {
    if (this.stopped) return;
    const me = this.s.instanceId;
    const now = this.s.clock.now();
    const vt = this.view.viewTime(now);
    let next = this.leases.checkFences(now);

    const eligible = this.eligible(vt);
    const key = eligible.join(',');
    if (key !== this.assignmentKey) {
      this.assignmentKey = key;
      this.assignment = assignPartitions(eligible, this.s.partitions);
    }
    // Deadlines of the view are in view time: converted to the local clock below.
    let nextView = Infinity;
    for (let p = 0; p < this.s.partitions; p++) {
      const target = this.assignment[p] ?? '';
      const h = this.leases.held.get(p);
      if (h) {
        if (h.state === 'owned' && !this.leaving && target !== me && target !== '') void this.leases.handoff(h);
        continue;
      }
      if (this.leaving || this.leases.claiming.has(p)) continue;
      const seen = this.view.parts.get(p);
      const verdict = this.claimable(seen, target, vt);
      if (verdict === true) void this.leases.claim(p, seen);
      else nextView = Math.min(nextView, verdict);
    }
    for (const [id, m] of this.view.members) {
      if (id === me) continue;
      const until = m.seenAt + m.record.lease_ms;
      if (vt < until) nextView = Math.min(nextView, until);
      else if (this.view.current(now) && vt - m.seenAt >= this.s.memberGcMs) this.membership.remove(id, m.revision);
      else nextView = Math.min(nextView, m.seenAt + this.s.memberGcMs);
    }
    if (this.view.current(now) && Number.isFinite(nextView)) next = Math.min(next, now + (nextView - vt));
    if (Number.isFinite(next)) this.armDeadline(next);
    this.changed();
  }

  /**
   * May this instance claim a partition now? True, or the view time from which it may.
   * Absent, deleted or released: the assigned member at once, anyone after `fallbackMs`.
   * Held by someone: once no renewal was seen for a full lease (the assigned member), or two
   * (anyone). Our own record that we no longer hold: at once.
   */
  private claimable(seen: SeenPartition | undefined, target: string, vt: number): true | number {
    const me = this.s.instanceId;
    const rec = seen?.record;
    if (!seen || (!seen.unreadable && (!rec || rec.owner === ''))) {
      if (target === me) return true;
      const at = (seen?.seenAt ?? this.readyAt) + this.fallbackMs;
      return vt >= at ? true : at;
    }
    if (rec && rec.owner === me && rec.incarnation === this.s.incarnation) return true;
    const lease = Math.max(rec?.lease_ms ?? 0, this.s.leaseMs);
    const at = seen.seenAt + lease + (target === me ? 0 : lease);
    return vt >= at ? true : at;
  }

  /** Run the reconcile at `at` (local clock) unless one is due sooner. */
  armDeadline(at: number): void {
    if (this.stopped) return;
    const now = this.s.clock.now();
    const when = Math.max(at, now + 1);
    if (when >= this.deadlineAt) return;
    if (this.deadlineTimer !== undefined) this.s.clock.clearTimeout(this.deadlineTimer);
    this.deadlineAt = when;
    this.deadlineTimer = this.s.clock.setTimeout(() => {
      this.deadlineTimer = undefined;
      this.deadlineAt = Infinity;
      this.reconcile();
    }, when - now);
  }

  /** Tell listeners when members, owners or this instance's leases changed since the last call. */
  changed(): void {
    const seen = this.seen;
    let differs = false;
    const eligible = this.eligible(this.view.viewTime(this.s.clock.now()));
    let sameMembers = eligible.length === seen.eligible.length;
    for (let i = 0; sameMembers && i < eligible.length; i++) sameMembers = eligible[i] === seen.eligible[i];
    if (!sameMembers) {
      seen.eligible = eligible;
      differs = true;
    }
    for (let p = 0; p < this.s.partitions; p++) {
      const owner = this.ownerOf(p) ?? '';
      if (seen.owners[p] !== owner) {
        seen.owners[p] = owner;
        differs = true;
      }
    }
    const held = this.leases.held;
    if (held.size !== seen.held.size) differs = true;
    for (const h of held.values()) {
      const code = LEASE_STATES.indexOf(h.state) * 2 + (this.owns(h.partition) ? 1 : 0);
      if (seen.held.get(h.partition) !== code) {
        seen.held.set(h.partition, code);
        differs = true;
      }
    }
    if (seen.held.size !== held.size) for (const p of seen.held.keys()) if (!held.has(p)) seen.held.delete(p);
    if (differs) this.notify();
  }

  private notify(): void {
    for (const l of [...this.listeners]) {
      try {
        l();
      } catch (e) {
        this.s.logger.error({ err: ensureError(e).message }, 'cluster change listener threw');
      }
    }
  }

  /** Mark leaving, hand every partition off, wait (bounded) until all are released, withdraw. */
  async leave(): Promise<void> {
    if (this.stopped || this.leaving) return;
    this.leaving = true;
    this.s.logger.info({ partitions: this.leases.held.size }, 'leaving the cluster: handing partitions off');
    await this.membership.announce();
    for (const h of this.leases.held.values()) void this.leases.handoff(h);
    // Until nothing is held (claims that were in flight are handed back too), bounded.
    let timer: unknown;
    let unsubscribe = (): void => undefined;
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.leases.held.size === 0) resolve();
      };
      unsubscribe = this.onChange(check);
      timer = this.s.clock.setTimeout(resolve, this.s.handoffTimeoutMs + this.s.leaseMs);
      check();
    });
    unsubscribe();
    this.s.clock.clearTimeout(timer);
    if (this.leases.held.size > 0) {
      this.s.logger.warn(
        { partitions: [...this.leases.held.keys()] },
        'left with partitions not released: the others take them over after the lease',
      );
    }
    await this.membership.withdraw();
  }

  /** Stop timers and the watch; release nothing (to the others, a crash). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.s.clock.clearTimeout(this.tickTimer);
    if (this.deadlineTimer !== undefined) this.s.clock.clearTimeout(this.deadlineTimer);
    this.membership.stopWatch();
    this.leases.held.clear();
    this.notify();
  }
}
