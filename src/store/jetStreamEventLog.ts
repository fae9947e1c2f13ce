/**
 * The event log on JetStream (file storage). One subject per aggregate
 * (`P.store.<agg>.<id>`), so one aggregate's history is one filtered read and a concurrent
 * writer is caught by the expected last subject sequence (works on nats-server 2.9).
 */
import {
  jetstream,
  jetstreamManager,
  JetStreamApiError,
  JetStreamApiCodes,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Subjects } from '../domain/subjects.js';
import { COMMAND_HEADER, EVENT_ID_HEADER, FACT_HEADER, eventHeaders, type DomainEvent } from '../domain/events.js';
import { factOfEventType } from '../../machines/index.js';
import { SETUP_ATTEMPT_MS, ensureReplicas, explainReplicaError, isReplicaRefusal, untilAnswered } from '../cluster/index.js';
import { ConflictError, StreamApiError } from '../errors.js';
import { WireHeaders } from '../messaging/wireHeaders.js';
import { followEventLog, type EventFeed } from './jetStreamFeed.js';
import type { Appended, AppendRequest, EventLog, FollowOptions, Following, StoredEvent } from './ports.js';
import { StreamAppender } from './streamAppender.js';

/** Stream settings the service creates or verifies at start (documented in the README). */
export function eventStreamConfig(subjects: Subjects, duplicateWindowMs: number, replicas = 1): Partial<StreamConfig> & { name: string } {
  return {
    name: subjects.eventStream,
    subjects: [subjects.storeAll],
    storage: 'file',
    retention: 'limits',
    discard: 'old',
    max_msgs: -1,
    max_bytes: -1,
    max_age: 0,
    max_msg_size: 1024 * 1024,
    duplicate_window: duplicateWindowMs * 1_000_000,
    num_replicas: replicas,
    allow_direct: true,
  };
}

/** How long creating or changing the stream may take (replicated streams take seconds to place). */
const ADMIN_TIMEOUT_MS = 15_000;

/** Header naming the instance that stored an event (in the stream only; the seed subjects keep the seed's headers). */
export const WRITER_HEADER = 'X-Nix-Writer';

/** Options of {@link JetStreamEventLog.open}. */
export interface EventLogOptions {
  /** JetStream's duplicate window (default 2 min). */
  duplicateWindowMs?: number;
  /** `NIX_REPLICAS`: replicas of the stream, applied to an existing stream too (default 1). */
  replicas?: number;
  /**
   * Who stores: this instance's id (the service adds its ownership epoch of the aggregate's
   * partition, `<instance>@<epoch>`), stored with every event it appends as {@link WRITER_HEADER}.
   */
  writer?: string | ((event: DomainEvent) => string);
}

export class JetStreamEventLog implements EventLog {
  private writer: EventLogOptions['writer'];
  /** The running feeds, told the sequence of each event stored here (to notice a stalled one). */
  private readonly feeds = new Set<EventFeed>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly subjects: Subjects,
    private readonly logger: Logger,
    private readonly appender: StreamAppender = new StreamAppender(nc, 2_000),
  ) {}

  /**
   * Create the stream if missing; otherwise check it covers our subjects and bring its
   * replicas to `replicas` (a refusal says what to set or run: {@link ensureReplicas}).
   */
  static async open(nc: NatsConnection, subjects: Subjects, logger: Logger, options: EventLogOptions = {}): Promise<JetStreamEventLog> {
    // Creating a replicated stream can take seconds on a cluster that is settling: requests that
    // get no answer (the stream another instance creates has no leader yet) are sent again.
    const jsm = await untilAnswered(() => jetstreamManager(nc, { timeout: SETUP_ATTEMPT_MS }), ADMIN_TIMEOUT_MS);
    const replicas = options.replicas ?? 1;
    const wanted = eventStreamConfig(subjects, options.duplicateWindowMs ?? 120_000, replicas);
    try {
      const info = await untilAnswered(() => jsm.streams.info(subjects.eventStream), ADMIN_TIMEOUT_MS);
      if (!info.config.subjects?.includes(subjects.storeAll)) {
        throw new Error(
          `stream ${subjects.eventStream} exists but does not capture ${subjects.storeAll}; delete or fix it (nats stream edit)`,
        );
      }
      if (info.config.storage !== 'file') {
        logger.warn({ stream: subjects.eventStream }, 'event stream is not file storage: events do not survive a server restart');
      }
    } catch (e) {
      if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound) {
        try {
          await untilAnswered(() => jsm.streams.add(wanted), ADMIN_TIMEOUT_MS);
        } catch (refused) {
          throw isReplicaRefusal(refused) ? explainReplicaError(refused, subjects.eventStream, replicas) : refused;
        }
        logger.info({ stream: subjects.eventStream, subjects: wanted.subjects, replicas }, 'event stream created');
      } else {
        throw e;
      }
    }
    // JetStream answered above: the managers below skip the API check (one request less that can time out on a settling cluster).
    const change = await ensureReplicas(await jetstreamManager(nc, { timeout: ADMIN_TIMEOUT_MS, checkAPI: false }), subjects.eventStream, replicas);
    if (change.changed) logger.warn({ stream: change.stream, from: change.from, to: change.to }, 'event stream replicas changed to NIX_REPLICAS');
    const log = new JetStreamEventLog(nc, jetstream(nc, { timeout: 2_000 }), await jetstreamManager(nc, { checkAPI: false }), subjects, logger);
    log.writer = options.writer;
    return log;
  }

  /**
   * Store one event. Throws {@link ConflictError} when another writer stored an event for
   * this aggregate since `expected_last_seq`. Returns the stream sequence (the original one
   * when JetStream recognised the msg id as a duplicate).
   */
  async append(req: AppendRequest, body: string | Uint8Array = JSON.stringify(req.event)): Promise<Appended> {
    const { event } = req;
    const h = new WireHeaders(eventHeaders(event, this.subjects.prefix));
    h.append(FACT_HEADER, req.fact);
    h.append(COMMAND_HEADER, req.command_id);
    h.append('Nats-Msg-Id', req.msg_id);
    h.append('Nats-Expected-Last-Subject-Sequence', String(req.expected_last_seq));
    if (this.writer !== undefined) h.append(WRITER_HEADER, typeof this.writer === 'string' ? this.writer : this.writer(event));
    try {
      const ack = await this.appender.publish(this.subjects.store(event.aggregate_type, event.aggregate_id), body, h);
      if (ack.duplicate) await this.checkDuplicate(req, ack.seq);
      for (const feed of this.feeds) feed.stored(ack.seq);
      return { stream_seq: ack.seq, duplicate: ack.duplicate };
    } catch (e) {
      if (e instanceof StreamApiError && e.errCode === JetStreamApiCodes.StreamWrongLastSequence) {
        const mine = await this.storedAlready(req);
        if (mine !== undefined) return { stream_seq: mine, duplicate: true };
        throw new ConflictError(
          `${event.aggregate_type} ${event.aggregate_id} was changed by another writer; reload and retry`,
          { expected_last_seq: req.expected_last_seq },
        );
      }
      throw e;
    }
  }

  /**
   * JetStream answered "duplicate": a message with this dedup key is stored already. That is
   * this very event only when an earlier attempt of this append got through (a timeout that
   * was not a failure); anything else must never count as stored, so it is a conflict: the
   * aggregate reloads from the store and its ledger answers the command from what is there.
   */
  private async checkDuplicate(req: AppendRequest, seq: number): Promise<void> {
    const stored = await this.jsm.streams.getMessage(this.subjects.eventStream, { seq });
    const storedId = stored?.header.get(EVENT_ID_HEADER);
    if (storedId === req.event.identity.message_id) return;
    throw new ConflictError(
      `the store already holds another event under the dedup key ${req.msg_id} (stream sequence ${seq}); reload ${req.event.aggregate_type} ${req.event.aggregate_id} and decide again`,
      { duplicate_of: seq, msg_id: req.msg_id },
    );
  }

  /**
   * The stream sequence of this very event when it is the aggregate's last one already: an
   * earlier attempt of this append got through while its acknowledgement was lost (a stream
   * leader killed mid-write), and the retry reached a leader whose duplicate window does not
   * know its key, so the expected-sequence check answered instead. Without this, the event
   * would count as another writer's: stored, answered from the store, never published.
   */
  private async storedAlready(req: AppendRequest): Promise<number | undefined> {
    const { event } = req;
    const last = await this.jsm.streams.getMessage(this.subjects.eventStream, { last_by_subj: this.subjects.store(event.aggregate_type, event.aggregate_id) });
    return last && last.header.get(EVENT_ID_HEADER) === event.identity.message_id ? last.seq : undefined;
  }

  /** Stream sequence of the aggregate's last event, 0 when it has none. */
  async lastSequence(aggregate: string, id: string): Promise<number> {
    const m = await this.jsm.streams.getMessage(this.subjects.eventStream, { last_by_subj: this.subjects.store(aggregate, id) });
    return m ? m.seq : 0;
  }

  /** One aggregate's history after stream sequence `afterSeq`, in order. */
  async read(aggregate: string, id: string, afterSeq = 0): Promise<StoredEvent[]> {
    const last = await this.lastSequence(aggregate, id);
    if (last <= afterSeq) return [];
    const consumer = await this.js.consumers.get(this.subjects.eventStream, {
      filter_subjects: this.subjects.store(aggregate, id),
      ...(afterSeq > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 } : {}),
    });
    const out: StoredEvent[] = [];
    try {
      while (true) {
        // Ask for exactly what is left, so the pull ends when it is delivered (no expiry wait).
        const batch = await consumer.fetch({ max_messages: Math.min(1000, Math.max(1, last - afterSeq - out.length)), expires: 5_000 });
        let done = false;
        let got = 0;
        for await (const m of batch) {
          got++;
          out.push(decodeStored(m.data, () => m.headers, m.seq));
          // `last` is the subject's last message, so it arrives (no need to parse m.info).
          if (m.seq >= last) {
            done = true;
            break;
          }
        }
        if (done || got === 0) break;
      }
    } finally {
      // Not awaited: the answer is complete, and an ordered consumer expires by itself anyway.
      consumer.delete().catch(() => undefined);
    }
    return out;
  }

  async tail(): Promise<number> {
    return (await this.jsm.streams.info(this.subjects.eventStream)).state.last_seq;
  }

  /** Every stored event with stream sequence > afterSeq, in batches (for relays and projections). */
  async *readAll(afterSeq = 0, batchSize = 1000): AsyncGenerator<StoredEvent[]> {
    const info = await this.jsm.streams.info(this.subjects.eventStream);
    const last = info.state.last_seq;
    if (last <= afterSeq) return;
    const consumer = await this.js.consumers.get(this.subjects.eventStream, {
      ...(afterSeq > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 } : {}),
    });
    let next = afterSeq + 1;
    try {
      while (true) {
        const batch = await consumer.fetch({ max_messages: Math.min(batchSize, Math.max(1, last - next + 1)), expires: 5_000 });
        const out: StoredEvent[] = [];
        let done = false;
        for await (const m of batch) {
          out.push(decodeStored(m.data, () => m.headers, m.seq));
          next = m.seq + 1;
          if (m.seq >= last || m.info.pending === 0) {
            done = true;
            break;
          }
        }
        if (out.length) yield out;
        if (done || out.length === 0) break;
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
  }

  /** Every stored event after `afterSeq`, then each new one (an ordered consumer that reopens itself). */
  async follow(options: FollowOptions): Promise<Following> {
    const feed = await followEventLog({ ...options, nc: this.nc, subjects: this.subjects, logger: this.logger });
    this.feeds.add(feed);
    return {
      target: feed.target,
      stop: async () => {
        this.feeds.delete(feed);
        await feed.stop();
      },
    };
  }
}

const utf8 = new TextDecoder();

/**
 * A stored event. Its fact comes from its type and its command from its causation id, as
 * written by the publisher, so the headers are decoded only for an event they cannot name
 * (headers cost more to decode than the body: rebuilds read thousands of events).
 */
function decodeStored(data: Uint8Array, headers: () => { get(k: string): string } | undefined, seq: number): StoredEvent {
  const event = JSON.parse(utf8.decode(data)) as DomainEvent;
  const fact = factOfEventType(event.event_type);
  const causation = event.identity?.causation_id;
  return {
    event,
    fact: fact ?? (headers()?.get(FACT_HEADER) || `${event.aggregate_type}.${event.event_type}`),
    command_id: causation || headers()?.get(COMMAND_HEADER) || '',
    stream_seq: seq,
  };
}
