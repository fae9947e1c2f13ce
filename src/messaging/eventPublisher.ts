/**
 * The single exit of every domain event: store in JetStream (with the expected last
 * sequence of the aggregate), then publish on the seed subject with the seed headers.
 * Transient failures are retried with backoff; the mode is the publisher machine's state.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Actor } from 'xstate';
import type { Logger } from 'pino';
import type { publisherMachine } from '../../machines/index.js';
import type { Subjects } from '../domain/subjects.js';
import { eventHeaders } from '../domain/events.js';
import { ConflictError, UnavailableError, ensureError } from '../errors.js';
import type { AppendRequest, EventStore } from './eventStore.js';
import { WireHeaders } from './wireHeaders.js';

const utf8 = new TextEncoder();

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

/** Thrown when the events could not be stored within the budget and were kept as dead letters. */
export class DeadLetteredError extends UnavailableError {}

/**
 * Tracks which stored events are surely published on their seed subjects: a checkpoint
 * stream sequence C such that every event at or below C was published. A candidate is the
 * highest ack seen at a tick plus the appends in flight then; once those finish, every event
 * up to the candidate has been published (later appends get higher sequences).
 */
class PublicationWatermark {
  private readonly inflight = new Set<object>();
  private maxAck = 0;
  private candidate: { seq: number; waiting: Set<object> } | undefined;
  committed = 0;

  begin(): object {
    const token = {};
    this.inflight.add(token);
    return token;
  }

  acked(seq: number): void {
    if (seq > this.maxAck) this.maxAck = seq;
  }

  end(token: object): void {
    this.inflight.delete(token);
    const c = this.candidate;
    if (c && c.waiting.delete(token) && c.waiting.size === 0) this.commit(c.seq);
  }

  /** Propose the current ack as the next checkpoint. */
  tick(): void {
    if (this.candidate || this.maxAck <= this.committed) return;
    this.candidate = { seq: this.maxAck, waiting: new Set(this.inflight) };
    if (this.candidate.waiting.size === 0) this.commit(this.maxAck);
  }

  private commit(seq: number): void {
    this.candidate = undefined;
    if (seq > this.committed) this.committed = seq;
  }
}

export class EventPublisher {
  private stored = 0;
  private published = 0;
  /** Which stored events are known to be published (the relay checkpoint). */
  readonly watermark = new PublicationWatermark();

  constructor(
    private readonly store: EventStore,
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly logger: Logger,
    readonly actor: Actor<typeof publisherMachine>,
    private readonly retry: PublisherRetry = { budgetMs: 10_000, initialDelayMs: 50, maxDelayMs: 2_000 },
    /** Keeps events that could not be stored (durably); set by the service. */
    private readonly deadLetter?: (requests: AppendRequest[]) => void,
  ) {}

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
    const deadline = Date.now() + this.retry.budgetMs;
    let done = false;
    const publish = (): void => {
      if (done) return;
      done = true;
      for (const seed of seeds) this.publishSeed(seed.req, seed.body);
      this.watermark.end(token);
    };
    try {
      for (let i = 0; i < events.length; i++) {
        const req = events[i]!;
        let stored: number;
        let body: Uint8Array;
        try {
          // Encoded once: the same bytes are stored and published on the seed subject.
          body = utf8.encode(JSON.stringify(req.event));
          stored = await this.appendWithRetry({ ...req, expected_last_seq: expected }, deadline, body);
        } catch (e) {
          if (!(e instanceof UnavailableError) || !this.deadLetter) throw e;
          const rest = events.slice(i).map((r, j) => (j === 0 ? { ...r, expected_last_seq: expected } : r));
          this.deadLetter(rest);
          this.actor.send({ type: 'dead_lettered', count: rest.length });
          throw new DeadLetteredError(
            `${e.message}; the event is kept as a dead letter and will be stored when NATS is back. Retry the command with the same message_id to learn its outcome`,
            { dead_lettered: rest.length },
          );
        }
        this.watermark.acked(stored);
        expected = stored;
        this.stored++;
        out.push({ fact: req.fact, stream_seq: stored, subject: this.subjects.event(req.fact) });
        seeds.push({ req, body });
      }
    } catch (e) {
      publish(); // what was stored before the failure is published all the same
      throw e;
    }
    return { events: out, publish };
  }

  /** Publish an already stored event on its seed subject (also used to make up gaps). */
  publishSeed(req: Pick<AppendRequest, 'event' | 'fact'>, body: string | Uint8Array = JSON.stringify(req.event)): void {
    const h = new WireHeaders(eventHeaders(req.event, this.subjects.prefix));
    try {
      this.nc.publish(this.subjects.event(req.fact), body, { headers: h });
      this.published++;
    } catch (e) {
      // Core publish only fails when the connection is closed; the relay makes it up later.
      this.logger.warn({ err: ensureError(e).message, event_id: req.event.identity.message_id }, 'seed publish failed');
    }
  }

  stats(): { stored: number; published: number; mode: string } {
    return { stored: this.stored, published: this.published, mode: String(this.actor.getSnapshot().value) };
  }

  private async appendWithRetry(req: AppendRequest, deadline: number, body: Uint8Array): Promise<number> {
    let delay = this.retry.initialDelayMs;
    let lastError: Error | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        const { stream_seq } = await this.store.append(req, body);
        if (lastError) this.actor.send({ type: 'store.recovered' });
        return stream_seq;
      } catch (e) {
        if (e instanceof ConflictError) throw e;
        lastError = ensureError(e);
        this.actor.send({ type: 'store.failed', error: lastError.message });
        this.logger.warn(
          { attempt, err: lastError.message, aggregate_id: req.event.aggregate_id, correlation_id: req.event.identity.correlation_id },
          'storing event failed; retrying',
        );
        const wait = Math.random() * delay;
        if (Date.now() + wait >= deadline) {
          throw new UnavailableError(
            `the event store did not accept the event within ${this.retry.budgetMs} ms (${attempt} attempts, last error: ${lastError.message})`,
          );
        }
        await new Promise((r) => setTimeout(r, wait));
        delay = Math.min(this.retry.maxDelayMs, delay * 2);
      }
    }
  }
}
