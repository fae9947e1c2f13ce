/**
 * The aggregate supervisor at run time: the supervisor machine decides what happens to a
 * command (route, hold while NATS is away, refuse while draining); its `routeCommand`
 * action is this keyed registry, which creates one slot (one actor) per `(kind, id)` on
 * first use, never two, and delivers in arrival order.
 */
import { createActor, type Actor, type InspectionEvent, type Observer } from 'xstate';
import { supervisorMachine, type AggregateKind } from '../../machines/index.js';
import { UnavailableError, toErrorReply } from '../errors.js';
import { AggregateSlot, type CommandWork, type SlotHost } from './aggregateSlot.js';

/** A command on its way to an aggregate. */
export interface RoutedCommand {
  key: string;
  kind: AggregateKind;
  id: string;
  work: CommandWork;
}

export class AggregateSupervisor {
  private readonly slots = new Map<string, AggregateSlot>();
  /** The slots with a running actor, least recently used first. */
  private readonly awakeSlots = new Map<string, AggregateSlot>();
  private held: RoutedCommand[] = [];
  private live = 0;
  readonly actor: Actor<typeof supervisorMachine>;

  constructor(host: SlotHost, inspect?: Observer<InspectionEvent>) {
    const slotHost: SlotHost = {
      ...host,
      onLoaded: (slot, loaded) => {
        this.live += loaded ? 1 : -1;
        if (loaded && this.live > this.residentCap) this.enforceCapSoon();
        host.onLoaded?.(slot, loaded);
      },
      onAwake: (slot, awake) => {
        const key = `${slot.kind}:${slot.id}`;
        if (awake) {
          this.awakeSlots.set(key, slot);
          if (this.awakeSlots.size > this.awakeCap) this.enforceAwakeCapSoon();
        } else {
          this.awakeSlots.delete(key);
        }
        host.onAwake?.(slot, awake);
      },
      onIdle: (slot) => {
        if (this.awakeSlots.size > this.awakeCap) this.enforceAwakeCapSoon();
        host.onIdle?.(slot);
      },
    };
    const machine = supervisorMachine.provide({
      actions: {
        routeCommand: (_, { command }) => this.deliver(command as RoutedCommand),
        holdCommand: (_, { command }) => {
          this.held.push(command as RoutedCommand);
        },
        releaseHeld: () => {
          const held = this.held;
          this.held = [];
          for (const c of held) this.deliver(c);
        },
        refuseCommand: (_, { command }) =>
          (command as RoutedCommand).work.respond(
            toErrorReply(new UnavailableError('the service is shutting down; send the command again to another instance or after restart')),
          ),
      },
    });
    this.actor = createActor(machine, { id: 'supervisor', ...(inspect ? { inspect } : {}) });
    this.actor.subscribe({
      next: (snapshot) => {
        this.running = snapshot.value === 'running';
      },
      error: (err) => host.logger.error({ err }, 'supervisor actor failed'),
    });
    this.actor.start();
    this.host = slotHost;
  }

  private readonly host: SlotHost;

  /** Route a command to its aggregate. */
  route(kind: AggregateKind, id: string, work: CommandWork): void {
    const inspector = this.host.inspector;
    if (inspector) {
      const { respond, event, identity } = work;
      work = {
        ...work,
        respond: (reply) => {
          inspector.replied(kind, id, event.type, identity, reply);
          respond(reply);
        },
      };
    }
    const command: RoutedCommand = { key: `${kind}:${id}`, kind, id, work };
    // Hot path: while the machine says `running`, routing is its `routeCommand` action with
    // nothing else to decide, so deliver directly (an XState transition per command cost
    // ~10 % of a command's CPU). Paused and draining go through the machine.
    if (this.running) this.deliver(command);
    else this.actor.send({ type: 'command.route', command });
  }

  /** Mirrors the machine's state: true while it is `running`. */
  private running = true;

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
  passivate(idleMs: number, cap: number, now = Date.now()): number {
    let passivated = 0;
    for (const [key, slot] of this.slots) {
      const overCap = this.live > cap;
      if (!overCap && now - slot.lastUsed < idleMs) break; // LRU order: the rest are newer
      if (slot.busy) continue;
      if (slot.loaded) passivated++;
      slot.passivate();
      this.slots.delete(key);
    }
    return passivated;
  }

  private capCheck: NodeJS.Immediate | undefined;
  private awakeCheck: NodeJS.Immediate | undefined;

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

  private enforceAwakeCapSoon(): void {
    if (this.awakeCheck) return;
    this.awakeCheck = setImmediate(() => {
      this.awakeCheck = undefined;
      this.sleepBeyondCap();
    });
  }

  /** Passivate beyond the cap once the current burst of work has been handed out. */
  private enforceCapSoon(): void {
    if (this.capCheck) return;
    this.capCheck = setImmediate(() => {
      this.capCheck = undefined;
      this.passivate(Number.POSITIVE_INFINITY, this.residentCap);
    });
  }

  /** Start the periodic passivation sweep; returns its stop. */
  startPassivation(idleMs: number, cap: number, onPassivated?: (n: number) => void): () => void {
    // At least every second, so the resident cap is restored soon after busy actors go idle.
    const every = Math.max(250, Math.min(1_000, Math.floor(idleMs / 4)));
    const timer = setInterval(() => {
      const n = this.passivate(idleMs, cap);
      if (n > 0) onPassivated?.(n);
    }, every);
    timer.unref();
    return () => clearInterval(timer);
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
    return this.slots.get(`${kind}:${id}`);
  }

  /** Stop intake, wait for in-flight work (bounded), stop every actor. */
  async drain(timeoutMs = 10_000): Promise<void> {
    if (this.actor.getSnapshot().status === 'active') this.actor.send({ type: 'drain' });
    const deadline = Date.now() + timeoutMs;
    for (const slot of this.slots.values()) {
      while (slot.busy && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    }
    for (const slot of this.slots.values()) slot.stop();
    if (this.actor.getSnapshot().status === 'active') this.actor.send({ type: 'drained' });
  }

  private deliver(command: RoutedCommand): void {
    let slot = this.slots.get(command.key);
    if (slot) {
      // Keep the maps in least-recently-used order for passivation and sleep.
      this.slots.delete(command.key);
      if (slot.awake) {
        this.awakeSlots.delete(command.key);
        this.awakeSlots.set(command.key, slot);
      }
    } else {
      slot = new AggregateSlot(command.kind, command.id, this.host);
    }
    this.slots.set(command.key, slot);
    slot.enqueue(command.work);
  }

  /** The resident cap enforced on delivery (set by the service from its configuration). */
  residentCap = Number.POSITIVE_INFINITY;

  /** At most this many running actors; idle ones beyond it sleep (set by the service). */
  awakeCap = Number.POSITIVE_INFINITY;
}
