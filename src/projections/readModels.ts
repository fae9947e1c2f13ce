/**
 * The read models of every aggregate kind, fed one stored event at a time in stream order.
 * They know how far they have read (the stream sequence), whether they have caught up with
 * the stream as it was at start, and let a query wait for either — or for one aggregate to
 * reach a version (read-your-writes) — with a deadline.
 */
import type { Logger } from 'pino';
import { aggregateKinds, factOfEventType, registry, type AggregateKind } from '../../machines/index.js';
import { compileFactCheck } from './factCheck.js';
import type { KindModel, KindProjection } from './kindProjection.js';
import type { FeedEvent } from './views.js';

export type ReadModelsState = 'starting' | 'catching_up' | 'ready' | 'stopped';

/** What health and logs say about the read models. */
export interface ReadModelsStats {
  state: ReadModelsState;
  /** Stream sequence of the last event read. */
  stream_seq: number;
  /** The stream's last sequence when the service started: ready once read up to it. */
  catch_up_target: number;
  applied: number;
  skipped: number;
  /** Time from start to caught up, and the events read meanwhile. */
  catch_up: { ms: number; events: number; events_per_s: number } | null;
  records: Record<AggregateKind, number>;
}

interface Waiter {
  /** The aggregate whose version is awaited, if any. */
  id: string | undefined;
  version: number;
  done(outcome: WaitOutcome): void;
}

/** `ready`: the condition holds; `not_ready`: still catching up at the deadline; `behind`: the aggregate's version was not reached. */
export type WaitOutcome = 'ready' | 'not_ready' | 'behind';

/** fact -> its payload check, compiled from the registry's schema. */
const factChecks = new Map<string, (payload: Record<string, unknown>) => boolean>();
for (const kind of aggregateKinds) {
  for (const [fact, info] of Object.entries(registry[kind].facts)) {
    factChecks.set(fact, compileFactCheck(info.schema));
  }
}

export class ReadModels {
  /** Each kind's model, fed by the kind's projection (src/aggregates/<kind>.ts). */
  private readonly models = new Map<string, KindModel>();
  private readonly projections = new Map<string, KindProjection>();

  private status: ReadModelsState = 'starting';
  private lastSeq = 0;
  private applied = 0;
  private skipped = 0;
  private target = 0;
  private startedAt = performance.now();
  private readEvents = 0;
  private caughtUp: ReadModelsStats['catch_up'] = null;
  private readonly byAggregate = new Map<string, Set<Waiter>>();
  private readonly untilReady = new Set<Waiter>();
  private readonly readyListeners = new Set<() => void>();

  constructor(
    kinds: readonly KindProjection[],
    private readonly logger?: Logger,
  ) {
    for (const k of kinds) {
      this.projections.set(k.kind, k);
      this.models.set(k.kind, k.model());
    }
  }

  get state(): ReadModelsState {
    return this.status;
  }

  get ready(): boolean {
    return this.status === 'ready';
  }

  get streamSeq(): number {
    return this.lastSeq;
  }

  /** The model of an aggregate kind (typed by its projection's file). */
  of<M extends KindModel = KindModel>(kind: AggregateKind): M {
    const model = this.models.get(kind);
    if (!model) throw new Error(`no read model of ${kind}: its projection was not given to ReadModels`);
    return model as M;
  }

  /** The projection of an aggregate kind (its queries, its files). */
  projection(kind: AggregateKind): KindProjection {
    const p = this.projections.get(kind);
    if (!p) throw new Error(`no projection of ${kind}`);
    return p;
  }

  /** Every kind's projection with its model. */
  *kinds(): IterableIterator<{ projection: KindProjection; model: KindModel }> {
    for (const [kind, projection] of this.projections) yield { projection, model: this.models.get(kind)! };
  }

  /** The version of aggregate `id` in the read models (0 when unknown), whatever its kind. */
  version(id: string): number {
    for (const model of this.models.values()) {
      const v = model.version(id);
      if (v > 0) return v;
    }
    return 0;
  }

  /** Catching up starts: `target` is the stream's last sequence now. */
  begin(target: number): void {
    this.target = target;
    this.startedAt = performance.now();
    this.status = 'catching_up';
    if (this.lastSeq >= target) this.markReady();
  }

  /** Apply one stored event. Events the models cannot place are counted and logged, never thrown. */
  apply(fe: FeedEvent): void {
    if (fe.stream_seq <= this.lastSeq) return; // already read (a consumer reset re-delivers)
    this.lastSeq = fe.stream_seq;
    this.readEvents++;
    const { event } = fe;
    const kind = event.aggregate_type as AggregateKind;
    const fact = fe.fact || factOfEventType(event.event_type) || '';
    const check = fact.startsWith(`${kind}.`) ? factChecks.get(fact) : undefined;
    let placed = false;
    if (check && typeof event.aggregate_id === 'string' && Number.isInteger(event.sequence) && typeof event.occurred_at === 'string') {
      const model = this.models.get(kind);
      if (!model) placed = false;
      else if (event.sequence <= model.version(event.aggregate_id)) {
        placed = true; // a duplicate of an event already applied: nothing to do
      } else {
        // The payload fields sit beside the envelope's; the models read only the fact's own.
        placed = check(event) && model.apply(fe.fact === fact ? fe : { ...fe, fact }, event);
        if (placed) this.applied++;
      }
    }
    if (!placed) this.skip(fe, fact);
    const waiting = this.byAggregate.get(event.aggregate_id);
    if (waiting && this.status === 'ready') this.check(waiting, event.aggregate_id);
    if (this.status === 'catching_up' && fe.stream_seq >= this.target) this.markReady();
  }

  /** A stored message that is not a domain event: counted, logged, and read past. */
  unreadable(streamSeq: number, reason: string): void {
    if (streamSeq <= this.lastSeq) return;
    this.lastSeq = streamSeq;
    this.readEvents++;
    this.skipped++;
    this.logger?.warn({ stream_seq: streamSeq, reason, skipped: this.skipped }, 'a stored message the read models cannot read was skipped');
    if (this.status === 'catching_up' && streamSeq >= this.target) this.markReady();
  }

  /** The fact of an event by its type (`FlakeCreated` -> `flake.created`), if the type is known. */
  static factOf(event: { event_type?: unknown }): string | undefined {
    return typeof event.event_type === 'string' ? factOfEventType(event.event_type) : undefined;
  }

  /** The feed reports it has read everything the stream held (pending 0). */
  idle(): void {
    if (this.status === 'catching_up') this.markReady();
  }

  stop(): void {
    this.status = 'stopped';
    for (const w of [...this.untilReady]) w.done('not_ready');
    for (const set of this.byAggregate.values()) for (const w of [...set]) w.done('not_ready');
  }

  /** Called once, when caught up (at once when already). */
  onReady(listener: () => void): () => void {
    if (this.status === 'ready') {
      listener();
      return () => undefined;
    }
    this.readyListeners.add(listener);
    return () => this.readyListeners.delete(listener);
  }

  /**
   * Resolves when the models are caught up and (when `id` is given) aggregate `id` has
   * reached `version`; or at the deadline with what was missing.
   */
  waitFor(id: string | undefined, version: number, timeoutMs: number): Promise<WaitOutcome> {
    const satisfied = (): boolean => this.status === 'ready' && (id === undefined || this.version(id) >= version);
    if (satisfied()) return Promise.resolve('ready');
    if (this.status === 'stopped') return Promise.resolve('not_ready');
    return new Promise((resolve) => {
      const waiter: Waiter = {
        id,
        version,
        done: (outcome) => {
          clearTimeout(timer);
          this.untilReady.delete(waiter);
          if (id !== undefined) {
            const set = this.byAggregate.get(id);
            set?.delete(waiter);
            if (set?.size === 0) this.byAggregate.delete(id);
          }
          resolve(outcome);
        },
      };
      const timer = setTimeout(() => waiter.done(this.status === 'ready' ? 'behind' : 'not_ready'), timeoutMs);
      if (this.status !== 'ready') this.untilReady.add(waiter);
      else this.watch(waiter);
    });
  }

  stats(): ReadModelsStats {
    return {
      state: this.status,
      stream_seq: this.lastSeq,
      catch_up_target: this.target,
      applied: this.applied,
      skipped: this.skipped,
      catch_up: this.caughtUp,
      records: Object.fromEntries([...this.models].map(([kind, model]) => [kind, model.records.size])) as Record<AggregateKind, number>,
    };
  }

  private watch(w: Waiter): void {
    if (w.id === undefined) {
      w.done('ready');
      return;
    }
    if (this.version(w.id) >= w.version) {
      w.done('ready');
      return;
    }
    let set = this.byAggregate.get(w.id);
    if (!set) {
      set = new Set();
      this.byAggregate.set(w.id, set);
    }
    set.add(w);
  }

  private check(waiting: Set<Waiter>, id: string): void {
    const v = this.version(id);
    for (const w of [...waiting]) if (v >= w.version) w.done('ready');
  }

  private markReady(): void {
    this.status = 'ready';
    const ms = performance.now() - this.startedAt;
    this.caughtUp = {
      ms: Math.round(ms * 10) / 10,
      events: this.readEvents,
      events_per_s: ms > 0 ? Math.round((this.readEvents / ms) * 1000) : 0,
    };
    this.logger?.info(
      {
        stream_seq: this.lastSeq,
        events: this.readEvents,
        catch_up_ms: this.caughtUp.ms,
        events_per_s: this.caughtUp.events_per_s,
        records: this.stats().records,
      },
      `read models caught up: ${this.readEvents} events in ${this.caughtUp.ms} ms`,
    );
    for (const w of [...this.untilReady]) {
      this.untilReady.delete(w);
      this.watch(w);
    }
    for (const l of [...this.readyListeners]) l();
    this.readyListeners.clear();
  }

  private skip(fe: FeedEvent, fact: string): void {
    this.skipped++;
    if (this.skipped <= 10 || this.skipped % 1000 === 0) {
      this.logger?.warn(
        { stream_seq: fe.stream_seq, fact, event_type: fe.event.event_type, aggregate_id: fe.event.aggregate_id, skipped: this.skipped },
        'an event the read models cannot place was skipped (unknown fact, malformed payload, or no prior creation)',
      );
    }
  }
}
