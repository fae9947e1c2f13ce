/**
 * Several instances of the runtime in virtual time, with no NATS server: each with its own
 * supervisor, publisher, command intake, partition router, fencing and partition hooks, as the
 * service wires them; all sharing one event log and state store twin (the JetStream stream and
 * KV bucket), one in-memory KV server for the cluster bucket, and an in-memory message bus for
 * forwarded commands. One XState SimulatedClock drives everything; an instance's clock can be
 * paused like a process under SIGSTOP.
 */
import { randomUUID } from 'node:crypto';
import type { Msg, MsgHdrs, Payload, PublishOptions } from '@nats-io/transport-node';
import { pino } from 'pino';
import type { EffectOutcome, EffectRequest } from '../../machines/index.js';
import { MemoryKvServer, partitionOf, type ClusterClock, type MemoryKvConnection } from '../../src/cluster/index.js';
import { subjectsFor } from '../../src/domain/subjects.js';
import { CommandIntake } from '../../src/intake/commandIntake.js';
import { ErrorTopic, type RecordPublisher } from '../../src/intake/errorTopic.js';
import { startProjections, type RunningProjections } from '../../src/projections/index.js';
import { kindProjections } from '../../src/aggregates/index.js';
import { AggregateSupervisor } from '../../src/runtime/aggregateSupervisor.js';
import { Fencing, startClusterRuntime, type ClusterRuntime } from '../../src/runtime/clusterRuntime.js';
import { EventPublisher } from '../../src/runtime/eventPublisher.js';
import type { RouteBus } from '../../src/runtime/partitionRouter.js';
import { SeedRelay } from '../../src/runtime/seedRelay.js';
import { MemoryEventLog, MemorySeedPublisher, MemoryStateStore } from '../../src/store/index.js';
import { VirtualClock } from './virtualTime.js';

/** A clock whose timers wait while "stopped" (SIGSTOP) as virtual time goes on. */
export class PausableClock implements ClusterClock {
  private paused = false;
  private readonly held: (() => void)[] = [];
  constructor(private readonly inner: VirtualClock) {}
  now(): number {
    return this.inner.now();
  }
  setTimeout(fn: () => void, ms: number): unknown {
    return this.inner.setTimeout(() => (this.paused ? this.held.push(fn) : fn()), ms);
  }
  clearTimeout(handle: unknown): void {
    this.inner.clearTimeout(handle as number);
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    for (const fn of this.held.splice(0)) fn();
  }
}

/** A request as a client sends it: the answers it gets are kept. */
export interface Request extends Msg {
  answers: Array<Record<string, unknown>>;
}

export function request(subject: string, body: unknown, messageId: string = randomUUID()): Request {
  const answers: Array<Record<string, unknown>> = [];
  const payload = { ...(body as Record<string, unknown>), identity: { message_id: messageId, correlation_id: messageId, causation_id: messageId } };
  return {
    subject,
    reply: `_INBOX.${messageId}`,
    sid: 1,
    data: new TextEncoder().encode(JSON.stringify(payload)),
    answers,
    respond(data?: Payload) {
      const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
      answers.push(JSON.parse(text) as Record<string, unknown>);
      return true;
    },
    json: () => payload,
    string: () => JSON.stringify(payload),
  } as unknown as Request;
}

/** A successful outcome of an effect, with the result its machine expects (a build: store paths). */
export function succeeded(req: EffectRequest): EffectOutcome {
  const result =
    req.kind === 'package.build' ? { store_paths: { out: '/nix/store/00000000000000000000000000000000-x' }, drv_path: '/nix/store/x.drv', duration_ms: 1 } : {};
  return { type: 'effect.succeeded', kind: req.kind, result };
}

class RecordTwin implements RecordPublisher {
  readonly records: Array<{ subject: string; record: Record<string, unknown> }> = [];
  readonly info = { max_payload: 1024 * 1024 };
  publish(subject: string, body: string): void {
    this.records.push({ subject, record: JSON.parse(body) as Record<string, unknown> });
  }
}

/** What a test may change per instance. */
export interface InstanceOptions {
  /** How an awaited effect (a build) runs here; default: succeeds at once. */
  runEffect?: (request: EffectRequest) => Promise<EffectOutcome>;
  /** Longest a command waits for an owner (default 8000 ms). */
  waitMs?: number;
  /** Routing on (default) or off (the queue-group behaviour before SPEC §9). */
  routing?: boolean;
  /** Run read models (needed for settling building packages after a takeover). */
  readModels?: boolean;
}

export class Instance {
  readonly logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
  readonly publisher: EventPublisher;
  readonly supervisor: AggregateSupervisor;
  readonly fencing: Fencing;
  readonly records = new RecordTwin();
  readonly clock: PausableClock;
  readonly conn: MemoryKvConnection;
  /** Awaited effects asked of this instance, in order. */
  readonly effects: EffectRequest[] = [];
  rt!: ClusterRuntime<Msg>;
  relay!: SeedRelay;
  intake!: CommandIntake;
  projections: RunningProjections | undefined;
  alive = true;

  constructor(
    readonly id: string,
    readonly fleet: Fleet,
    readonly options: InstanceOptions,
  ) {
    this.clock = new PausableClock(fleet.clock);
    this.conn = fleet.server.connect();
    this.fencing = new Fencing(fleet.clock);
    this.publisher = new EventPublisher({
      log: fleet.log,
      seeds: fleet.seeds,
      subjects: fleet.subjects,
      logger: this.logger,
      clock: fleet.clock,
      retry: { budgetMs: 1_000, initialDelayMs: 10, maxDelayMs: 100 },
      deadLetter: () => undefined,
    });
    this.supervisor = new AggregateSupervisor({
      logger: this.logger,
      clock: fleet.clock,
      subjects: fleet.subjects,
      snapshotEvery: 0,
      read: (kind, aggId, afterSeq) => fleet.log.read(kind, aggId, afterSeq),
      storeDeferred: async (events) => {
        const stored = await this.publisher.storeDeferred(events);
        for (const e of events) fleet.writers.set(e.event.identity.message_id, this.id);
        return stored;
      },
      loadSnapshot: (kind, aggId) => fleet.state.loadSnapshot(kind, aggId),
      saveSnapshot: (snapshot) => fleet.state.saveSnapshot(snapshot),
      runEffect: (req) => {
        this.effects.push(req);
        return this.options.runEffect?.(req) ?? Promise.resolve(succeeded(req));
      },
      scheduleEffect: () => undefined,
      mayStore: (slot) => this.fencing.mayStore(slot),
      onConflict: (slot) => this.fencing.conflict(slot),
    });
  }

  async start(): Promise<void> {
    const fleet = this.fleet;
    this.supervisor.partitionOf = fleet.partitionOf;
    // The publication mark (announced with every heartbeat) is the relay's checkpoint.
    this.relay = new SeedRelay(fleet.log, fleet.state, this.publisher, this.logger, fleet.clock, { checkpointEveryMs: 100, reconnectGraceMs: 50 });
    await this.relay.start();
    if (this.options.readModels) this.projections = await startProjections({ log: fleet.log, kinds: kindProjections, logger: this.logger });
    const models = this.projections?.models;
    this.rt = await startClusterRuntime({
      kv: this.conn,
      clock: this.clock,
      subjects: fleet.subjects,
      instanceId: this.id,
      version: '1.0.0',
      partitions: fleet.partitions,
      leaseMs: fleet.leaseMs,
      replicas: 1,
      handoffTimeoutMs: 10_000,
      logger: this.logger,
      local: this.supervisor,
      bus: fleet.bus.for(this),
      routing: this.options.routing ?? true,
      waitMs: this.options.waitMs ?? 8_000,
      fencing: this.fencing,
      progress: () => this.publisher.watermark.committed,
      hooks: {
        supervisor: this.supervisor,
        clock: fleet.clock,
        releaseBoundMs: 9_000,
        ...(models ? { models } : {}),
        log: fleet.log,
        publishSeed: (req) => this.publisher.publishSeed(req),
        progressOf: (instance) => this.rt.cluster.members().find((m) => m.id === instance)?.progress,
      },
    });
    this.intake = new CommandIntake({
      subjects: fleet.subjects,
      logger: this.logger,
      supervisor: this.rt.route,
      errors: new ErrorTopic(this.records, fleet.subjects, this.logger),
      guardPath: () => ({ ok: true }),
      commandTimeoutMs: 600_000,
      clock: fleet.clock,
    });
    this.rt.router.listen((msg) => this.intake.handle(msg));
  }

  /** Send a command to this instance (as the queue group would deliver it). */
  send(subject: string, body: unknown, messageId?: string): Request {
    const r = request(subject, body, messageId);
    this.intake.handle(r);
    return r;
  }

  /** Crash: no handoff, no more messages; the others take over after the lease. */
  async crash(): Promise<void> {
    this.alive = false;
    await this.rt.stop();
    this.supervisor.pause('crashed');
    await this.relay.stop();
  }

  async dispose(): Promise<void> {
    if (this.alive) {
      await this.rt.stop();
      await this.relay.stop();
    }
    this.alive = false;
    await this.projections?.stop();
  }
}

/** Forwards between instances: `t.route.<id>.>` to that instance; a command subject to any listening instance. */
class MemoryBus {
  readonly listeners = new Map<string, { instance: Instance; handler: (msg: Msg) => void }>();
  /** Forwards that found nobody (as a NATS publish without subscribers). */
  dropped = 0;
  /** Every forward: subject, and the message's payload, headers and reply as sent. */
  readonly sent: Array<{ subject: string; data: Uint8Array; headers: MsgHdrs | undefined; reply: string | undefined }> = [];

  constructor(private readonly fleet: Fleet) {}

  for(instance: Instance): RouteBus<Msg> {
    return {
      forward: (subject, routable) => {
        const msg = routable as Msg;
        this.sent.push({ subject, data: msg.data, headers: msg.headers, reply: msg.reply });
        queueMicrotask(() => this.deliver(subject, msg));
      },
      listen: (subject, handler) => {
        this.listeners.set(subject.replace(/>$/, ''), { instance, handler });
        return () => {
          this.listeners.delete(subject.replace(/>$/, ''));
          return Promise.resolve();
        };
      },
    };
  }

  private deliver(subject: string, msg: Msg): void {
    for (const [prefix, l] of this.listeners) {
      if (!subject.startsWith(prefix) || !l.instance.alive) continue;
      // As the NATS bus does (src/intake/routeBus.ts): the original subject, the hops, the message as received.
      const routed = this.fleet.subjects.parseRouted(subject);
      const delivered = wrap(subject, msg);
      l.handler(routed ? Object.assign(wrap(routed.command, msg), { hops: routed.hops, received: delivered }) : delivered);
      return;
    }
    const queue = [...this.fleet.instances.values()].find((i) => i.alive && subject.startsWith(`${this.fleet.subjects.prefix}.cmd.`));
    if (queue) queue.intake.handle(wrap(subject, msg));
    else this.dropped++;
  }
}

/** The message as delivered on `subject`: same payload, headers and reply (answers go to the original). */
function wrap(subject: string, msg: Msg): Msg {
  return {
    subject,
    sid: msg.sid,
    data: msg.data,
    ...(msg.reply !== undefined ? { reply: msg.reply } : {}),
    ...(msg.headers !== undefined ? { headers: msg.headers } : {}),
    respond: (payload?: Payload, opts?: PublishOptions) => msg.respond(payload, opts),
    json: <T>() => msg.json<T>(),
    string: () => msg.string(),
  };
}

export class Fleet {
  readonly clock = new VirtualClock();
  readonly server = new MemoryKvServer({ clock: this.clock, timeoutMs: 500 });
  readonly subjects = subjectsFor('t');
  readonly log = new MemoryEventLog(this.clock);
  readonly state = new MemoryStateStore();
  readonly seeds = new MemorySeedPublisher(this.subjects);
  readonly bus = new MemoryBus(this);
  readonly instances = new Map<string, Instance>();
  /** Which instance stored each event (by event id): what the X-Nix-Writer header records in JetStream. */
  readonly writers = new Map<string, string>();

  constructor(
    readonly partitions = 8,
    readonly leaseMs = 3_000,
  ) {}

  readonly partitionOf = (id: string): number => partitionOf(id, this.partitions);

  async start(id: string, options: InstanceOptions = {}): Promise<Instance> {
    const instance = new Instance(id, this, options);
    this.instances.set(id, instance);
    await instance.start();
    return instance;
  }

  /** Let virtual time pass (promise jobs run between steps). */
  advance(ms: number, step = 10): Promise<void> {
    return this.clock.advance(ms, step);
  }

  /** Advance until `done()` holds (at most `maxMs` of virtual time). */
  async until(done: () => boolean, maxMs = 30_000): Promise<number> {
    const from = this.clock.now();
    while (!done()) {
      if (this.clock.now() - from > maxMs) throw new Error(`not within ${maxMs} ms of virtual time`);
      await this.clock.advance(10, 10);
    }
    return this.clock.now() - from;
  }

  /** Every partition owned by exactly one live instance, and all live instances agree. */
  settled(): boolean {
    const live = [...this.instances.values()].filter((i) => i.alive);
    for (let p = 0; p < this.partitions; p++) {
      const owners = live.filter((i) => i.rt.cluster.owns(p));
      if (owners.length !== 1) return false;
      if (live.some((i) => i.rt.cluster.ownerOf(p) !== owners[0]!.id)) return false;
    }
    return true;
  }

  async dispose(): Promise<void> {
    for (const i of this.instances.values()) await i.dispose();
  }
}
