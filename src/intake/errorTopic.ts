/**
 * The error topic (SPEC §2): every rejected command or query is recorded on
 * `P.error.<cmd|query>.<agg>.<action>` with the original subject, headers, payload (base64)
 * and the reason, so nothing is dropped silently.
 */
import { headers as natsHeaders, type Msg, type MsgHdrs } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Identity } from '../domain/identity.js';
import type { Subjects, SubjectKind } from '../domain/subjects.js';
import { ensureError, serviceErrorStatus, type ErrorReply } from '../errors.js';
import { serviceErrorHeaders } from './microService.js';
import { WireHeaders } from '../messaging/wireHeaders.js';

/** One error-topic record. */
export interface ErrorRecord {
  subject: string;
  code: string;
  reason: string;
  details?: Record<string, unknown>;
  /** The payload as received, base64; only its first bytes when it was too large to record whole. */
  payload_base64: string;
  /** The size of the whole payload as received. */
  payload_bytes: number;
  /** True when `payload_base64` holds only the first bytes of the payload (the record must fit the server's max_payload). */
  payload_truncated: boolean;
  headers: Record<string, string[]>;
  reply_subject: string | null;
  identity: Identity | null;
  received_at: string;
}

/**
 * Reply headers: the command's correlation (SPEC §3) when it named an identity, and for an
 * error reply the service-error headers of ADR-32 (`Nats-Service-Error-Code`, the number of
 * its code from {@link serviceErrorStatus}, and `Nats-Service-Error`, its message).
 */
export function replyHeaders(identity: Identity | undefined, error?: ErrorReply): MsgHdrs {
  const h = identity
    ? new WireHeaders({ 'X-Correlation-ID': identity.correlation_id, 'X-Causation-ID': identity.message_id })
    : new WireHeaders();
  return error ? serviceErrorHeaders(serviceErrorStatus(error.code), error.message, h) : h;
}

const TOKEN_RE = /^[A-Za-z0-9_-]+$/;

/** Room kept below the server's max_payload for the headers of the record. */
const HEADER_ROOM = 4 * 1024;

/** Where error records go: a NATS connection (or, in unit tests, a twin that keeps them). */
export interface RecordPublisher {
  publish(subject: string, body: string, options: { headers: MsgHdrs }): void;
  readonly info?: { max_payload: number } | undefined;
}

export class ErrorTopic {
  private count = 0;
  constructor(
    private readonly nc: RecordPublisher,
    private readonly subjects: Subjects,
    private readonly logger: Logger,
  ) {}

  get recorded(): number {
    return this.count;
  }

  /**
   * The record as JSON with the payload in base64, whole when it fits the server's
   * max_payload, else its first bytes (`payload_truncated`): a rejected command near the
   * payload limit is recorded all the same.
   */
  private encode(record: ErrorRecord, payload: Uint8Array): string {
    const limit = (this.nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM;
    const whole = JSON.stringify({ ...record, payload_base64: Buffer.from(payload).toString('base64') });
    if (whole.length <= limit) return whole;
    // What the record costs without its payload, its strings escaped as they will be.
    const rest = JSON.stringify({ ...record, payload_truncated: true }).length;
    const keep = Math.max(0, Math.floor(((limit - rest) * 3) / 4) - 3);
    return JSON.stringify({ ...record, payload_truncated: true, payload_base64: Buffer.from(payload.subarray(0, keep)).toString('base64') });
  }

  record(kind: SubjectKind, aggregate: string, action: string, msg: Msg, reply: ErrorReply, identity: Identity | undefined): void {
    const headers: Record<string, string[]> = {};
    if (msg.headers) for (const [k, v] of msg.headers) headers[k] = v;
    const record: ErrorRecord = {
      subject: msg.subject,
      code: reply.code,
      reason: reply.message,
      ...(reply.details ? { details: reply.details } : {}),
      payload_base64: '',
      payload_bytes: msg.data.length,
      payload_truncated: false,
      headers,
      reply_subject: msg.reply ?? null,
      identity: identity ?? null,
      received_at: new Date().toISOString(),
    };
    const agg = TOKEN_RE.test(aggregate) ? aggregate : 'unknown';
    const act = TOKEN_RE.test(action) ? action : 'unknown';
    this.count++;
    this.logger.warn(
      { subject: msg.subject, code: reply.code, reason: reply.message, correlation_id: identity?.correlation_id },
      `${kind} rejected`,
    );
    let body: string;
    try {
      body = this.encode(record, msg.data);
    } catch (e) {
      this.logger.error({ err: ensureError(e), subject: msg.subject }, 'could not encode the error-topic record');
      return;
    }
    try {
      const h = natsHeaders();
      if (identity) {
        h.set('X-Correlation-ID', identity.correlation_id);
        h.set('X-Causation-ID', identity.message_id);
      }
      h.set('X-Error-Code', reply.code);
      this.nc.publish(this.subjects.error(kind, agg, act), body, { headers: h });
    } catch (e) {
      this.logger.error({ err: ensureError(e), subject: msg.subject }, 'could not publish to the error topic');
    }
  }
}
