/**
 * The runtime core on the in-memory twins of the store ports, in virtual time: supervisor,
 * slots, publisher (with its machine), dead letters and the seed relay, exactly as the
 * service wires them, with no NATS server. Scheduled effects (module, overlay and
 * configuration files) are recorded, not rendered: the tests here are about the runtime.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { AggregateKind, EffectOutcome, EffectRequest } from '../../machines/index.js';
import type { Identity } from '../../src/domain/identity.js';
import { namedId } from '../../src/domain/ids.js';
import { subjectsFor } from '../../src/domain/subjects.js';
import type { Reply } from '../../src/runtime/commandLedger.js';
import { AggregateSupervisor } from '../../src/runtime/aggregateSupervisor.js';
import { DeadLetters } from '../../src/runtime/deadLetters.js';
import { EventPublisher } from '../../src/runtime/eventPublisher.js';
import { SeedRelay } from '../../src/runtime/seedRelay.js';
import { MemoryEventLog, MemorySeedPublisher, MemoryStateStore, type AppendRequest } from '../../src/store/index.js';
import { VirtualClock } from './virtualTime.js';

export interface RuntimeOptions {
  snapshotEvery?: number;
  awakeCap?: number;
  residentCap?: number;
  budgetMs?: number;
}

/** The runtime core, wired as the service wires it, on twins and a virtual clock. */
export class RuntimeUnderTest {
  readonly clock = new VirtualClock();
  readonly subjects = subjectsFor('t');
  readonly log = new MemoryEventLog(this.clock);
  readonly state = new MemoryStateStore();
  readonly seeds = new MemorySeedPublisher(this.subjects);
  readonly logger = pino({ level: 'silent' });
  readonly dir = mkdtempSync(join(tmpdir(), 'cim-core-'));
  readonly deadLetters = new DeadLetters(join(this.dir, '.deadletter'), this.logger);
  readonly publisher: EventPublisher;
  readonly supervisor: AggregateSupervisor;
  readonly relay: SeedRelay;
  /** Every scheduled effect handed to the host, in order. */
  readonly scheduled: EffectRequest[] = [];

  constructor(options: RuntimeOptions = {}) {
    this.publisher = new EventPublisher({
      log: this.log,
      seeds: this.seeds,
      subjects: this.subjects,
      logger: this.logger,
      clock: this.clock,
      retry: { budgetMs: options.budgetMs ?? 1_000, initialDelayMs: 10, maxDelayMs: 100 },
      deadLetter: (requests) => this.deadLetters.add(requests),
    });
    const sink = this.deadLetterSink();
    this.supervisor = new AggregateSupervisor({
      logger: this.logger,
      clock: this.clock,
      subjects: this.subjects,
      snapshotEvery: options.snapshotEvery ?? 0,
      read: (kind, id, afterSeq) => this.log.read(kind, id, afterSeq),
      storeDeferred: (events) => this.publisher.storeDeferred(events),
      loadSnapshot: (kind, id) => this.state.loadSnapshot(kind, id),
      saveSnapshot: (snapshot) => this.state.saveSnapshot(snapshot),
      hasDeadLetters: (kind, id) => this.deadLetters.has(kind, id),
      flushDeadLetters: (kind, id) => this.deadLetters.flush(sink, { kind, id }),
      runEffect: (request) => Promise.resolve(this.recorded(request)),
      scheduleEffect: (request) => {
        this.recorded(request);
      },
    });
    this.supervisor.awakeCap = options.awakeCap ?? Number.POSITIVE_INFINITY;
    this.supervisor.residentCap = options.residentCap ?? Number.POSITIVE_INFINITY;
    this.relay = new SeedRelay(this.log, this.state, this.publisher, this.logger, this.clock, { checkpointEveryMs: 100, reconnectGraceMs: 50 });
  }

  private recorded(request: EffectRequest): EffectOutcome {
    this.scheduled.push(request);
    return { type: 'effect.succeeded', kind: request.kind, result: { file: `${request.kind}:${(request as { name?: string }).name ?? ''}` } };
  }

  /** What the dead letters store through: the log and the seed subjects. */
  deadLetterSink(): { append(req: AppendRequest): Promise<{ stream_seq: number }>; read(kind: string, id: string): ReturnType<MemoryEventLog['read']>; publishSeed(req: Pick<AppendRequest, 'event' | 'fact'>): void } {
    return {
      append: (req) => this.log.append(req),
      read: (kind, id) => this.log.read(kind, id),
      publishSeed: (req) => this.publisher.publishSeed(req),
    };
  }

  /** Sends a command to an aggregate; resolves with its reply (time must be advanced for it to come). */
  send(kind: AggregateKind, id: string, event: { type: string } & Record<string, unknown>, identity: Identity = root()): Promise<Reply> {
    return new Promise((respond) => this.supervisor.route(kind, id, { type: 'command', event, identity, respond }));
  }

  /** A module command by name. */
  module(action: 'create' | 'update' | 'delete', name: string, port = 1, identity: Identity = root()): Promise<Reply> {
    const body = action === 'delete' ? {} : { module: { options: {}, config: { port }, imports: [] } };
    return this.send('module', namedId('module', name), { type: `module.${action}`, name, ...body }, identity);
  }

  /** Lets time pass until `promise` settles (at most `maxMs` of virtual time). */
  async settle<T>(promise: Promise<T>, maxMs = 60_000): Promise<T> {
    let done = false;
    const result = promise.finally(() => (done = true));
    for (let passed = 0; !done && passed < maxMs; passed += 10) await this.clock.advance(10);
    if (!done) throw new Error(`did not settle within ${maxMs} ms of virtual time`);
    return result;
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A root identity (all three ids equal). */
export function root(): Identity {
  const id = randomUUID();
  return { message_id: id, correlation_id: id, causation_id: id };
}
