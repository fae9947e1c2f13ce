/**
 * The event store on JetStream (file storage). One subject per aggregate
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
import { COMMAND_HEADER, FACT_HEADER, eventHeaders, type DomainEvent } from '../domain/events.js';
import { factOfEventType } from '../../machines/index.js';
import { ConflictError } from '../errors.js';
import { StreamApiError, StreamAppender } from './streamAppender.js';
import { WireHeaders } from './wireHeaders.js';

/** Stream settings the service creates or verifies at start (documented in the README). */
export function eventStreamConfig(subjects: Subjects, duplicateWindowMs: number): Partial<StreamConfig> & { name: string } {
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
    num_replicas: 1,
    allow_direct: true,
  };
}

/** An event as read back from the store. */
export interface StoredEvent {
  event: DomainEvent;
  /** `<agg>.<past>` */
  fact: string;
  /** The command whose handling produced it. */
  command_id: string;
  /** JetStream stream sequence. */
  stream_seq: number;
}

/** What `append` needs besides the event. */
export interface AppendRequest {
  event: DomainEvent;
  fact: string;
  command_id: string;
  /** Stream sequence of the aggregate's last stored event, 0 for none. */
  expected_last_seq: number;
  /** Dedup id for JetStream's duplicate window. */
  msg_id: string;
}

export class EventStore {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly subjects: Subjects,
    private readonly logger: Logger,
    private readonly appender: StreamAppender = new StreamAppender(nc, 2_000),
  ) {}

  /** Create the stream if missing; otherwise check it covers our subjects. */
  static async open(nc: NatsConnection, subjects: Subjects, logger: Logger, duplicateWindowMs = 120_000): Promise<EventStore> {
    const jsm = await jetstreamManager(nc);
    const wanted = eventStreamConfig(subjects, duplicateWindowMs);
    try {
      const info = await jsm.streams.info(subjects.eventStream);
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
        await jsm.streams.add(wanted);
        logger.info({ stream: subjects.eventStream, subjects: wanted.subjects }, 'event stream created');
      } else {
        throw e;
      }
    }
    return new EventStore(nc, jetstream(nc, { timeout: 2_000 }), jsm, subjects, logger);
  }

  /**
   * Store one event. Throws {@link ConflictError} when another writer stored an event for
   * this aggregate since `expected_last_seq`. Returns the stream sequence (the original one
   * when JetStream recognised the msg id as a duplicate).
   */
  async append(req: AppendRequest, body: string | Uint8Array = JSON.stringify(req.event)): Promise<{ stream_seq: number; duplicate: boolean }> {
    const { event } = req;
    const h = new WireHeaders(eventHeaders(event, this.subjects.prefix));
    h.append(FACT_HEADER, req.fact);
    h.append(COMMAND_HEADER, req.command_id);
    h.append('Nats-Msg-Id', req.msg_id);
    h.append('Nats-Expected-Last-Subject-Sequence', String(req.expected_last_seq));
    try {
      const ack = await this.appender.publish(this.subjects.store(event.aggregate_type, event.aggregate_id), body, h);
      return { stream_seq: ack.seq, duplicate: ack.duplicate };
    } catch (e) {
      if (e instanceof StreamApiError && e.errCode === JetStreamApiCodes.StreamWrongLastSequence) {
        throw new ConflictError(
          `${event.aggregate_type} ${event.aggregate_id} was changed by another writer; reload and retry`,
          { expected_last_seq: req.expected_last_seq },
        );
      }
      throw e;
    }
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

  get connection(): NatsConnection {
    return this.nc;
  }

  get log(): Logger {
    return this.logger;
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
