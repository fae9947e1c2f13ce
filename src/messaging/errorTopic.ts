/**
 * The error topic (SPEC §2): every rejected command or query is recorded on
 * `P.error.<cmd|query>.<agg>.<action>` with the original subject, headers, payload (base64)
 * and the reason, so nothing is dropped silently.
 */
import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Identity } from '../domain/identity.js';
import type { Subjects, SubjectKind } from '../domain/subjects.js';
import { ensureError, type ErrorReply } from '../errors.js';
import { WireHeaders } from './wireHeaders.js';

/** One error-topic record. */
export interface ErrorRecord {
  subject: string;
  code: string;
  reason: string;
  details?: Record<string, unknown>;
  payload_base64: string;
  payload_bytes: number;
  headers: Record<string, string[]>;
  reply_subject: string | null;
  identity: Identity | null;
  received_at: string;
}

/** Reply headers carrying the command's correlation (SPEC §3). */
export function replyHeaders(identity: Identity): MsgHdrs {
  return new WireHeaders({ 'X-Correlation-ID': identity.correlation_id, 'X-Causation-ID': identity.message_id });
}

const TOKEN_RE = /^[A-Za-z0-9_-]+$/;

export class ErrorTopic {
  private count = 0;
  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly logger: Logger,
  ) {}

  get recorded(): number {
    return this.count;
  }

  record(kind: SubjectKind, aggregate: string, action: string, msg: Msg, reply: ErrorReply, identity: Identity | undefined): void {
    const headers: Record<string, string[]> = {};
    if (msg.headers) for (const [k, v] of msg.headers) headers[k] = v;
    const record: ErrorRecord = {
      subject: msg.subject,
      code: reply.code,
      reason: reply.message,
      ...(reply.details ? { details: reply.details } : {}),
      payload_base64: Buffer.from(msg.data).toString('base64'),
      payload_bytes: msg.data.length,
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
    try {
      const h = natsHeaders();
      if (identity) {
        h.set('X-Correlation-ID', identity.correlation_id);
        h.set('X-Causation-ID', identity.message_id);
      }
      h.set('X-Error-Code', reply.code);
      this.nc.publish(this.subjects.error(kind, agg, act), JSON.stringify(record), { headers: h });
    } catch (e) {
      this.logger.error({ err: ensureError(e), subject: msg.subject }, 'could not publish to the error topic');
    }
  }
}
