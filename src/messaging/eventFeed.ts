/**
 * The live feed of stored events for the read models: a JetStream ordered consumer on the
 * event stream (every subject of it is `P.store.>`, so no filter is needed — nats-server
 * 2.9 takes one filter subject at most), from a given stream sequence on. It first reads
 * what the stream holds, then keeps delivering new events as they are stored. nats.js
 * recreates an ordered consumer by itself after a gap, a missed heartbeat or a reconnect,
 * starting after the last sequence it delivered.
 */
import { jetstream, jetstreamManager, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { COMMAND_HEADER, FACT_HEADER, type DomainEvent } from '../domain/events.js';
import type { Subjects } from '../domain/subjects.js';
import { ensureError } from '../errors.js';
import type { StoredEvent } from './eventStore.js';

export interface EventFeedOptions {
  nc: NatsConnection;
  subjects: Subjects;
  logger: Logger;
  /** Deliver events with a stream sequence greater than this. */
  afterSeq: number;
  /** Each stored event, in stream order. Must not throw (a throw is logged and the event skipped). */
  onEvent(stored: StoredEvent): void;
  /** A message that is not a domain event (bad JSON): its sequence, so readers can move past it. */
  onUnreadable(streamSeq: number, reason: string): void;
  /** Everything the stream held has been delivered (the consumer reports nothing pending). */
  onIdle(): void;
  /** Messages per pull request (default 1,000). */
  batch?: number;
}

export interface EventFeed {
  /** The stream's last sequence when the feed started: reading up to it is catching up. */
  readonly target: number;
  stop(): Promise<void>;
}

const decoder = new TextDecoder();

/** Start the feed; resolves once the consumer exists (delivery then runs on its own). */
export async function startEventFeed(options: EventFeedOptions): Promise<EventFeed> {
  const { nc, subjects, logger, afterSeq } = options;
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(subjects.eventStream);
  // A purged stream keeps its last sequence but holds nothing to wait for.
  const target = info.state.messages === 0 ? 0 : info.state.last_seq;
  const js = jetstream(nc);
  const consumer = await js.consumers.get(subjects.eventStream, {
    ...(afterSeq > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 } : { deliver_policy: DeliverPolicy.All }),
  });
  const take = (m: JsMsg): void => {
    let event: DomainEvent;
    try {
      event = JSON.parse(decoder.decode(m.data)) as DomainEvent;
      if (typeof event !== 'object' || event === null) throw new Error('not a JSON object');
    } catch (e) {
      options.onUnreadable(m.seq, ensureError(e).message);
      return;
    }
    const h = m.headers;
    try {
      options.onEvent({
        event,
        fact: h?.get(FACT_HEADER) ?? '',
        command_id: h?.get(COMMAND_HEADER) ?? '',
        stream_seq: m.seq,
      });
    } catch (e) {
      logger.error({ err: ensureError(e), stream_seq: m.seq }, 'a read model failed on an event; it was skipped');
      options.onUnreadable(m.seq, ensureError(e).message);
    }
  };
  const messages: ConsumerMessages = await consumer.consume({
    max_messages: options.batch ?? 1_000,
    callback: (m) => {
      take(m);
      if (m.info.pending === 0) options.onIdle();
    },
  });
  let stopped = false;
  void (async () => {
    for await (const s of messages.status()) {
      if (stopped) break;
      if (s.type === 'heartbeats_missed' || s.type === 'ordered_consumer_recreated' || s.type === 'consumer_not_found' || s.type === 'stream_not_found') {
        logger.warn({ status: s.type, detail: s }, 'event feed for the read models: consumer status');
      }
    }
  })().catch((e: unknown) => logger.debug({ err: ensureError(e) }, 'event feed status ended'));
  void messages.closed().then(
    (err) => {
      if (!stopped) logger.error({ err: err ? ensureError(err) : undefined }, 'the event feed of the read models stopped; queries will answer from what was read so far');
    },
    () => undefined,
  );
  logger.debug({ stream: subjects.eventStream, after_seq: afterSeq, target }, 'event feed started');
  return {
    target,
    stop: async () => {
      stopped = true;
      messages.stop();
      await messages.closed().catch(() => undefined);
    },
  };
}
