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
import { registry, type AggregateKind, type EffectOutcome, type EffectRequest, type MachineSignal } from '../../machines/index.js';
import type { DomainEvent } from '../domain/events.js';
import { eventIdentity, type Identity } from '../domain/identity.js';
import type { EventRef, OkReply } from '../domain/replies.js';
import { ConflictError, DomainError, InternalError, InvalidTransitionError, UnavailableError, ensureError, toErrorReply } from '../errors.js';
import type { AggregateSnapshot, AppendRequest, StoredEvent } from '../store/index.js';
import { backoff, sleep } from '../time/clock.js';
import { AggregateEffects } from './aggregateEffects.js';
import { CommandLedger, NO_EVENTS, type LedgerEntry, type LedgerRecord, type Reply, type Respond } from './commandLedger.js';
import { rehydrate, startAggregateActor } from './rehydrate.js';
import type { CommandWork, DropReason, Refusal, SlotHost } from './slotHost.js';

export type { Reply, Respond } from './commandLedger.js';
export type { CommandWork, DropReason, Refusal, SlotHost, SlotInspector } from './slotHost.js';

interface OutcomeWork {
  type: 'outcome';
  outcome: EffectOutcome;
}

/** Become resident without a command (a new owner settles an aggregate left waiting for an effect). */
interface LoadWork {
  type: 'load';
}

type Work = CommandWork | OutcomeWork | LoadWork;

/** The effect an aggregate waits for, and the commands waiting with it. */
interface RunningEffect {
  request: EffectRequest;
  identity: Identity;
  entries: LedgerEntry[];
}

/** How often a command is decided again after another writer changed its aggregate. */
const CONFLICT_RETRIES = 5;
/** The wait between those attempts (the service's one back-off). */
const conflictBackoff = backoff({ initialMs: 2, maxMs: 50 });

function refusalReply(r: Refusal): Reply {
  return r.details === undefined ? { status: 'error', code: r.code, message: r.message } : { status: 'error', code: r.code, message: r.message, details: r.details };
}

/**
 * JetStream's duplicate key of one stored fact. The window is the whole stream's, so the key
 * names the aggregate too: a message id that another aggregate's command already used never
 * makes this command's event look stored (it would be answered `ok` and not be there).
 */
export function dedupKey(aggregateId: string, commandId: string, sequence: number): string {
  return `${aggregateId}:${commandId}:${sequence}`;
}

const NOTHING_TO_PUBLISH = (): void => undefined;

export class AggregateSlot {
  private actor: AnyActor | undefined;
  /** The persisted snapshot of an aggregate that is asleep (resident without an actor). */
  private asleep: Snapshot<unknown> | undefined;
  private lastStreamSeq = 0;
  /** When the last store passed the ownership check (clock ms): logged with a conflict. */
  private storeCheckedAt = 0;
  private snapshotVersion = 0;
  private readonly queue: Work[] = [];
  private running = false;
  private readonly ledger = new CommandLedger();
  private effect: RunningEffect | undefined;
  private readonly effects: AggregateEffects;
  private signals: MachineSignal[] = [];
  /** Last time a command touched this aggregate (on the host's clock). */
  lastUsed: number;

  constructor(
    readonly kind: AggregateKind,
    readonly id: string,
    private readonly host: SlotHost,
  ) {
    this.effects = new AggregateEffects(kind, id, host);
    this.lastUsed = host.clock.now();
  }

  /** Queue work; the mailbox handles one item at a time. */
  enqueue(work: Work): void {
    this.queue.push(work);
    this.lastUsed = this.host.clock.now();
    if (this.running) return;
    this.running = true;
    // Not synchronously: an actor must not be driven from within another actor's action.
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
    return this.running || this.queue.length > 0 || this.effect !== undefined || this.effects.busy;
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
    if (!this.actor || this.busy || this.pendingEffect()) return false;
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
    this.effects.stop();
    this.dropActor('shutdown');
  }

  /** Write a snapshot now, if the aggregate is awake and not waiting (a handoff does this); resolves once saved. */
  snapshotNow(): Promise<void> {
    return this.maybeSnapshot(true) ?? Promise.resolve();
  }

  /** Become resident now, without a command: a waiting state's effect starts again. */
  ensureLoaded(): void {
    this.enqueue({ type: 'load' });
  }

  private async drain(): Promise<void> {
    try {
      let work: Work | undefined;
      while ((work = this.queue.shift()) !== undefined) {
        try {
          if (work.type === 'command') await this.handleCommand(work);
          else if (work.type === 'outcome') await this.handleOutcome(work);
          else if (!this.actor && !this.asleep) await this.load();
        } catch (e) {
          this.host.logger.error({ err: ensureError(e), aggregate_id: this.id, aggregate_type: this.kind }, 'aggregate work failed');
          this.dropActor();
          if (work.type === 'command') work.respond(toErrorReply(e));
        }
      }
    } finally {
      this.running = false;
      if (!this.busy) this.host.onIdle?.(this);
    }
  }

  /**
   * One command, top to bottom (the shape of emmett's handleCommand): a retry is answered from
   * the ledger; dead letters are stored first; the aggregate is loaded; the machine decides;
   * input that cannot be rendered is refused; the facts are appended with the expected last
   * sequence; on a conflict the aggregate is reloaded and decides again after a back-off;
   * then the command is concluded (events published, reply, effects, snapshot).
   */
  private async handleCommand(work: CommandWork): Promise<void> {
    const { identity } = work;
    const respond = this.replyTo(work);
    if (this.ledger.answer(identity.message_id, respond)) return;
    if (this.host.hasDeadLetters?.(this.kind, this.id) && !(await this.storeDeadLetters(respond))) return;
    for (let attempt = 1; ; attempt++) {
      if (this.asleep) this.wake();
      if (!this.actor) {
        await this.load();
        if (this.ledger.answer(identity.message_id, respond)) return;
      }
      const before = this.version();
      const signals = this.send(work.event, identity);
      const entry: LedgerEntry = { identity, events: NO_EVENTS, reply: undefined, waiters: [respond] };
      const checked = this.checkScheduled(signals);
      const refused = checked instanceof Promise ? await checked : checked;
      if (refused) {
        // Nothing is stored: the decision is undone (the next command rebuilds the actor).
        this.dropActor();
        this.ledger.remember(entry);
        return CommandLedger.finish(entry, refused);
      }
      let publishSeeds: () => void;
      try {
        publishSeeds = await this.persistFacts(signals, identity, entry, 'command');
      } catch (e) {
        this.dropActor();
        if (e instanceof ConflictError) this.host.onConflict?.(this);
        if (e instanceof ConflictError && attempt <= CONFLICT_RETRIES) {
          this.host.logger.info(
            { aggregate_id: this.id, correlation_id: identity.correlation_id, attempt, since_ownership_check_ms: this.host.clock.now() - this.storeCheckedAt },
            'concurrent writer: reloading and deciding again',
          );
          await sleep(this.host.clock, conflictBackoff.delay(attempt));
          continue;
        }
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
      void this.maybeSnapshot();
      return;
    }
  }

  /** The reply of a command, told to the inspector on its way out. */
  private replyTo(work: CommandWork): Respond {
    const inspector = this.host.inspector;
    if (!inspector) return work.respond;
    return (reply) => {
      inspector.replied(this.kind, this.id, work.event.type, work.identity, reply);
      work.respond(reply);
    };
  }

  /** Dead letters of this aggregate are stored before it decides anything new; false when they still wait. */
  private async storeDeadLetters(respond: Respond): Promise<boolean> {
    await this.host.flushDeadLetters?.(this.kind, this.id);
    if (this.host.hasDeadLetters?.(this.kind, this.id)) {
      respond(
        toErrorReply(
          new UnavailableError(`${this.kind} ${this.id} has events waiting to be stored (NATS was away); send the command again once the event store answers`),
        ),
      );
      return false;
    }
    this.dropActor(); // the stored dead letters are part of its history now
    return true;
  }

  /**
   * The refusal of the first scheduled effect whose file cannot be rendered (SPEC §11: such
   * input is refused before its fact is stored). Synchronous unless raw Nix must be parsed.
   */
  private checkScheduled(signals: MachineSignal[]): Reply | undefined | Promise<Reply | undefined> {
    const host = this.host;
    if (!host.checkScheduled) return undefined;
    const pending: Promise<Refusal | undefined>[] = [];
    for (const s of signals) {
      if (s.type !== 'effect.scheduled') continue;
      const result = host.checkScheduled(s.effect);
      if (result instanceof Promise) pending.push(result);
      else if (result) return refusalReply(result);
    }
    if (pending.length === 0) return undefined;
    return Promise.all(pending).then((results) => {
      const first = results.find((r) => r !== undefined);
      return first ? refusalReply(first) : undefined;
    });
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
      // Stopped meanwhile (shutdown, handoff): its callers retry, and whoever holds it then finishes the effect.
      const stopped = new UnavailableError(`${this.kind} ${this.id} was stopped here before its effect finished; send the command again`);
      for (const entry of effect?.entries ?? []) CommandLedger.finish(entry, toErrorReply(stopped));
      return;
    }
    const signals = this.send(work.outcome, effect.identity);
    const produced: LedgerEntry = { identity: effect.identity, events: NO_EVENTS, reply: undefined, waiters: [] };
    let publishSeeds: () => void;
    try {
      publishSeeds = await this.persistFacts(signals, effect.identity, produced, 'outcome');
    } catch (e) {
      this.dropActor();
      if (e instanceof ConflictError) this.host.onConflict?.(this);
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
      for (const entry of effect.entries) entry.events = entry.events.concat(produced.events);
    }
    publishSeeds();
    for (const entry of effect.entries) this.conclude(entry, signals, work.outcome.type, -1);
    void this.maybeSnapshot();
  }

  private startEffect(request: EffectRequest, entry: LedgerEntry | undefined, identity = entry?.identity): void {
    this.effect = { request, identity: identity!, entries: entry ? [entry] : [] };
    void this.effects.run(request).then((outcome) => this.enqueue({ type: 'outcome', outcome }));
  }

  private schedule(request: EffectRequest, cause: Identity): void {
    this.effects.schedule(request, this.version(), cause);
  }

  /**
   * Store the facts among `signals` as domain events caused by `cause`. Returns the
   * publication on the seed subjects, for the caller to run right before it replies.
   */
  private async persistFacts(signals: MachineSignal[], cause: Identity, entry: LedgerEntry, origin: 'command' | 'outcome'): Promise<() => void> {
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
        occurred_at: new Date(this.host.clock.now()).toISOString(),
        ...s.data,
      };
      appends.push({ event, fact: s.name, command_id: cause.message_id, expected_last_seq: this.lastStreamSeq, msg_id: dedupKey(this.id, cause.message_id, s.sequence) });
    }
    if (appends.length === 0) return NOTHING_TO_PUBLISH;
    const may = this.host.mayStore?.(this, origin) ?? true;
    if (may === false || (may !== true && !(await may))) {
      throw new UnavailableError(`${this.kind} ${this.id} is served by another instance now (its partition moved); send the command again`);
    }
    this.storeCheckedAt = this.host.clock.now();
    const { events: published, publish } = await this.host.storeDeferred(appends);
    // Sized exactly (the entry lives on in the ledger; a pushed-to array keeps room for 17).
    const refs = published.map((p, i): EventRef => {
      const a = appends[i]!;
      this.lastStreamSeq = p.stream_seq;
      return { event_type: a.event.event_type, event_id: a.event.identity.message_id, subject: p.subject, sequence: a.event.sequence };
    });
    entry.events = entry.events.length === 0 ? refs : entry.events.concat(refs);
    const inspector = this.host.inspector;
    // Unwatched, the inspector drops stored records: build them only for a watcher.
    if (inspector && inspector.watched !== false) inspector.stored(this.kind, this.id, published.map((p, i) => ({ event: appends[i]!.event, subject: p.subject })));
    return publish;
  }

  /** A snapshot every `snapshotEvery` events (or now, when `force`d), never of a waiting state. */
  private maybeSnapshot(force = false): Promise<void> | undefined {
    const every = this.host.snapshotEvery;
    if (!this.host.saveSnapshot || !this.actor || (!force && every <= 0)) return;
    const version = this.version();
    if (force ? version === this.snapshotVersion : version - this.snapshotVersion < every) return;
    if (this.pendingEffect()) return; // a waiting state is rebuilt from events, never from a snapshot
    this.snapshotVersion = version;
    const snapshot: AggregateSnapshot = {
      kind: this.kind,
      id: this.id,
      machine_version: registry[this.kind].version,
      stream_seq: this.lastStreamSeq,
      version,
      persisted: this.actor.getPersistedSnapshot(),
      ledger: this.ledger.records(),
      taken_at: new Date(this.host.clock.now()).toISOString(),
    };
    return this.host.saveSnapshot(snapshot).catch((e: unknown) => this.host.logger.warn({ err: ensureError(e), aggregate_id: this.id }, 'snapshot not saved'));
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

  /** The effect the machine waits for (a durable waiting state), if any. */
  private pendingEffect(): EffectRequest | null | undefined {
    return (this.actor?.getSnapshot() as { context?: { pending_effect?: EffectRequest | null } } | undefined)?.context?.pending_effect;
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
    this.ledger.replay(result.events, (f) => this.host.subjects.event(f), (f) => facts[f]?.final !== false, (entry) => this.okReply(entry));
    this.host.onLoaded?.(this, true);
    this.resumePendingEffect(result.events);
  }

  /** A durable waiting state (e.g. building) survives a restart: start its effect again. */
  private resumePendingEffect(events: StoredEvent[]): void {
    const pending = this.pendingEffect();
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
