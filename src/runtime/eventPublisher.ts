/**
 * The publisher: the single exit of every domain event. It stores events in the event log
 * (each expecting its aggregate's last sequence), then publishes them on their seed subjects.
 * The publisher machine decides what a store does now: in `ready` and `retrying` it is
 * tried, retried with the service's back-off while the log does not answer; in `holding`
 * (NATS is away) it waits for the connection instead of hammering a dead socket; in
 * `stopped` it is refused. Past the retry budget, events become dead letters.
 */
import { createActor, type Actor } from 'xstate';
import type { Logger } from 'pino';
import { publisherMachine } from '../../machines/index.js';
import type { Subjects } from '../domain/subjects.js';
import { ConflictError, DeadLetteredError, PublisherStoppedError, UnavailableError, ensureError } from '../errors.js';
import type { AppendRequest, EventLog, SeedPublisher } from '../store/index.js';
import { backoff, sleep, type Backoff, type Clock } from '../time/clock.js';

export interface PublishedEvent {
  fact: string;
  stream_seq: number;
  subject: string;
}

export interface PublisherRetry {
  /** How long to keep retrying one batch before its events become dead letters. */
  budgetMs: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

/**
 * Tracks which stored events are surely published on their seed subjects: a checkpoint
 * stream sequence C such that every event at or below C was published. A candidate is the
 * highest ack seen at a tick plus the appends in flight then; once those finish, every event
 * up to the candidate has been published (later appends get higher sequences).
 *
 * Appends are numbered, so the bookkeeping is three counters (no token object and no set
 * entry per append): the appends in flight when a candidate is proposed are exactly those
 * begun by then and not ended, and each ends once.
 */
class PublicationWatermark {
  /** Appends begun so far: an append's token is its number. */
  private begun = 0;
  private inflight = 0;
  private maxAck = 0;
  /** The proposed checkpoint; appends numbered up to `candidateBefore` were in flight then… */
  private candidateSeq = 0;
  private candidateBefore = 0;
  /** … and this many of them have not ended (0: no candidate). */
  private candidateWaiting = 0;
  committed = 0;

  begin(): number {
    this.inflight++;
    return ++this.begun;
  }

  acked(seq: number): void {
    if (seq > this.maxAck) this.maxAck = seq;
  }

  /** Call once per `begin()`. */
  end(token: number): void {
    this.inflight--;
    if (this.candidateWaiting > 0 && token <= this.candidateBefore && --this.candidateWaiting === 0) this.commit(this.candidateSeq);
  }

  /** Propose the current ack as the next checkpoint. */
  tick(): void {
    if (this.candidateWaiting > 0 || this.maxAck <= this.committed) return;
    if (this.inflight === 0) return this.commit(this.maxAck);
    this.candidateSeq = this.maxAck;
    this.candidateBefore = this.begun;
    this.candidateWaiting = this.inflight;
  }

  private commit(seq: number): void {
    if (seq > this.committed) this.committed = seq;
  }
}

export interface EventPublisherDeps {
  log: EventLog;
  seeds: SeedPublisher;
  subjects: Subjects;
  logger: Logger;
  clock: Clock;
  retry?: PublisherRetry;
  /** Keeps events that could not be stored (durably); set by the service. */
  deadLetter?: (requests: AppendRequest[]) => void;
}

export class EventPublisher {
  private stored = 0;
  /** Which stored events are known to be published (the relay checkpoint). */
  readonly watermark = new PublicationWatermark();
  /** The publisher machine: its state is the mode every store asks about. */
  readonly actor: Actor<typeof publisherMachine>;
  private readonly retry: PublisherRetry;
  private readonly backoff: Backoff;
  /** Stores waiting in `holding` for the mode to change. */
  private readonly held = new Set<() => void>();

  constructor(private readonly deps: EventPublisherDeps) {
    this.retry = deps.retry ?? { budgetMs: 10_000, initialDelayMs: 50, maxDelayMs: 2_000 };
    this.backoff = backoff({ initialMs: this.retry.initialDelayMs, maxMs: this.retry.maxDelayMs });
    this.actor = createActor(publisherMachine, { id: 'publisher', clock: deps.clock });
    this.actor.subscribe({
      next: (snapshot) => {
        if (snapshot.value === 'holding') return;
        for (const wake of [...this.held]) wake();
      },
      error: (err) => deps.logger.error({ err }, 'publisher actor failed'),
    });
    this.actor.start();
  }

  /** The connection dropped: stores wait for it (the machine holds them). */
  connectionLost(): void {
    this.actor.send({ type: 'connection.lost' });
  }

  connectionRestored(): void {
    this.actor.send({ type: 'connection.restored' });
  }

  /** Refuse every store from now on (shutdown). */
  stop(): void {
    this.actor.send({ type: 'stop' });
  }

  /**
   * Store the events of one aggregate in order, each expecting the previous one's stream
   * sequence. Throws ConflictError (not retried) or UnavailableError once the retry budget is
   * spent. They are published on their seed subjects when the caller says so (`publish()`,
   * exactly once): a slot does it right before it replies, so the events and the reply leave
   * in one socket write, events first.
   */
  async storeDeferred(events: AppendRequest[]): Promise<{ events: PublishedEvent[]; publish: () => void }> {
    const out: PublishedEvent[] = [];
    const seeds: { req: AppendRequest; body: Uint8Array }[] = [];
    let expected = events[0]?.expected_last_seq ?? 0;
    const token = this.watermark.begin();
    const deadline = this.deps.clock.now() + this.retry.budgetMs;
    let done = false;
    const publish = (): void => {
      if (done) return;
      done = true;
      for (const seed of seeds) this.deps.seeds.publish(seed.req.event, seed.req.fact, seed.body);
      this.watermark.end(token);
    };
    try {
      for (let i = 0; i < events.length; i++) {
        const req = events[i]!;
        let stored: number;
        let body: Uint8Array;
        try {
          // Encoded once: the same bytes are stored and published on the seed subject (a
          // slice of Node's buffer pool: no buffer of its own to allocate and free).
          body = Buffer.from(JSON.stringify(req.event));
          stored = await this.appendWithRetry(req.expected_last_seq === expected ? req : { ...req, expected_last_seq: expected }, deadline, body);
        } catch (e) {
          if (!(e instanceof UnavailableError) || e instanceof PublisherStoppedError || !this.deps.deadLetter) throw e;
          const rest = events.slice(i).map((r, j) => (j === 0 ? { ...r, expected_last_seq: expected } : r));
          this.deps.deadLetter(rest);
          this.actor.send({ type: 'dead_lettered', count: rest.length });
          throw new DeadLetteredError(
            `${e.message}; the event is kept as a dead letter and will be stored when NATS is back. Retry the command with the same message_id to learn its outcome`,
            { dead_lettered: rest.length },
          );
        }
        this.watermark.acked(stored);
        expected = stored;
        this.stored++;
        out.push({ fact: req.fact, stream_seq: stored, subject: this.deps.subjects.event(req.fact) });
        seeds.push({ req, body });
      }
    } catch (e) {
      publish(); // what was stored before the failure is published all the same
      throw e;
    }
    return { events: out, publish };
  }

  /** Publish an already stored event on its seed subject (the relay, dead letters). */
  publishSeed(req: Pick<AppendRequest, 'event' | 'fact'>): void {
    this.deps.seeds.publish(req.event, req.fact);
  }

  stats(): { stored: number; published: number; mode: string } {
    return { stored: this.stored, published: this.deps.seeds.published, mode: String(this.actor.getSnapshot().value) };
  }

  /** Asks the machine before every attempt: store now, wait while holding, or refuse. */
  private async appendWithRetry(req: AppendRequest, deadline: number, body: Uint8Array): Promise<number> {
    const { clock, logger } = this.deps;
    let lastError: Error | undefined;
    for (let attempt = 1; ; attempt++) {
      const mode = this.actor.getSnapshot().value;
      if (mode === 'stopped') throw new PublisherStoppedError('the service is shutting down; send the command again after the restart');
      if (mode === 'holding') {
        if (!(await this.whileHolding(deadline))) throw this.spent(attempt, lastError ?? new Error('NATS was away'));
        continue;
      }
      try {
        const { stream_seq } = await this.deps.log.append(req, body);
        if (lastError) this.actor.send({ type: 'store.recovered' });
        return stream_seq;
      } catch (e) {
        if (e instanceof ConflictError) throw e;
        lastError = ensureError(e);
        this.actor.send({ type: 'store.failed', error: lastError.message });
        logger.warn(
          { attempt, err: lastError.message, aggregate_id: req.event.aggregate_id, correlation_id: req.event.identity.correlation_id },
          'storing event failed; retrying',
        );
        const wait = this.backoff.delay(attempt);
        if (clock.now() + wait >= deadline) throw this.spent(attempt, lastError);
        await sleep(clock, wait);
      }
    }
  }

  /** Waits while the machine holds (NATS away); false when the budget ran out first. */
  private whileHolding(deadline: number): Promise<boolean> {
    const { clock } = this.deps;
    return new Promise((resolve) => {
      const wake = (): void => {
        this.held.delete(wake);
        clock.clearTimeout(timer);
        resolve(true);
      };
      const timer = clock.setTimeout(() => {
        this.held.delete(wake);
        resolve(false);
      }, Math.max(0, deadline - clock.now()));
      this.held.add(wake);
    });
  }

  private spent(attempts: number, last: Error): UnavailableError {
    return new UnavailableError(
      `the event store did not accept the event within ${this.retry.budgetMs} ms (${attempts} attempts, last error: ${last.message})`,
    );
  }
}
