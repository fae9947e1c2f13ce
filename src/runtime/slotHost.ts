/**
 * What an aggregate slot needs from the rest of the service, and what it tells it: the
 * store (through the publisher), effects, snapshots, dead letters, the inspector and the
 * clock. The supervisor builds one host for all slots; unit tests build one on the
 * in-memory twins.
 */
import type { AnyActor } from 'xstate';
import type { Logger } from 'pino';
import type { AggregateKind, EffectOutcome, EffectRequest, ErrorCode } from '../../machines/index.js';
import type { DomainEvent } from '../domain/events.js';
import type { Identity } from '../domain/identity.js';
import type { Subjects } from '../domain/subjects.js';
import type { AggregateSnapshot, AppendRequest, StoredEvent } from '../store/index.js';
import type { Clock } from '../time/clock.js';
import type { Reply, Respond } from './commandLedger.js';
import type { PublishedEvent } from './eventPublisher.js';

/** A routed command for one aggregate. */
export interface CommandWork {
  type: 'command';
  event: { type: string } & Record<string, unknown>;
  identity: Identity;
  respond: Respond;
}

/** A refusal before anything is stored, as the command's error reply. */
export interface Refusal {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** Why an actor stopped: asleep keeps the aggregate resident as its persisted snapshot. */
export type DropReason = 'passivated' | 'shutdown' | 'reloaded' | 'asleep';

/** A slot as the host's callbacks see it. */
export interface SlotRef {
  readonly kind: AggregateKind;
  readonly id: string;
}

/** What the slots tell the inspection hub (src/inspection implements it). */
export interface SlotInspector {
  /** False while nobody watches: the slots then skip building records the inspector would drop. */
  readonly watched?: boolean;
  /** The actor was (re)built; from now on its inspection events are watched. */
  attached(kind: AggregateKind, id: string, actor: AnyActor, info: { replayed: number; fromSnapshot: boolean }): void;
  dropped(kind: AggregateKind, id: string, reason: DropReason): void;
  /** The identity of the command (or effect) whose event is being sent now; undefined after. */
  sending(cause: Identity | undefined): void;
  stored(kind: AggregateKind, id: string, events: readonly { event: DomainEvent; subject: string }[]): void;
  replied(kind: AggregateKind, id: string, command: string, cause: Identity, reply: Reply): void;
}

/** The context an effect runs in. */
export interface EffectContext {
  aggregate: AggregateKind;
  id: string;
  signal: AbortSignal;
}

export interface SlotHost {
  readonly logger: Logger;
  /** The subjects of this service (its prefix): events are published on `subjects.event(fact)`. */
  readonly subjects: Subjects;
  readonly clock: Clock;
  /** Take a snapshot every N events (0 = never). */
  readonly snapshotEvery: number;
  read(kind: AggregateKind, id: string, afterSeq: number): Promise<StoredEvent[]>;
  /** Store now, publish on the seed subjects when `publish()` is called (right before the reply). */
  storeDeferred(events: AppendRequest[]): Promise<{ events: PublishedEvent[]; publish: () => void }>;
  runEffect(request: EffectRequest, ctx: EffectContext): Promise<EffectOutcome>;
  /** Resolves once the scheduled effects of an aggregate so far are done (awaited effects wait for it). */
  scheduledSettled?(kind: AggregateKind, id: string): Promise<void>;
  /** Why the file a scheduled effect writes cannot be rendered, before its fact is stored (undefined: it can). */
  checkScheduled?(request: EffectRequest): Refusal | undefined | Promise<Refusal | undefined>;
  /**
   * Take a scheduled (not awaited) effect, caused by the command `cause`; defaults to
   * runEffect. Lets the host batch them. Nothing waits for it: the host reports a failure.
   */
  scheduleEffect?(request: EffectRequest, ctx: EffectContext & { version: number }, cause: Identity): void;
  loadSnapshot?(kind: AggregateKind, id: string): Promise<AggregateSnapshot | undefined>;
  saveSnapshot?(snapshot: AggregateSnapshot): Promise<void>;
  /** Dead letters of an aggregate must be stored before it takes new commands. */
  hasDeadLetters?(kind: AggregateKind, id: string): boolean;
  flushDeadLetters?(kind: AggregateKind, id: string): Promise<void>;
  /** A scheduled effect run by `runEffect` (no `scheduleEffect`) failed: nobody waits for it, so the host reports it. */
  onScheduledFailure?(kind: AggregateKind, id: string, outcome: EffectOutcome, cause: Identity): void;
  /** Inspection (the inspector's stream): told of the actor's life, the command being handled, stored events and replies. */
  inspector?: SlotInspector;
  /** Called when the aggregate becomes resident (rebuilt from the store) or leaves memory (for the live count). */
  onLoaded?(slot: SlotRef, loaded: boolean): void;
  /** Called when the slot's actor starts (loaded or woken) or stops (asleep, passivated, dropped). */
  onAwake?(slot: SlotRef, awake: boolean): void;
  /** Called when the mailbox is empty again and no effect runs (the slot may sleep, passivate or drain now). */
  onIdle?(slot: SlotRef): void;
  /**
   * Several instances (SPEC §9): may this instance store events of the aggregate now (it owns
   * the aggregate's partition)? A refusal is answered `unavailable`, so the client's retry
   * reaches the new owner. `origin`: the facts come from a command, or from the outcome of an
   * effect that ran while this instance owned the partition. Absent: always.
   */
  mayStore?(slot: SlotRef, origin: 'command' | 'outcome'): boolean | Promise<boolean>;
  /** The event store refused an append: another writer stored an event of the aggregate since (optimistic concurrency). */
  onConflict?(slot: SlotRef): void;
}
