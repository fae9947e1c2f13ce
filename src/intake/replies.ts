/**
 * How an intake answers: replies with the correlation headers (and the service-error headers
 * for an error), every error also recorded on the error topic and counted — one place for
 * commands and queries alike, so nothing is dropped silently.
 */
import type { Msg } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Identity } from '../domain/identity.js';
import type { SubjectKind } from '../domain/subjects.js';
import { DomainError, ensureError, toErrorReply, type ErrorReply } from '../errors.js';
import { replyHeaders, type ErrorTopic } from './errorTopic.js';

/** Where a message was addressed: its aggregate and action tokens (`unknown` when there were none). */
export interface Addressed {
  aggregate: string;
  action: string;
}

export class IntakeReplies {
  received = 0;
  rejected = 0;

  constructor(
    private readonly kind: SubjectKind,
    private readonly errors: ErrorTopic,
    private readonly logger: Logger,
  ) {}

  /** Send a reply body (JSON text or bytes). An error reply is recorded and counted first. */
  send(msg: Msg, body: string | Uint8Array, identity: Identity | undefined, to: Addressed, error?: ErrorReply): void {
    if (error) {
      this.rejected++;
      this.errors.record(this.kind, to.aggregate, to.action, msg, error, identity);
    }
    // Called without a reply subject too (nothing is sent then): the endpoint's stats count the outcome.
    try {
      // Bytes from Node's buffer pool: nats.js would encode a string into an array buffer of its own.
      msg.respond(typeof body === 'string' ? Buffer.from(body) : body, { headers: replyHeaders(identity, error) });
    } catch (e) {
      this.logger.warn({ err: ensureError(e), subject: msg.subject, correlation_id: identity?.correlation_id }, 'could not send the reply');
    }
  }

  /** Refuse a message with the failure `e` (a bug is logged as one). */
  reject(msg: Msg, to: Addressed, e: unknown, identity: Identity | undefined): void {
    const reply = toErrorReply(e);
    if (!(e instanceof DomainError)) this.logger.error({ err: ensureError(e), subject: msg.subject }, `${this.kind === 'cmd' ? 'command' : 'query'} intake failed`);
    this.send(msg, JSON.stringify(reply), identity, to, reply);
  }
}
