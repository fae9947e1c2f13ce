/**
 * One aggregate instance: its XState actor, its mailbox (one work item at a time, in
 * arrival order), its command ledger (exactly-once replies) and its effects.
 * The machine decides; this slot stores the facts it records, runs the effects it asks
 * for, and answers the command once its outcome is known.
 *
 * A resident aggregate is awake (a running actor) or asleep: an idle aggregate beyond the
 * supervisor's awake cap keeps only the actor's persisted snapshot, and its next command
 * starts an actor from it again, without reading the store (see `sleep`).
 */
import type { AnyActor, Snapshot } from 'xstate';
import type { Logger } from 'pino';
import { registry, type AggregateKind, type EffectOutcome, type EffectRequest, type MachineSignal } from '../../machines/index.js';
import type { DomainEvent } from '../domain/events.js';
import { eventIdentity, type Identity } from '../domain/identity.js';
import type { OkReply } from '../domain/replies.js';
import { ConflictError, DomainError, InternalError, InvalidTransitionError, UnavailableError, ensureError, toErrorReply } from '../errors.js';
import type { AppendRequest, StoredEvent } from '../messaging/eventStore.js';
import type { PublishedEvent } from '../messaging/eventPublisher.js';
import type { AggregateSnapshot } from '../messaging/stateStore.js';
import { CommandLedger, type LedgerEntry, type LedgerRecord, type Reply, type Respond } from './commandLedger.js';
import { rehydrate, startAggregateActor } from './rehydrate.js';

export type { Reply, Respond } from './commandLedger.js';

/** A routed command for this aggregate. */
export interface CommandWork {
  type: 'command';
  event: { type: string } & Record<string, unknown>;
  identity: Identity;
  respond: Respond;
}

interface OutcomeWork {
  type: 'outcome';
  outcome: EffectOutcome;
}

type Work = CommandWork | OutcomeWork;

/** What the slot needs from the rest of the service. */
export interface SlotHost {
  readonly logger: Logger;
  readonly domain: string;
  /** Take a snapshot every N events (0 = never). */
  readonly snapshotEvery: number;
  read(kind: AggregateKind, id: string, afterSeq: number): Promise<StoredEvent[]>;
  /** Store now, publish on the seed subjects when `publish()` is called (right before the reply). */
  storeDeferred(events: AppendRequest[]): Promise<{ events: PublishedEvent[]; publish: () => void }>;
  runEffect(request: EffectRequest, ctx: { aggregate: AggregateKind; id: string; signal: AbortSignal }): Promise<EffectOutcome>;
  /** Resolves once the scheduled effects of an aggregate so far are done (awaited effects wait for it). */
  scheduledSettled?(kind: AggregateKind, id: string): Promise<void>;
  /** Run a scheduled (not awaited) effect; defaults to runEffect. Lets the host batch them. */
  scheduleEffect?(request: EffectRequest, ctx: { aggregate: AggregateKind; id: string; signal: AbortSignal }): Promise<EffectOutcome>;
  loadSnapshot?(kind: AggregateKind, id: string): Promise<AggregateSnapshot | undefined>;
  saveSnapshot?(snapshot: AggregateSnapshot): Promise<void>;
  /** Dead letters of an aggregate must be stored before it takes new commands. */
  hasDeadLetters?(kind: AggregateKind, id: string): boolean;
  flushDeadLetters?(kind: AggregateKind, id: string): Promise<void>;
  /** A scheduled (detached) effect failed: nobody waits for it, so the host reports it. */
  onScheduledFailure?(kind: AggregateKind, id: string, outcome: EffectOutcome, cause: Identity): void;
  /** Inspection (the inspector's stream): told of the actor's life, the command being handled, stored events and replies. */
  inspector?: SlotInspector;
  /** Called when the aggregate becomes resident (rebuilt from the store) or leaves memory (for the live count). */
  onLoaded?(slot: AggregateSlot, loaded: boolean): void;
  /** Called when the slot's actor starts (loaded or woken) or stops (asleep, passivated, dropped). */
  onAwake?(slot: AggregateSlot, awake: boolean): void;
  /** Called when the mailbox is empty again (the slot may be put to sleep now). */
  onIdle?(slot: AggregateSlot): void;
}

/** What the slots tell the inspection hub (src/inspection implements it). */
export interface SlotInspector {
  /** The actor was (re)built; from now on its inspection events are watched. */
  attached(kind: AggregateKind, id: string, actor: AnyActor, info: { replayed: number; fromSnapshot: boolean }): void;
  dropped(kind: AggregateKind, id: string, reason: DropReason): void;
  /** The identity of the command (or effect) whose event is being sent now; undefined after. */
  sending(cause: Identity | undefined): void;
  stored(kind: AggregateKind, id: string, events: readonly { event: DomainEvent; subject: string }[]): void;
  replied(kind: AggregateKind, id: string, command: string, cause: Identity, reply: Reply): void;
}

/** Why an actor stopped: asleep keeps the aggregate resident as its persisted snapshot. */
export type DropReason = 'passivated' | 'shutdown' | 'reloaded' | 'asleep';

interface RunningEffect {
  request: EffectRequest;
  identity: Identity;
  entries: LedgerEntry[];
}

const CONFLICT_RETRIES = 5;

const NOTHING_TO_PUBLISH = (): void => undefined;

/**
 * The signal of scheduled effects: the host owns them (it coalesces them and flushes them at
 * shutdown), so they are not aborted per aggregate and need no controller of their own.
 */
const SCHEDULED_SIGNAL = new AbortController().signal;

export class AggregateSlot {
  private actor: AnyActor | undefined;
  /** The persisted snapshot of an aggregate that is asleep (resident without an actor). */
  private asleep: Snapshot<unknown> | undefined;
  private lastStreamSeq = 0;
  private snapshotVersion = 0;
  private readonly queue: Work[] = [];
  private running = false;
  private readonly ledger = new CommandLedger();
  private effect: RunningEffect | undefined;
  /** Effects of this aggregate run one after another, in the order they were asked for. */
  private effectChain: Promise<unknown> | undefined;
  private effectsInFlight = 0;
  /** Created with the first awaited effect (most aggregates never run one). */
  private abort: AbortController | undefined;
  private stopped = false;
  private signals: MachineSignal[] = [];
  /** Last time a command touched this aggregate (ms since epoch). */
  lastUsed = Date.now();

  constructor(
    readonly kind: AggregateKind,
    readonly id: string,
    private readonly host: SlotHost,
  ) {}

  /** Queue work; the mailbox handles one item at a time. */
  enqueue(work: Work): void {
    this.queue.push(work);
    this.lastUsed = Date.now();
    if (this.running) return;
    this.running = true;
    // Not synchronously: the supervisor delivers from inside an XState action, and an actor
    // must not be driven from within another actor's action.
    queueMicrotask(() => void this.drain());
  }

  /** Resident: awake (an actor) or asleep (its persisted snapshot); else it is rebuilt from the store. */
  get loaded(): boolean {
    return this.actor !== undefined || this.asleep !== undefined;
  }

  /** A running actor. */
  get awake(): boolean {
    return this.actor !== undefined;
  }

  /** True while work is queued or being handled, or effects run: not safe to passivate. */
  get busy(): boolean {
    return this.running || this.queue.length > 0 || this.effect !== undefined || this.effectsInFlight > 0;
  }

  /** The aggregate's current state and context (undefined when not resident). */
  snapshot(): { value: unknown; context: Record<string, unknown> } | undefined {
    const s = (this.actor?.getSnapshot() ?? this.asleep) as { value: unknown; context: Record<string, unknown> } | undefined;
    return s ? { value: s.value, context: s.context } : undefined;
  }

  /**
   * Put an idle aggregate to sleep: keep the actor's persisted snapshot, stop the actor. The
   * next command starts an actor from that snapshot (no store read). Not while busy, nor in
   * a waiting state (its effect is running). Returns whether it fell asleep.
   */
  sleep(): boolean {
    if (!this.actor || this.busy) return false;
    const ctx = (this.actor.getSnapshot() as { context?: { pending_effect?: unknown } }).context;
    if (ctx?.pending_effect) return false;
    const persisted = this.actor.getPersistedSnapshot();
    this.stopActor('asleep');
    this.asleep = persisted;
    return true;
  }

  /** Passivate: stop the actor; it is rebuilt from the store on the next command. */
  passivate(): void {
    this.dropActor('passivated');
    this.ledger.clear();
  }

  /** Stop the actor and abort running effects (shutdown). */
  stop(): void {
    this.stopped = true;
    this.abort?.abort();
    this.dropActor('shutdown');
  }

  private async drain(): Promise<void> {
    try {
      let work: Work | undefined;
      while ((work = this.queue.shift()) !== undefined) {
        try {
          if (work.type === 'command') await this.handleCommand(work);
          else await this.handleOutcome(work);
        } catch (e) {
          this.host.logger.error({ err: ensureError(e), aggregate_id: this.id, aggregate_type: this.kind }, 'aggregate work failed');
          this.dropActor();
          if (work.type === 'command') work.respond(toErrorReply(e));
        }
      }
    } finally {
      this.running = false;
      this.host.onIdle?.(this);
    }
  }

  private async handleCommand(work: CommandWork): Promise<void> {
    const { identity } = work;
    if (this.ledger.answer(identity.message_id, work.respond)) return;
    if (this.host.hasDeadLetters?.(this.kind, this.id)) {
      await this.host.flushDeadLetters?.(this.kind, this.id);
      if (this.host.hasDeadLetters(this.kind, this.id)) {
        work.respond(
          toErrorReply(
            new UnavailableError(
              `${this.kind} ${this.id} has events waiting to be stored (NATS was away); send the command again once the event store answers`,
            ),
          ),
        );
        return;
      }
      this.dropActor(); // the stored dead letters are part of its history now
    }
    if (this.asleep) this.wake();
    if (!this.actor) {
      await this.load();
      if (this.ledger.answer(identity.message_id, work.respond)) return;
    }
    for (let attempt = 0; ; attempt++) {
      const before = this.version();
      const signals = this.send(work.event, identity);
      const entry: LedgerEntry = { identity, events: [], waiters: [work.respond] };
      let publishSeeds: () => void;
      try {
        publishSeeds = await this.persistFacts(signals, identity, entry);
      } catch (e) {
        if (e instanceof ConflictError && attempt < CONFLICT_RETRIES) {
          this.host.logger.info({ aggregate_id: this.id, correlation_id: identity.correlation_id, attempt }, 'concurrent writer: reloading and deciding again');
          await this.load();
          if (this.ledger.answer(identity.message_id, work.respond)) return;
          continue;
        }
        this.dropActor();
        // A transient failure is not the command's answer for ever: a retry decides again.
        if (e instanceof DomainError && !e.transient) this.ledger.remember(entry);
        return CommandLedger.finish(entry, toErrorReply(e));
      }
      this.ledger.remember(entry);
      // Events, then the reply, in one go (one socket write).
      publishSeeds();
      this.conclude(entry, signals, work.event.type, before);
      // After conclude: the snapshot's ledger must hold this command's reply, or a retry
      // after a rebuild from this snapshot would decide the command again.
      this.maybeSnapshot();
      return;
    }
  }

  /** Decide a command's reply once its facts are stored; start what it asked for. */
  private conclude(entry: LedgerEntry, signals: MachineSignal[], commandType: string, versionBefore: number): void {
    let rejected: Extract<MachineSignal, { type: 'command.rejected' }> | undefined;
    let requested: EffectRequest | undefined;
    let joined = false;
    for (const s of signals) {
      if (s.type === 'command.rejected') rejected = s;
      else if (s.type === 'effect.requested') requested = s.effect;
      else if (s.type === 'command.joined') joined = true;
      else if (s.type === 'effect.scheduled') this.schedule(s.effect, entry.identity);
    }
    if (requested) return this.startEffect(requested, entry);
    if (joined && this.effect) {
      this.effect.entries.push(entry);
      return;
    }
    if (rejected) {
      const reply: Reply = { status: 'error', code: rejected.code, message: rejected.message };
      if (rejected.details) reply.details = rejected.details;
      return CommandLedger.finish(entry, reply);
    }
    if (entry.events.length === 0 && this.version() === versionBefore) {
      return CommandLedger.finish(entry, toErrorReply(this.invalidTransition(commandType)));
    }
    CommandLedger.finish(entry, this.okReply(entry));
  }

  private async handleOutcome(work: OutcomeWork): Promise<void> {
    const effect = this.effect;
    this.effect = undefined;
    if (!effect || !this.actor) {
      this.host.logger.warn({ aggregate_id: this.id, kind: work.outcome.kind }, 'effect outcome for an aggregate that no longer waits for it');
      return;
    }
    const signals = this.send(work.outcome, effect.identity);
    const produced: LedgerEntry = { identity: effect.identity, events: [], waiters: [] };
    let publishSeeds: () => void;
    try {
      publishSeeds = await this.persistFacts(signals, effect.identity, produced);
    } catch (e) {
      this.dropActor();
      const reply = toErrorReply(e);
      for (const entry of effect.entries) {
        // A transient failure (e.g. a dead letter) is not the command's final answer: a retry
        // rebuilds the aggregate from the store and finds the outcome there.
        if (!(e instanceof DomainError) || e.transient) this.ledger.forget(entry.identity.message_id);
        CommandLedger.finish(entry, reply);
      }
      return;
    }
    if (effect.entries.length === 0) {
      // Resumed after a restart with nobody waiting: a retry finds the result in the ledger.
      this.ledger.remember(produced);
      effect.entries.push(produced);
    } else {
      for (const entry of effect.entries) entry.events.push(...produced.events);
    }
    publishSeeds();
    for (const entry of effect.entries) this.conclude(entry, signals, work.outcome.type, -1);
    this.maybeSnapshot();
  }

  private startEffect(request: EffectRequest, entry: LedgerEntry | undefined, identity = entry?.identity): void {
    this.effect = { request, identity: identity!, entries: entry ? [entry] : [] };
    void this.chain(request).then((outcome) => this.enqueue({ type: 'outcome', outcome }));
  }

  private schedule(request: EffectRequest, cause: Identity): void {
    void this.chain(request, true).then((outcome) => {
      if (outcome.type === 'effect.failed') this.host.onScheduledFailure?.(this.kind, this.id, outcome, cause);
    });
  }

  /**
   * Run an effect; never rejects. Awaited effects run one after another, after the scheduled
   * ones of the aggregate (a config is written before it is activated). Scheduled effects go
   * to the host unchained: the host coalesces them per aggregate, newest last.
   */
  private chain(request: EffectRequest, scheduled = false): Promise<EffectOutcome> {
    const failed = (e: unknown): EffectOutcome => ({
      type: 'effect.failed',
      kind: request.kind,
      code: e instanceof DomainError ? e.code : 'internal',
      message: ensureError(e).message,
    });
    if (scheduled && this.host.scheduleEffect) {
      // Not counted as busy: the host owns scheduled writes (per aggregate, newest last), so
      // the actor may be passivated meanwhile.
      return this.host.scheduleEffect(request, { aggregate: this.kind, id: this.id, signal: SCHEDULED_SIGNAL }).catch(failed);
    }
    this.abort ??= new AbortController();
    if (this.stopped) this.abort.abort();
    const ctx = { aggregate: this.kind, id: this.id, signal: this.abort.signal };
    this.effectsInFlight++;
    const run = Promise.all([this.effectChain, this.host.scheduledSettled?.(this.kind, this.id)])
      .then(() => this.host.runEffect(request, ctx))
      .catch(failed);
    this.effectChain = run;
    void run.finally(() => {
      this.effectsInFlight--;
    });
    return run;
  }

  /**
   * Store the facts among `signals` as domain events caused by `cause`. Returns the
   * publication on the seed subjects, for the caller to run right before it replies.
   */
  private async persistFacts(signals: MachineSignal[], cause: Identity, entry: LedgerEntry): Promise<() => void> {
    const appends: AppendRequest[] = [];
    const facts = registry[this.kind].facts;
    for (const s of signals) {
      if (s.type !== 'fact.recorded') continue;
      const info = facts[s.name];
      if (!info) throw new InternalError(`machine ${this.kind} recorded an unknown fact ${s.name}`);
      const event: DomainEvent = {
        identity: eventIdentity(cause),
        event_type: info.event_type,
        aggregate_type: this.kind,
        aggregate_id: this.id,
        sequence: s.sequence,
        occurred_at: new Date().toISOString(),
        ...s.data,
      };
      appends.push({ event, fact: s.name, command_id: cause.message_id, expected_last_seq: this.lastStreamSeq, msg_id: `${cause.message_id}:${s.sequence}` });
    }
    if (appends.length === 0) return NOTHING_TO_PUBLISH;
    const { events: published, publish } = await this.host.storeDeferred(appends);
    for (let i = 0; i < published.length; i++) {
      const p = published[i]!;
      const a = appends[i]!;
      this.lastStreamSeq = p.stream_seq;
      entry.events.push({ event_type: a.event.event_type, event_id: a.event.identity.message_id, subject: p.subject, sequence: a.event.sequence });
    }
    this.host.inspector?.stored(this.kind, this.id, published.map((p, i) => ({ event: appends[i]!.event, subject: p.subject })));
    return publish;
  }

  private maybeSnapshot(): void {
    const every = this.host.snapshotEvery;
    if (!this.host.saveSnapshot || every <= 0 || !this.actor) return;
    const version = this.version();
    if (version - this.snapshotVersion < every) return;
    const ctx = (this.actor.getSnapshot() as { context: { pending_effect?: unknown } }).context;
    if (ctx.pending_effect) return; // a waiting state is rebuilt from events, never from a snapshot
    this.snapshotVersion = version;
    const snapshot: AggregateSnapshot = {
      kind: this.kind,
      id: this.id,
      machine_version: registry[this.kind].version,
      stream_seq: this.lastStreamSeq,
      version,
      persisted: this.actor.getPersistedSnapshot(),
      ledger: this.ledger.records(),
      taken_at: new Date().toISOString(),
    };
    this.host.saveSnapshot(snapshot).catch((e: unknown) => this.host.logger.warn({ err: ensureError(e), aggregate_id: this.id }, 'snapshot not saved'));
  }

  private okReply(entry: LedgerEntry): OkReply {
    return {
      status: 'ok',
      command_id: entry.identity.message_id,
      aggregate_id: this.id,
      aggregate_type: this.kind,
      version: entry.events.at(-1)?.sequence ?? this.version(),
      events: entry.events,
    };
  }

  private send(event: { type: string }, cause?: Identity): MachineSignal[] {
    this.signals = [];
    const inspector = this.host.inspector;
    if (inspector) {
      inspector.sending(cause);
      try {
        this.actor!.send(event);
      } finally {
        inspector.sending(undefined);
      }
    } else {
      this.actor!.send(event);
    }
    const out = this.signals;
    this.signals = [];
    return out;
  }

  private version(): number {
    const ctx = (this.actor?.getSnapshot() as { context?: { version?: number } } | undefined)?.context;
    return ctx?.version ?? 0;
  }

  private invalidTransition(commandType: string): DomainError {
    const snap = this.actor!.getSnapshot() as { value: unknown; _nodes?: Array<{ ownEvents?: string[] }> };
    const accepted = new Set<string>();
    const facts = registry[this.kind].facts;
    for (const node of snap._nodes ?? []) for (const e of node.ownEvents ?? []) if (e.startsWith(`${this.kind}.`) && !facts[e]) accepted.add(e);
    const state = typeof snap.value === 'string' ? snap.value : JSON.stringify(snap.value);
    const list = [...accepted];
    return new InvalidTransitionError(
      `${this.kind} ${this.id} is ${state}: ${commandType} is not accepted there. ${list.length ? `Accepted now: ${list.join(', ')}.` : 'It accepts no command now.'}`,
      { state, accepted: list },
    );
  }

  /** Start an actor from the persisted snapshot of a sleeping aggregate. */
  private wake(): void {
    const persisted = this.asleep;
    this.asleep = undefined;
    this.actor = startAggregateActor(this.kind, this.id, this.host, persisted, (signal) => this.signals.push(signal));
    this.host.inspector?.attached(this.kind, this.id, this.actor, { replayed: 0, fromSnapshot: true });
    this.host.onAwake?.(this, true);
  }

  /** (Re)build the actor from the latest snapshot plus the events after it. */
  private async load(): Promise<void> {
    this.dropActor();
    const result = await rehydrate(this.kind, this.id, this.host, (signal) => this.signals.push(signal));
    this.actor = result.actor;
    this.host.onAwake?.(this, true);
    this.host.inspector?.attached(this.kind, this.id, result.actor, { replayed: result.events.length, fromSnapshot: result.snapshotVersion > 0 });
    this.lastStreamSeq = result.lastStreamSeq;
    this.snapshotVersion = result.snapshotVersion;
    if (result.ledger.length) this.ledger.restore(result.ledger as LedgerRecord[]);
    const facts = registry[this.kind].facts;
    this.ledger.replay(result.events, this.host.domain, (f) => facts[f]?.final !== false, (entry) => this.okReply(entry));
    this.host.onLoaded?.(this, true);
    this.resumePendingEffect(result.events);
  }

  /** A durable waiting state (e.g. building) survives a restart: start its effect again. */
  private resumePendingEffect(events: StoredEvent[]): void {
    const pending = (this.actor!.getSnapshot() as { context?: { pending_effect?: EffectRequest | null } }).context?.pending_effect;
    if (!pending || this.effect) return;
    const last = events.at(-1);
    const commandId = last?.command_id ?? this.id;
    const entry = this.ledger.get(commandId);
    const identity: Identity = entry?.identity ?? { message_id: commandId, correlation_id: last?.event.identity.correlation_id ?? commandId, causation_id: commandId };
    this.host.logger.info({ aggregate_id: this.id, effect: pending.kind, correlation_id: identity.correlation_id }, 'resuming an effect interrupted by a restart');
    this.startEffect(pending, entry, identity);
  }

  /** Leave memory: the next command rebuilds the aggregate from the store. */
  private dropActor(reason: DropReason = 'reloaded'): void {
    const wasLoaded = this.loaded;
    this.asleep = undefined;
    this.stopActor(reason);
    if (wasLoaded) this.host.onLoaded?.(this, false);
  }

  private stopActor(reason: DropReason): void {
    if (!this.actor) return;
    this.actor.stop();
    this.actor = undefined;
    this.host.inspector?.dropped(this.kind, this.id, reason);
    this.host.onAwake?.(this, false);
  }
}
