/**
 * The aggregate supervisor at run time: the keyed registry of aggregate slots (one actor per
 * `(kind, id)` on first use, never two), delivering in arrival order. The supervisor machine
 * decides the mode and every command takes one path through {@link AggregateSupervisor.route}:
 * `running` delivers, `paused` holds (NATS is away; held commands are delivered on resume),
 * `draining` and `stopped` refuse.
 */
import { createActor, type Actor } from 'xstate';
import { supervisorMachine, type AggregateKind } from '../../machines/index.js';
import { UnavailableError, toErrorReply } from '../errors.js';
import { every } from '../time/clock.js';
import { AggregateSlot } from './aggregateSlot.js';
import type { CommandWork, SlotHost, SlotRef } from './slotHost.js';

/** A command on its way to an aggregate. */
export interface RoutedCommand {
  kind: AggregateKind;
  id: string;
  work: CommandWork;
}

const keyOf = (kind: AggregateKind, id: string): string => `${kind}:${id}`;

export class AggregateSupervisor {
  private readonly slots = new Map<string, AggregateSlot>();
  /** The slots with a running actor, least recently used first. */
  private readonly awakeSlots = new Map<string, AggregateSlot>();
  private held: RoutedCommand[] = [];
  private live = 0;
  /** Resolves `drain` once the last busy slot is idle. */
  private idleWaiter: (() => void) | undefined;
  readonly actor: Actor<typeof supervisorMachine>;
  private readonly host: SlotHost;
  /** Commands delivered, held and refused, for health. */
  readonly counts = { routed: 0, held: 0, refused: 0 };

  /** The resident cap enforced on delivery (set by the service from its configuration). */
  residentCap = Number.POSITIVE_INFINITY;
  /** At most this many running actors; idle ones beyond it sleep (set by the service). */
  awakeCap = Number.POSITIVE_INFINITY;

  /**
   * Several instances (SPEC §9): the partition of an aggregate id, set by the service when it
   * runs the cluster layer; slots are then indexed by partition for handoffs.
   */
  partitionOf: ((id: string) => number) | undefined;
  private readonly byPartition = new Map<number, Set<string>>();
  /** Called whenever a slot goes idle (handoffs wait for their partition's slots). */
  private readonly idleListeners = new Set<() => void>();

  constructor(host: SlotHost) {
    const slotOf = (ref: SlotRef): AggregateSlot | undefined => this.slots.get(keyOf(ref.kind, ref.id));
    this.host = {
      ...host,
      onLoaded: (ref, loaded) => {
        this.live += loaded ? 1 : -1;
        if (loaded && this.live > this.residentCap) this.soon('cap', () => this.passivate(Number.POSITIVE_INFINITY, this.residentCap));
        host.onLoaded?.(ref, loaded);
      },
      onAwake: (ref, awake) => {
        const key = keyOf(ref.kind, ref.id);
        const slot = slotOf(ref);
        if (awake && slot) {
          this.awakeSlots.set(key, slot);
          if (this.awakeSlots.size > this.awakeCap) this.soon('awake', () => this.sleepBeyondCap());
        } else {
          this.awakeSlots.delete(key);
        }
        host.onAwake?.(ref, awake);
      },
      onIdle: (ref) => {
        if (this.awakeSlots.size > this.awakeCap) this.soon('awake', () => this.sleepBeyondCap());
        if (this.idleWaiter && !this.anyBusy()) this.idleWaiter();
        for (const listener of [...this.idleListeners]) listener();
        host.onIdle?.(ref);
      },
    };
    const machine = supervisorMachine.provide({
      actions: {
        releaseHeld: () => {
          const held = this.held;
          this.held = [];
          for (const c of held) this.deliver(c);
        },
      },
    });
    this.actor = createActor(machine, { id: 'supervisor', clock: host.clock });
    this.actor.subscribe({ error: (err) => host.logger.error({ err }, 'supervisor actor failed') });
    this.actor.start();
  }

  /** Route a command to its aggregate, as the machine's mode says. */
  route(kind: AggregateKind, id: string, work: CommandWork): void {
    const command: RoutedCommand = { kind, id, work };
    switch (this.actor.getSnapshot().value) {
      case 'running':
        return this.deliver(command);
      case 'paused':
        this.counts.held++;
        this.held.push(command);
        return;
      default:
        this.counts.refused++;
        work.respond(toErrorReply(new UnavailableError('the service is shutting down; send the command again to another instance or after restart')));
    }
  }

  /** Pause intake (NATS away): commands are held, not dropped. */
  pause(reason: string): void {
    this.actor.send({ type: 'intake.pause', reason });
  }

  resume(): void {
    this.actor.send({ type: 'intake.resume' });
  }

  /**
   * Passivate idle aggregates (idle longer than `idleMs`) and, beyond `cap` resident actors,
   * the least recently used ones. Busy aggregates are never passivated.
   */
  passivate(idleMs: number, cap: number, now = this.host.clock.now()): number {
    let passivated = 0;
    for (const [key, slot] of this.slots) {
      const overCap = this.live > cap;
      if (!overCap && now - slot.lastUsed < idleMs) break; // LRU order: the rest are newer
      if (slot.busy) continue;
      if (slot.loaded) passivated++;
      slot.passivate();
      this.remove(key, slot);
    }
    return passivated;
  }

  /** The resident slots of partition `p` (none unless {@link partitionOf} is set). */
  partitionSlots(p: number): AggregateSlot[] {
    const out: AggregateSlot[] = [];
    for (const key of this.byPartition.get(p) ?? []) {
      const slot = this.slots.get(key);
      if (slot) out.push(slot);
    }
    return out;
  }

  /**
   * Hand partition `p` off (its commands already wait for the next owner): wait, bounded on the
   * clock, until its aggregates are idle (in-flight commands and effects finish), write their
   * snapshots, passivate them. Aggregates still busy at the bound are stopped (effects aborted;
   * their callers get `unavailable` and retry at the next owner). Returns the counts.
   */
  async releasePartition(p: number, timeoutMs: number): Promise<{ aggregates: number; stopped: number }> {
    const busy = (): boolean => this.partitionSlots(p).some((s) => s.busy);
    if (busy()) await this.whenIdle(() => !busy(), timeoutMs);
    const slots = this.partitionSlots(p);
    await Promise.all(slots.filter((s) => !s.busy).map((s) => s.snapshotNow()));
    let stopped = 0;
    for (const slot of slots) {
      if (slot.busy) {
        stopped++;
        slot.stop();
      }
      slot.passivate();
      this.remove(keyOf(slot.kind, slot.id), slot);
    }
    return { aggregates: slots.length, stopped };
  }

  /** Drop partition `p`'s aggregates at once (lost without a handoff): effects aborted, nothing saved. */
  dropPartition(p: number): number {
    const slots = this.partitionSlots(p);
    for (const slot of slots) {
      slot.stop();
      slot.passivate();
      this.remove(keyOf(slot.kind, slot.id), slot);
    }
    return slots.length;
  }

  /** Make an aggregate resident without a command: a waiting state (a build) resumes its effect. */
  touch(kind: AggregateKind, id: string): void {
    this.slotFor(kind, id).ensureLoaded();
  }

  /** Resolves once `done()` holds after a slot went idle, or after `timeoutMs` on the clock. */
  private whenIdle(done: () => boolean, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        this.idleListeners.delete(check);
        this.host.clock.clearTimeout(timer);
        resolve();
      };
      const check = (): void => {
        if (done()) finish();
      };
      const timer = this.host.clock.setTimeout(finish, timeoutMs);
      this.idleListeners.add(check);
    });
  }

  private remove(key: string, slot: AggregateSlot): void {
    if (this.slots.get(key) !== slot) return;
    this.slots.delete(key);
    this.awakeSlots.delete(key);
    if (this.partitionOf) {
      const p = this.partitionOf(slot.id);
      const set = this.byPartition.get(p);
      set?.delete(key);
      if (set?.size === 0) this.byPartition.delete(p);
    }
  }

  /**
   * Beyond `awakeCap` running actors, put the least recently used idle ones to sleep (they
   * stay resident as persisted snapshots). Returns how many fell asleep.
   */
  sleepBeyondCap(cap = this.awakeCap): number {
    let slept = 0;
    for (const slot of this.awakeSlots.values()) {
      if (this.awakeSlots.size <= cap) break;
      if (slot.sleep()) slept++;
    }
    return slept;
  }

  private readonly pending = new Set<string>();

  /** Run `fn` once the current burst of work has been handed out (at most one per `what`). */
  private soon(what: string, fn: () => void): void {
    if (this.pending.has(what)) return;
    this.pending.add(what);
    this.host.clock.setTimeout(() => {
      this.pending.delete(what);
      fn();
    }, 0);
  }

  /** Start the periodic passivation sweep; returns its stop. */
  startPassivation(idleMs: number, cap: number, onPassivated?: (n: number) => void): () => void {
    // At least every second, so the resident cap is restored soon after busy actors go idle.
    const interval = Math.max(250, Math.min(1_000, Math.floor(idleMs / 4)));
    return every(this.host.clock, interval, () => {
      const n = this.passivate(idleMs, cap);
      if (n > 0) onPassivated?.(n);
    });
  }

  /** Resident aggregates: awake (a running actor) or asleep (a persisted snapshot). */
  get liveCount(): number {
    return this.live;
  }

  /** Aggregates with a running actor. */
  get awakeCount(): number {
    return this.awakeSlots.size;
  }

  /** The slot of an aggregate, if it was ever touched in this process. */
  slot(kind: AggregateKind, id: string): AggregateSlot | undefined {
    return this.slots.get(keyOf(kind, id));
  }

  /** Stop intake, wait for in-flight work (bounded on the clock), stop every actor. */
  async drain(timeoutMs = 10_000): Promise<void> {
    if (this.actor.getSnapshot().status === 'active') this.actor.send({ type: 'drain' });
    if (this.anyBusy()) {
      await new Promise<void>((resolve) => {
        const timer = this.host.clock.setTimeout(() => finish(), timeoutMs);
        const finish = (): void => {
          this.idleWaiter = undefined;
          this.host.clock.clearTimeout(timer);
          resolve();
        };
        this.idleWaiter = finish;
      });
    }
    for (const slot of this.slots.values()) slot.stop();
    if (this.actor.getSnapshot().status === 'active') this.actor.send({ type: 'drained' });
  }

  private anyBusy(): boolean {
    for (const slot of this.slots.values()) if (slot.busy) return true;
    return false;
  }

  private deliver(command: RoutedCommand): void {
    this.counts.routed++;
    this.slotFor(command.kind, command.id).enqueue(command.work);
  }

  /** The aggregate's slot (created on first use), moved to the most recently used end. */
  private slotFor(kind: AggregateKind, id: string): AggregateSlot {
    const key = keyOf(kind, id);
    let slot = this.slots.get(key);
    if (slot) {
      // Keep the maps in least-recently-used order for passivation and sleep.
      this.slots.delete(key);
      if (slot.awake) {
        this.awakeSlots.delete(key);
        this.awakeSlots.set(key, slot);
      }
    } else {
      slot = new AggregateSlot(kind, id, this.host);
      if (this.partitionOf) {
        const p = this.partitionOf(id);
        let set = this.byPartition.get(p);
        if (!set) this.byPartition.set(p, (set = new Set()));
        set.add(key);
      }
    }
    this.slots.set(key, slot);
    return slot;
  }
}
