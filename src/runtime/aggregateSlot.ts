/**
 * One aggregate instance: its XState actor, its mailbox (one work item at a time, in
 * arrival order), its command ledger (exactly-once replies) and its running effect.
 * The machine decides; this slot stores the facts it records, starts the effects it asks
 * for and answers the command once its outcome is known.
 */
import { createActor, type AnyActor, type InspectionEvent, type Observer } from 'xstate';
import type { Logger } from 'pino';
import {
  registry,
  type AggregateKind,
  type EffectOutcome,
  type EffectRequest,
  type MachineSignal,
} from '../../machines/index.js';
import { ENVELOPE_FIELDS, type DomainEvent } from '../domain/events.js';
import { eventIdentity, type Identity } from '../domain/identity.js';
import type { EventRef, OkReply } from '../domain/replies.js';
import {
  ConflictError,
  DomainError,
  InternalError,
  InvalidTransitionError,
  ensureError,
  toErrorReply,
  type ErrorReply,
} from '../errors.js';
import type { AppendRequest, StoredEvent } from '../messaging/eventStore.js';
import type { PublishedEvent } from '../messaging/eventPublisher.js';

export type Reply = OkReply | ErrorReply;
export type Respond = (reply: Reply) => void;

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
  read(kind: AggregateKind, id: string): Promise<StoredEvent[]>;
  storeAndPublish(events: AppendRequest[]): Promise<PublishedEvent[]>;
  runEffect(request: EffectRequest, ctx: { aggregate: AggregateKind; id: string; signal: AbortSignal }): Promise<EffectOutcome>;
  inspect?: Observer<InspectionEvent>;
  /** Called when the slot's actor is created or dropped (for the live count). */
  onLoaded?(slot: AggregateSlot, loaded: boolean): void;
}

interface LedgerEntry {
  identity: Identity;
  events: EventRef[];
  reply?: Reply;
  waiters: Respond[];
}

interface RunningEffect {
  request: EffectRequest;
  identity: Identity;
  entries: LedgerEntry[];
  abort: AbortController;
}

const LEDGER_SIZE = 64;
const CONFLICT_RETRIES = 5;

export class AggregateSlot {
  private actor: AnyActor | undefined;
  private lastStreamSeq = 0;
  private readonly queue: Work[] = [];
  private running = false;
  private readonly ledger = new Map<string, LedgerEntry>();
  private effect: RunningEffect | undefined;
  private signals: MachineSignal[] = [];
  private replaying = false;
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
    if (!this.running) void this.drain();
  }

  get loaded(): boolean {
    return this.actor !== undefined;
  }

  /** True while work is queued, being handled, or an effect runs. */
  get busy(): boolean {
    return this.running || this.queue.length > 0 || this.effect !== undefined;
  }

  /** The actor's current snapshot (undefined when not loaded). */
  snapshot(): { value: unknown; context: Record<string, unknown> } | undefined {
    const s = this.actor?.getSnapshot() as { value: unknown; context: Record<string, unknown> } | undefined;
    return s ? { value: s.value, context: s.context } : undefined;
  }

  /** Stop the actor and abort a running effect (shutdown). */
  stop(): void {
    this.effect?.abort.abort();
    this.dropActor();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      let work: Work | undefined;
      while ((work = this.queue.shift()) !== undefined) {
        try {
          if (work.type === 'command') await this.handleCommand(work);
          else await this.handleOutcome(work);
        } catch (e) {
          const err = ensureError(e);
          this.host.logger.error({ err, aggregate_id: this.id, aggregate_type: this.kind }, 'aggregate work failed');
          this.dropActor();
          if (work.type === 'command') work.respond(toErrorReply(e));
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async handleCommand(work: CommandWork): Promise<void> {
    const { identity } = work;
    if (this.answerFromLedger(identity.message_id, work.respond)) return;
    await this.ensureLoaded();
    if (this.answerFromLedger(identity.message_id, work.respond)) return;

    for (let attempt = 0; ; attempt++) {
      const before = this.version();
      const signals = this.send(work.event);
      const entry: LedgerEntry = { identity, events: [], waiters: [work.respond] };
      try {
        await this.persistFacts(signals, identity, entry);
      } catch (e) {
        if (e instanceof ConflictError && attempt < CONFLICT_RETRIES) {
          await this.reload();
          if (this.answerFromLedger(identity.message_id, work.respond)) return;
          continue;
        }
        this.dropActor();
        this.remember(entry);
        return this.finish(entry, toErrorReply(e));
      }
      this.remember(entry);
      return this.conclude(entry, signals, work.event.type, before);
    }
  }

  /** Decide what a command's reply is, once its facts are stored. */
  private conclude(entry: LedgerEntry, signals: MachineSignal[], commandType: string, versionBefore: number): void {
    let rejected: Extract<MachineSignal, { type: 'command.rejected' }> | undefined;
    let requested: EffectRequest | undefined;
    let joined = false;
    for (const s of signals) {
      if (s.type === 'command.rejected') rejected = s;
      else if (s.type === 'effect.requested') requested = s.effect;
      else if (s.type === 'command.joined') joined = true;
    }
    if (requested) return this.startEffect(requested, entry);
    if (joined && this.effect) {
      this.effect.entries.push(entry);
      return;
    }
    if (rejected) {
      return this.finish(entry, {
        status: 'error',
        code: rejected.code,
        message: rejected.message,
        ...(rejected.details ? { details: rejected.details } : {}),
      });
    }
    if (entry.events.length === 0 && this.version() === versionBefore) {
      return this.finish(entry, toErrorReply(this.invalidTransition(commandType)));
    }
    this.finish(entry, this.okReply(entry));
  }

  private async handleOutcome(work: OutcomeWork): Promise<void> {
    const effect = this.effect;
    this.effect = undefined;
    if (!effect || !this.actor) {
      this.host.logger.warn({ aggregate_id: this.id, kind: work.outcome.kind }, 'effect outcome for an aggregate that no longer waits for it');
      return;
    }
    const signals = this.send(work.outcome);
    const [first, ...joined] = effect.entries;
    const owner: LedgerEntry = first ?? { identity: effect.identity, events: [], waiters: [] };
    const outcomeEvents: LedgerEntry = { identity: effect.identity, events: [], waiters: [] };
    try {
      await this.persistFacts(signals, effect.identity, outcomeEvents);
    } catch (e) {
      this.dropActor();
      const reply = toErrorReply(e);
      for (const entry of effect.entries) this.finish(entry, reply);
      return;
    }
    owner.events.push(...outcomeEvents.events);
    for (const entry of joined) entry.events.push(...outcomeEvents.events);
    for (const entry of [owner, ...joined]) this.conclude(entry, signals, work.outcome.type, -1);
  }

  private startEffect(request: EffectRequest, entry: LedgerEntry): void {
    const abort = new AbortController();
    this.effect = { request, identity: entry.identity, entries: [entry], abort };
    this.host
      .runEffect(request, { aggregate: this.kind, id: this.id, signal: abort.signal })
      .catch(
        (e: unknown): EffectOutcome => ({
          type: 'effect.failed',
          kind: request.kind,
          code: e instanceof DomainError ? e.code : 'internal',
          message: ensureError(e).message,
        }),
      )
      .then((outcome) => this.enqueue({ type: 'outcome', outcome }));
  }

  /** Store the facts among `signals` as domain events caused by `cause`. */
  private async persistFacts(signals: MachineSignal[], cause: Identity, entry: LedgerEntry): Promise<void> {
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
      appends.push({
        event,
        fact: s.name,
        command_id: cause.message_id,
        expected_last_seq: this.lastStreamSeq,
        msg_id: `${cause.message_id}:${s.sequence}`,
      });
    }
    if (appends.length === 0) return;
    const published = await this.host.storeAndPublish(appends);
    for (let i = 0; i < published.length; i++) {
      const p = published[i]!;
      const a = appends[i]!;
      this.lastStreamSeq = p.stream_seq;
      entry.events.push({ event_type: a.event.event_type, event_id: a.event.identity.message_id, subject: p.subject, sequence: a.event.sequence });
    }
  }

  private finish(entry: LedgerEntry, reply: Reply): void {
    entry.reply = reply;
    const waiters = entry.waiters;
    entry.waiters = [];
    for (const w of waiters) w(reply);
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

  private answerFromLedger(messageId: string, respond: Respond): boolean {
    const entry = this.ledger.get(messageId);
    if (!entry) return false;
    if (entry.reply) respond(entry.reply);
    else entry.waiters.push(respond);
    return true;
  }

  private remember(entry: LedgerEntry): void {
    this.ledger.delete(entry.identity.message_id);
    this.ledger.set(entry.identity.message_id, entry);
    if (this.ledger.size > LEDGER_SIZE) {
      for (const [key, e] of this.ledger) {
        if (this.ledger.size <= LEDGER_SIZE) break;
        if (e.reply) this.ledger.delete(key);
      }
    }
  }

  private send(event: { type: string }): MachineSignal[] {
    this.signals = [];
    this.actor!.send(event);
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
    for (const node of snap._nodes ?? []) for (const e of node.ownEvents ?? []) if (e.startsWith(`${this.kind}.`) && !registry[this.kind].facts[e]) accepted.add(e);
    const state = typeof snap.value === 'string' ? snap.value : JSON.stringify(snap.value);
    const list = [...accepted];
    return new InvalidTransitionError(
      `${this.kind} ${this.id} is ${state}: ${commandType} is not accepted there. ${
        list.length ? `Accepted now: ${list.join(', ')}.` : 'It accepts no command now.'
      }`,
      { state, accepted: list },
    );
  }

  private async ensureLoaded(): Promise<void> {
    if (!this.actor) await this.reload();
  }

  /** (Re)build the actor from the stored events. */
  private async reload(): Promise<void> {
    this.dropActor();
    const events = await this.host.read(this.kind, this.id);
    const def = registry[this.kind];
    const actor = createActor(def.machine, {
      input: { aggregate_id: this.id },
      id: `${this.kind}:${this.id}`,
      ...(this.host.inspect ? { inspect: this.host.inspect } : {}),
    }) as AnyActor;
    actor.on('*', (signal: MachineSignal) => {
      if (!this.replaying) this.signals.push(signal);
    });
    actor.subscribe({
      error: (err: unknown) =>
        this.host.logger.error({ err: ensureError(err), aggregate_id: this.id, aggregate_type: this.kind }, 'aggregate actor failed'),
    });
    actor.start();
    this.actor = actor;
    this.replaying = true;
    try {
      for (const stored of events) this.apply(stored);
    } finally {
      this.replaying = false;
    }
    this.lastStreamSeq = events.at(-1)?.stream_seq ?? 0;
    this.rebuildLedger(events);
    this.host.onLoaded?.(this, true);
    this.resumePendingEffect(events);
  }

  private apply(stored: StoredEvent): void {
    const fact: { type: string } & Record<string, unknown> = { type: stored.fact };
    const ev = stored.event as Record<string, unknown>;
    for (const key in ev) if (!(ENVELOPE_FIELDS as readonly string[]).includes(key)) fact[key] = ev[key];
    this.actor!.send(fact);
    const version = this.version();
    if (version !== stored.event.sequence) {
      this.host.logger.error(
        { aggregate_id: this.id, fact: stored.fact, stored_sequence: stored.event.sequence, machine_version: version },
        'replayed event does not match the machine version; the history and the machine disagree',
      );
    }
  }

  private rebuildLedger(events: StoredEvent[]): void {
    const facts = registry[this.kind].facts;
    const groups = new Map<string, StoredEvent[]>();
    for (let i = events.length - 1; i >= 0 && groups.size < LEDGER_SIZE; i--) {
      const e = events[i]!;
      const g = groups.get(e.command_id);
      if (g) g.unshift(e);
      else groups.set(e.command_id, [e]);
    }
    for (const [commandId, group] of [...groups].reverse()) {
      if (this.ledger.has(commandId)) continue;
      const last = group.at(-1)!;
      const entry: LedgerEntry = {
        identity: { message_id: commandId, correlation_id: last.event.identity.correlation_id, causation_id: last.event.identity.causation_id },
        events: group.map((s) => ({
          event_type: s.event.event_type,
          event_id: s.event.identity.message_id,
          subject: `${this.host.domain}.event.${s.fact}`,
          sequence: s.event.sequence,
        })),
        waiters: [],
      };
      if (facts[last.fact]?.final !== false) entry.reply = this.okReply(entry);
      this.ledger.set(commandId, entry);
    }
  }

  /** A durable pending state (e.g. building) survives a restart: start its effect again. */
  private resumePendingEffect(events: StoredEvent[]): void {
    const pending = (this.actor!.getSnapshot() as { context?: { pending_effect?: EffectRequest | null } }).context?.pending_effect;
    if (!pending || this.effect) return;
    const last = events.at(-1);
    const commandId = last?.command_id;
    const entry = (commandId && this.ledger.get(commandId)) || {
      identity: { message_id: commandId ?? this.id, correlation_id: last?.event.identity.correlation_id ?? this.id, causation_id: commandId ?? this.id },
      events: [],
      waiters: [],
    };
    this.host.logger.info({ aggregate_id: this.id, effect: pending.kind }, 'resuming an effect interrupted by a restart');
    this.startEffect(pending, entry);
  }

  private dropActor(): void {
    if (!this.actor) return;
    this.actor.stop();
    this.actor = undefined;
    this.host.onLoaded?.(this, false);
  }
}
