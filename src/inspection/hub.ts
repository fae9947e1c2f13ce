/**
 * The inspection hub: turns XState's `inspect` events (and the aggregate slots' lifecycle
 * calls) into small wire records, keeps the bounded list of actors the inspector shows, and
 * publishes the records in batches on `P.inspect.events`.
 *
 * The hot path is cheap and bounded. One handled event makes one `event` record (what was
 * received, with the command's identity) and one `state` record (the state after it, with
 * every transition taken and every action executed on the way), so a command costs four
 * small records with its `stored` and `reply` ones. Records wait in one ordered queue; a
 * timer serialises and publishes them in batches, at most `batchesPerFlush` ×
 * `maxRecordsPerBatch` per flush. Past `maxPending` waiting records new ones are dropped,
 * counted, and the next batch says how many, so a reader knows to reload the actor list.
 *
 * Two levels. Always: lifecycle records (spawned, rehydrated, passivated, stopped), state
 * records of state changes, and the system actors. While someone watches (a lease taken on
 * `P.inspect.watch`, which the page renews): everything, i.e. every event received, every
 * state record with its transitions and actions, every stored event and reply. So a service
 * nobody inspects publishes a trickle, and an inspected one the full story.
 */
import type { AnyActorRef, InspectionEvent, Observer } from 'xstate';
import { ensureError } from '../errors.js';
import type { Logger } from '../logging.js';
import { naturalKeyOf } from './names.js';
import { eventPayload } from './sanitize.js';
import {
  INSPECTION_WIRE_VERSION,
  stateName,
  type ActorRef,
  type ActorSummary,
  type ActorType,
  type ActorsReply,
  type Cause,
  type InspectBatch,
  type InspectRecord,
  type TransitionTaken,
} from './wire.js';

export interface InspectionHubOptions {
  instance: string;
  logger: Logger;
  /** Publishes one serialised batch (the caller owns the subject and the connection). */
  publish(data: string): void;
  flushEveryMs?: number;
  maxRecordsPerBatch?: number;
  batchesPerFlush?: number;
  /** Records kept while waiting to be published; more are dropped and counted. */
  maxPending?: number;
  /** Actors tracked for the list; the least recently active are forgotten first. */
  trackedCap?: number;
  /** Resident aggregate actors (for the list's header). */
  resident?: () => number;
  now?: () => number;
}

/** The identity fields the hub reads from a command's identity. */
type IdentityLike = Cause;

/** What the hub keeps per actor (the list row) and per root actor (for inspect events). */
interface Tracked extends ActorSummary {
  key: string;
  system: boolean;
  /** Transitions taken since the last state record, as XState gave them: [event type, transitions, …]. */
  steps: unknown[] | undefined;
  actions: string[] | undefined;
  /** Has a record carried the actor's name since it was learned? */
  nameSent: boolean;
}

/** What the aggregate slots call (see `SlotInspector` in src/runtime/aggregateSlot.ts). */
export interface AggregateLifecycle {
  attached(kind: string, id: string, actor: AnyActorRef, info: { replayed: number; fromSnapshot: boolean }): void;
  dropped(kind: string, id: string, reason: 'passivated' | 'shutdown' | 'reloaded' | 'asleep'): void;
  sending(cause: IdentityLike | undefined): void;
  stored(kind: string, id: string, events: readonly { event: StoredLike; subject: string }[]): void;
  replied(kind: string, id: string, command: string, cause: IdentityLike, reply: ReplyLike): void;
}

/** The fields of a stored domain event the hub reads. */
export interface StoredLike {
  identity: IdentityLike;
  event_type: string;
  sequence: number;
}

/** The fields of a command reply the hub reads. */
export type ReplyLike = { status: 'ok'; version?: number } | { status: 'error'; code: string; message: string };

export class InspectionHub implements AggregateLifecycle {
  private readonly opts: Required<Omit<InspectionHubOptions, 'resident'>> & Pick<InspectionHubOptions, 'resident'>;
  private queue: InspectRecord[] = [];
  private droppedSinceBatch = 0;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly tracked = new Map<string, Tracked>();
  private readonly roots = new WeakMap<object, Tracked>();
  private readonly subscriptions: { unsubscribe(): void }[] = [];
  private cause: Cause | undefined;
  /** The full stream is published until this time (ms since epoch). */
  private watchedUntil = 0;
  /** Records published and dropped so far (health and tests). */
  readonly counts = { published: 0, dropped: 0, batches: 0 };

  /** The observer for `createActor(…, { inspect })` and `system.inspect(…)`. */
  readonly observer: Observer<InspectionEvent> = { next: (ev) => this.onInspection(ev) };

  constructor(options: InspectionHubOptions) {
    this.opts = {
      flushEveryMs: 100,
      maxRecordsPerBatch: 1_000,
      batchesPerFlush: 1,
      maxPending: 10_000,
      trackedCap: 50_000,
      now: Date.now,
      ...options,
    };
  }

  // ---- system actors ----------------------------------------------------------------

  /** Watch a system actor (reconnection supervisor, publisher, supervisor) under `name`. */
  attachSystem(name: string, actor: AnyActorRef): void {
    const t = this.track('system', name, true);
    this.roots.set(actor, t);
    const snap = actor.getSnapshot() as { value?: unknown; status?: string };
    t.state = stateName(snap.value);
    t.status = snap.status === 'active' ? 'live' : 'stopped';
    this.push({ k: 'spawned', at: this.now(), actor: { type: 'system', id: name }, state: t.state });
    this.subscriptions.push(actor.system.inspect(this.observer));
  }

  // ---- aggregate lifecycle (called by the slots) --------------------------------------

  attached(kind: string, id: string, actor: AnyActorRef, info: { replayed: number; fromSnapshot: boolean }): void {
    const t = this.track(kind as ActorType, id, false);
    this.roots.set(actor, t);
    const snap = actor.getSnapshot() as { value?: unknown; context?: { version?: unknown } };
    t.state = stateName(snap.value);
    t.version = typeof snap.context?.version === 'number' ? snap.context.version : 0;
    t.status = 'live';
    t.at = this.now();
    this.learnName(t, snap.context);
    const ref = this.ref(t, true);
    if (info.replayed === 0 && !info.fromSnapshot) {
      this.push({ k: 'spawned', at: t.at, actor: ref, state: t.state, version: t.version });
    } else {
      this.push({
        k: 'rehydrated',
        at: t.at,
        actor: ref,
        state: t.state,
        version: t.version,
        replayed: info.replayed,
        from_snapshot: info.fromSnapshot,
      });
    }
    actor.system.inspect(this.observer);
  }

  dropped(kind: string, id: string, reason: 'passivated' | 'shutdown' | 'reloaded' | 'asleep'): void {
    const t = this.tracked.get(`${kind}:${id}`);
    const at = this.now();
    const actor = t ? this.ref(t, true) : { type: kind as ActorType, id };
    if (t) {
      t.status = reason === 'passivated' ? 'passivated' : reason === 'asleep' ? 'asleep' : 'stopped';
      t.at = at;
    }
    const state = t?.state ?? '';
    if (reason === 'passivated')
      this.push({ k: 'passivated', at, actor, state, ...(t?.version !== undefined ? { version: t.version } : {}) });
    else this.push({ k: 'stopped', at, actor, reason, state });
  }

  sending(cause: IdentityLike | undefined): void {
    this.cause = cause;
  }

  /** Publish the full stream for `ms` from now (a watcher's lease; leases only ever extend). */
  watch(ms: number): number {
    this.watchedUntil = Math.max(this.watchedUntil, this.now() + ms);
    return this.watchedUntil;
  }

  /** Is the full stream on (someone watches)? */
  get watched(): boolean {
    return this.watchedUntil > this.now();
  }

  stored(kind: string, id: string, events: readonly { event: StoredLike; subject: string }[]): void {
    if (!this.watched) return;
    const at = this.now();
    for (const { event, subject } of events) {
      this.push({
        k: 'stored',
        at,
        actor: this.refOf(kind, id),
        event_type: event.event_type,
        event_id: event.identity.message_id,
        correlation_id: event.identity.correlation_id,
        causation_id: event.identity.causation_id,
        sequence: event.sequence,
        subject,
      });
    }
  }

  replied(kind: string, id: string, command: string, cause: IdentityLike, reply: ReplyLike): void {
    if (!this.watched) return;
    const base = { k: 'reply' as const, at: this.now(), actor: this.refOf(kind, id), command, cause: pickCause(cause) };
    if (reply.status === 'ok') this.push({ ...base, status: 'ok', ...(reply.version !== undefined ? { version: reply.version } : {}) });
    else this.push({ ...base, status: 'error', code: reply.code, message: reply.message.slice(0, 300) });
  }

  // ---- XState inspection ---------------------------------------------------------------

  private onInspection(ev: InspectionEvent): void {
    const t = this.roots.get(ev.actorRef);
    if (!t || this.stopped) return; // a child actor (e.g. the reconnection's connect attempt), or after stop
    try {
      if (t.system) this.onSystem(t, ev);
      else this.onAggregate(t, ev);
    } catch (e) {
      // Inspection must never break the actor it watches.
      this.opts.logger.warn({ err: ensureError(e) }, 'an inspection event could not be recorded');
    }
  }

  private onAggregate(t: Tracked, ev: InspectionEvent): void {
    const cause = this.cause;
    switch (ev.type) {
      case '@xstate.event': {
        const event = ev.event as { type: string } & Record<string, unknown>;
        if (event.type.startsWith('xstate.') || !this.watched) return; // init / stop; unwatched
        const origin = event.type.startsWith('effect.') ? 'outcome' : 'command';
        const payload = eventPayload(event);
        this.push({
          k: 'event',
          at: this.now(),
          actor: this.ref(t),
          event: event.type,
          origin,
          ...(payload !== undefined ? { payload } : {}),
          ...(cause ? { cause } : {}),
        });
        return;
      }
      case '@xstate.microstep': {
        const type = (ev.event as { type: string }).type;
        if (type.startsWith('xstate.')) return;
        // Kept raw: turned into wire form only if a state record is published.
        (t.steps ??= []).push(type, ev._transitions);
        return;
      }
      case '@xstate.action': {
        if (!this.watched) return;
        const detail = actionDetail(ev.action.params);
        (t.actions ??= []).push(detail ? `${ev.action.type.replace(/^xstate\./, '')} ${detail}` : ev.action.type);
        return;
      }
      case '@xstate.snapshot': {
        const snap = ev.snapshot as { value?: unknown; status?: string; context?: { version?: unknown } };
        if (snap.status === 'stopped') return; // reported by `dropped` with its reason
        const event = ev.event as { type: string };
        const before = t.state;
        t.state = typeof snap.value === 'string' ? snap.value : stateName(snap.value);
        if (typeof snap.context?.version === 'number') t.version = snap.context.version;
        // A natural key never changes for an ID (the ID is derived from it): read until known.
        if (t.name === undefined) this.learnName(t, snap.context);
        t.at = this.now();
        if (!event.type.startsWith('xstate.')) {
          t.last_event = event.type;
          if (cause) t.correlation_id = cause.correlation_id;
        }
        this.touch(t);
        const steps = t.steps;
        const actions = t.actions ?? [];
        t.steps = undefined;
        t.actions = undefined;
        if (!this.watched && before === t.state) return; // unwatched: state changes only
        const transitions = transitionsTaken(steps);
        this.push({
          k: 'state',
          at: t.at,
          actor: this.ref(t),
          state: t.state,
          ...(t.version !== undefined ? { version: t.version } : {}),
          status: snap.status ?? 'active',
          event: event.type,
          transitions,
          actions,
        });
        return;
      }
      default:
        return;
    }
  }

  /** System actors: only what changes their state (the supervisor sees every command). */
  private onSystem(t: Tracked, ev: InspectionEvent): void {
    if (ev.type === '@xstate.microstep') {
      (t.steps ??= []).push(prettyEvent((ev.event as { type: string }).type), ev._transitions);
    } else if (ev.type === '@xstate.snapshot') {
      const snap = ev.snapshot as { value?: unknown; status?: string };
      const state = stateName(snap.value);
      const status = snap.status === 'active' ? 'live' : 'stopped';
      const steps = t.steps;
      t.steps = undefined;
      if (state === t.state && status === t.status) return;
      const event = prettyEvent((ev.event as { type: string }).type);
      t.state = state;
      t.status = status;
      t.last_event = event;
      t.at = this.now();
      const actor = { type: 'system' as const, id: t.id };
      this.push({ k: 'event', at: t.at, actor, event, origin: 'system' });
      const transitions = transitionsTaken(steps).filter((x) => x.from !== x.to && x.from !== '');
      this.push({ k: 'state', at: t.at, actor, state, status: snap.status ?? 'active', event, transitions, actions: [] });
    }
  }

  // ---- names -----------------------------------------------------------------------------

  /** Learn an aggregate's natural key from its context (its kind's `naturalKey`). */
  private learnName(t: Tracked, context: unknown): void {
    if (t.system) return;
    const name = naturalKeyOf(t.type, context);
    if (name !== undefined && name !== t.name) {
      t.name = name;
      t.nameSent = false;
    }
  }

  /** The actor as a record names it: with its name on lifecycle records (`always`) and on the first record after it was learned. */
  private ref(t: Tracked, always = false): ActorRef {
    if (t.name === undefined || (t.nameSent && !always)) return { type: t.type, id: t.id };
    t.nameSent = true;
    return { type: t.type, id: t.id, name: t.name };
  }

  /** {@link ref} by kind and ID (a plain reference for an actor not tracked). */
  private refOf(kind: string, id: string): ActorRef {
    const t = this.tracked.get(`${kind}:${id}`);
    return t ? this.ref(t) : { type: kind as ActorType, id };
  }

  // ---- the actor list -------------------------------------------------------------------

  private track(type: ActorType, id: string, system: boolean): Tracked {
    const key = `${type}:${id}`;
    let t = this.tracked.get(key);
    if (!t) {
      t = { key, type, id, state: '', status: 'live', at: this.now(), system, steps: undefined, actions: undefined, nameSent: false };
      this.tracked.set(key, t);
      this.evict();
    } else {
      this.touch(t);
    }
    return t;
  }

  /** Move an actor to the newest end of the list (Map order = least recently active first). */
  private touch(t: Tracked): void {
    if (t.system) return;
    this.tracked.delete(t.key);
    this.tracked.set(t.key, t);
  }

  private evict(): void {
    if (this.tracked.size <= this.opts.trackedCap) return;
    for (const [key, t] of this.tracked) {
      if (this.tracked.size <= this.opts.trackedCap) break;
      if (t.system) continue;
      this.tracked.delete(key);
    }
  }

  /** A page of the tracked actors: system actors first, then the most recently active. */
  list(request: { offset: number; limit: number; query?: string | undefined; type?: ActorType | undefined }): ActorsReply {
    const q = request.query?.trim().toLowerCase();
    const match = (t: Tracked): boolean =>
      (request.type === undefined || t.type === request.type) &&
      (!q ||
        t.id.toLowerCase().includes(q) ||
        (t.name?.toLowerCase().includes(q) ?? false) ||
        (t.correlation_id?.toLowerCase().includes(q) ?? false));
    const all = [...this.tracked.values()];
    const rows: Tracked[] = [];
    for (const t of all) if (t.system && match(t)) rows.push(t);
    for (let i = all.length - 1; i >= 0; i--) {
      const t = all[i]!;
      if (!t.system && match(t)) rows.push(t);
    }
    const page = rows.slice(request.offset, request.offset + request.limit).map(summary);
    return {
      instance: this.opts.instance,
      total: rows.length,
      offset: request.offset,
      actors: page,
      resident: this.opts.resident?.() ?? 0,
      tracked_cap: this.opts.trackedCap,
    };
  }

  /** The tracked summary of one actor. */
  get(type: ActorType, id: string): ActorSummary | undefined {
    const t = this.tracked.get(`${type}:${id}`);
    return t ? summary(t) : undefined;
  }

  // ---- publishing -----------------------------------------------------------------------

  private push(record: InspectRecord): void {
    if (this.stopped) return;
    if (this.queue.length >= this.opts.maxPending) {
      this.droppedSinceBatch++;
      return;
    }
    this.queue.push(record);
    this.timer ??= setTimeout(() => this.flush(), this.opts.flushEveryMs);
  }

  /** Publish what is pending, within the per-flush budget; reschedules itself when more waits. */
  flush(all = false): void {
    this.timer = undefined;
    const budget = all ? Number.POSITIVE_INFINITY : this.opts.batchesPerFlush;
    for (let b = 0; b < budget && this.queue.length > 0; b++) {
      const size = this.opts.maxRecordsPerBatch;
      let records: InspectRecord[];
      if (this.queue.length > size) {
        records = this.queue.slice(0, size);
        this.queue = this.queue.slice(size);
      } else {
        records = this.queue;
        this.queue = [];
      }
      const batch: InspectBatch = {
        v: INSPECTION_WIRE_VERSION,
        instance: this.opts.instance,
        seq: ++this.seq,
        at: this.now(),
        dropped: this.droppedSinceBatch,
        records,
      };
      this.counts.dropped += this.droppedSinceBatch;
      this.droppedSinceBatch = 0;
      try {
        this.opts.publish(JSON.stringify(batch));
        this.counts.published += records.length;
        this.counts.batches++;
      } catch (e) {
        this.opts.logger.warn({ err: ensureError(e) }, 'an inspection batch could not be published');
      }
    }
    if (!this.stopped && this.queue.length > 0) {
      this.timer = setTimeout(() => this.flush(), this.opts.flushEveryMs);
    }
  }

  /** Publish everything pending and stop watching. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
    this.flush(true);
    this.stopped = true;
  }

  private now(): number {
    return this.opts.now();
  }
}

interface TransitionLike {
  source: { path: string[] };
  target?: readonly { path: string[] }[] | undefined;
  actions: readonly unknown[];
}

/** Raw microsteps ([event type, transitions, …]) in wire form. */
function transitionsTaken(steps: unknown[] | undefined): TransitionTaken[] {
  const out: TransitionTaken[] = [];
  if (!steps) return out;
  for (let i = 0; i < steps.length; i += 2) {
    const event = steps[i] as string;
    for (const tr of steps[i + 1] as TransitionLike[]) {
      const from = tr.source.path.join('.');
      const to = tr.target && tr.target.length > 0 ? tr.target.map((n) => n.path.join('.')).join(',') : from;
      out.push({ event, from, to, actions: actionNames(tr.actions) });
    }
  }
  return out;
}

function pickCause(c: IdentityLike): Cause {
  return { message_id: c.message_id, correlation_id: c.correlation_id, causation_id: c.causation_id };
}

function summary(t: Tracked): ActorSummary {
  const s: ActorSummary = { type: t.type, id: t.id, state: t.state, status: t.status, at: t.at };
  if (t.name !== undefined) s.name = t.name;
  if (t.version !== undefined) s.version = t.version;
  if (t.last_event !== undefined) s.last_event = t.last_event;
  if (t.correlation_id !== undefined) s.correlation_id = t.correlation_id;
  return s;
}

/** Names of a transition's actions (`apply`, `report`; inline functions as `(inline)`). */
function actionNames(actions: readonly unknown[]): string[] {
  const out: string[] = [];
  for (const a of actions) {
    if (typeof a === 'string') out.push(a);
    else if (a && typeof a === 'object' && typeof (a as { type?: unknown }).type === 'string') out.push((a as { type: string }).type);
    else if (typeof a === 'function') out.push(((a as { type?: string }).type ?? a.name) || '(inline)');
  }
  return out;
}

/** The event a built-in action carries (`xstate.raise` → `package.build_started`). */
function actionDetail(params: unknown): string | undefined {
  if (!params || typeof params !== 'object') return undefined;
  const event = (params as { event?: unknown }).event;
  if (event && typeof event === 'object' && typeof (event as { type?: unknown }).type === 'string') {
    const e = event as { type: string; name?: unknown };
    return e.type === 'fact.recorded' && typeof e.name === 'string' ? `${e.type} ${e.name}` : e.type;
  }
  return undefined;
}

/** XState's generated event names, in words. */
export function prettyEvent(type: string): string {
  if (type.startsWith('xstate.done.actor.')) return 'invoke done';
  if (type.startsWith('xstate.error.actor.')) return 'invoke error';
  const after = /^xstate\.after\.([^.]+)\./.exec(type);
  if (after) return `after ${after[1]}`;
  return type;
}
