/**
 * Following the JetStream event log (for the read models): an ordered consumer on the
 * event stream (every subject of it is `P.store.>`, so no filter is needed — nats-server
 * 2.9 takes one filter subject at most), from a given stream sequence on. It first reads
 * what the stream holds, then keeps delivering new events as they are stored. nats.js
 * recreates an ordered consumer by itself after a gap, a missed heartbeat or a reconnect,
 * starting after the last sequence it delivered; after a reconnect (the server may have
 * restarted and lost the in-memory consumer) or a lost consumer, the feed reopens one itself
 * from after the last event it delivered, retrying with a short backoff, so the read models
 * follow again within moments instead of after a minute of missed heartbeats.
 *
 * A feed can also stop without a status that says so (nats.js answers some of the
 * server's pull statuses — a deleted consumer, an exceeded limit — only after two missed
 * heartbeats): the log tells the feed the sequence of every event this process stored
 * ({@link EventFeed.stored}), and a feed that delivered nothing for
 * {@link FEED_STALL_MS} while behind it reopens ({@link FeedStallWatch}).
 */
import { jetstream, jetstreamManager, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { setTimeout as delay } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { SETUP_ATTEMPT_MS, untilAnswered } from '../cluster/index.js';
import { COMMAND_HEADER, FACT_HEADER, type DomainEvent } from '../domain/events.js';
import type { Subjects } from '../domain/subjects.js';
import { ensureError } from '../errors.js';
import { FeedStallWatch } from './feedStallWatch.js';
import type { FollowOptions, Following } from './ports.js';

/** {@link FollowOptions} plus the connection it runs on. */
export interface EventFeedOptions extends FollowOptions {
  nc: NatsConnection;
  subjects: Subjects;
  logger: Logger;
}

const decoder = new TextDecoder();

/** Longest pause between attempts to reopen the feed after a reconnect or a lost consumer. */
const REOPEN_MAX_DELAY_MS = 2_000;

/** How long a feed behind a stored event may deliver nothing before it is reopened. */
export const FEED_STALL_MS = 1_000;

/** The server's idle heartbeat on a waiting pull: two missed ones (4 s) reopen a feed no local write watches. */
const FEED_HEARTBEAT_MS = 2_000;

/** Consumer statuses after which the feed is replaced by a new consumer. */
const REOPEN_ON = new Set(['heartbeats_missed', 'consumer_not_found', 'stream_not_found', 'consumer_deleted']);

/** Consumer statuses worth a line in the log (the rest are routine: heartbeats, expired pulls). */
const LOGGED = new Set(['reset', 'ordered_consumer_recreated', 'exceeded_limits', 'no_responders']);

/** A running feed, told of what this process stores so it can notice it stopped. */
export interface EventFeed extends Following {
  /** An event with this stream sequence was stored. */
  stored(seq: number): void;
}

/** Start the feed; resolves once the consumer exists (delivery then runs on its own). */
export async function followEventLog(options: EventFeedOptions): Promise<EventFeed> {
  const { nc, subjects, logger } = options;
  // The stream exists (the event log opened it); on a cluster that is settling the first
  // requests may get no answer: they are sent again, bounded.
  const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: SETUP_ATTEMPT_MS });
  const info = await untilAnswered(() => jsm.streams.info(subjects.eventStream), 15_000);
  // A purged stream keeps its last sequence but holds nothing to wait for.
  const target = info.state.messages === 0 ? 0 : info.state.last_seq;
  const js = jetstream(nc);
  /** The last stream sequence delivered: a reopened consumer starts after it. */
  let lastSeq = options.afterSeq;
  let stopped = false;
  let current: ConsumerMessages | undefined;
  /** Bumped at each (re)open: messages of a replaced consumer still in flight are dropped. */
  let generation = 0;
  const watch = new FeedStallWatch(lastSeq, FEED_STALL_MS, (stall) => {
    logger.warn(
      { stream_seq: stall.delivered, stored_seq: stall.stored, stalled_ms: stall.ms },
      'event feed of the read models delivered nothing while behind a stored event; reopening',
    );
    reopen('stalled');
  });

  const take = (m: JsMsg): void => {
    lastSeq = m.seq;
    watch.deliveredUpTo(m.seq);
    let event: DomainEvent;
    try {
      event = JSON.parse(decoder.decode(m.data)) as DomainEvent;
      if (typeof event !== 'object' || event === null) throw new Error('not a JSON object');
    } catch (e) {
      options.onUnreadable(m.seq, ensureError(e).message);
      return;
    }
    try {
      // Headers are decoded only when the event type does not name its fact.
      const fact = options.factOf?.(event);
      options.onEvent(
        fact !== undefined
          ? { event, fact, command_id: '', stream_seq: m.seq }
          : { event, fact: m.headers?.get(FACT_HEADER) ?? '', command_id: m.headers?.get(COMMAND_HEADER) ?? '', stream_seq: m.seq },
      );
    } catch (e) {
      logger.error({ err: ensureError(e), stream_seq: m.seq }, 'a read model failed on an event; it was skipped');
      options.onUnreadable(m.seq, ensureError(e).message);
    }
  };

  const open = async (): Promise<void> => {
    const gen = ++generation;
    const after = lastSeq;
    const consumer = await js.consumers.get(subjects.eventStream, {
      ...(after > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: after + 1 } : { deliver_policy: DeliverPolicy.All }),
    });
    const messages = await consumer.consume({
      max_messages: options.batch ?? 1_000,
      // Short pulls and heartbeats: an idle feed notices a lost consumer within seconds, not a minute.
      expires: 10_000,
      idle_heartbeat: FEED_HEARTBEAT_MS,
      callback: (m) => {
        if (gen !== generation || m.seq <= lastSeq) return;
        take(m);
        if (options.wantsIdle() && m.info.pending === 0) options.onIdle();
      },
    });
    if (stopped) {
      // Stopped while this one was being opened (a reopen racing a shutdown).
      messages.stop();
      return;
    }
    current = messages;
    void (async () => {
      for await (const s of messages.status()) {
        if (stopped || gen !== generation) break;
        if (REOPEN_ON.has(s.type)) {
          logger.warn({ status: s.type, stream_seq: lastSeq }, 'event feed of the read models: consumer status; reopening');
          reopen(s.type);
        } else if (LOGGED.has(s.type)) {
          logger.info({ status: s, stream_seq: lastSeq }, 'event feed of the read models: consumer status');
        }
      }
    })().catch((e: unknown) => logger.debug({ err: ensureError(e) }, 'event feed status ended'));
    void messages.closed().then(
      (err) => {
        if (!stopped && gen === generation) {
          logger.warn(
            { err: err ? ensureError(err) : undefined, stream_seq: lastSeq },
            'the event feed of the read models closed; reopening',
          );
          reopen('closed');
        }
      },
      () => undefined,
    );
    logger.debug({ stream: subjects.eventStream, after_seq: after, target }, 'event feed opened');
  };

  let reopening: Promise<void> | undefined;
  /** Replace the consumer with a new one from after the last delivered event, retrying until it works. */
  const reopen = (reason: string): void => {
    if (stopped || reopening) return;
    reopening = (async () => {
      const old = current;
      current = undefined;
      generation++;
      old?.stop();
      for (let attempt = 0; !stopped; attempt++) {
        try {
          await open();
          logger.info({ reason, stream_seq: lastSeq, attempts: attempt + 1 }, 'event feed of the read models reopened');
          return;
        } catch (e) {
          logger.debug({ err: ensureError(e), attempt }, 'event feed not reopened yet');
          await delay(Math.min(REOPEN_MAX_DELAY_MS, 50 * 2 ** attempt));
        }
      }
    })().finally(() => (reopening = undefined));
  };

  await open();
  // After a reconnect the server may have lost the (in-memory) ordered consumer, or be
  // starting JetStream: reopen at once instead of waiting for missed heartbeats.
  void (async () => {
    for await (const s of nc.status()) {
      if (stopped) break;
      if (s.type === 'reconnect') reopen('reconnect');
    }
  })().catch(() => undefined);

  return {
    target,
    stored: (seq) => watch.storedUpTo(seq),
    stop: async () => {
      // A reopen still retrying ends at its next attempt and stops what it opened.
      stopped = true;
      watch.stop();
      const messages = current;
      current = undefined;
      if (messages) {
        messages.stop();
        await messages.closed().catch(() => undefined);
      }
    },
  };
}
