/**
 * The query intake. Read models (projections) are not built yet: every query subject
 * answers `unavailable` with a message saying so, and is recorded on the error topic.
 * Unknown query subjects answer `unknown_subject`.
 */
import type { Msg } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { allQueries } from '../domain/queries.js';
import type { Subjects } from '../domain/subjects.js';
import { UnavailableError, UnknownSubjectError, toErrorReply, type DomainError } from '../errors.js';
import type { ErrorTopic } from './errorTopic.js';

export class QueryIntake {
  private readonly known: Set<string>;
  constructor(
    private readonly subjects: Subjects,
    private readonly errors: ErrorTopic,
    private readonly logger: Logger,
  ) {
    this.known = new Set(allQueries().map((q) => `${q.aggregate}.${q.action}`));
  }

  handle(msg: Msg): void {
    const parsed = this.subjects.parse(msg.subject);
    const aggregate = parsed?.aggregate ?? 'unknown';
    const action = parsed?.action ?? 'unknown';
    let error: DomainError;
    if (!this.known.has(`${aggregate}.${action}`) || (parsed?.extra ?? 0) > 0) {
      error = new UnknownSubjectError(
        `unknown query ${msg.subject}: queries are ${allQueries()
          .map((q) => this.subjects.query(q.aggregate, q.action))
          .join(', ')}`,
      );
    } else {
      error = new UnavailableError(
        `${msg.subject} is not available yet: this version keeps no read models; follow the events on ${this.subjects.events} instead`,
      );
    }
    const reply = toErrorReply(error);
    this.errors.record('query', aggregate, action, msg, reply, undefined);
    if (msg.reply) {
      try {
        msg.respond(JSON.stringify(reply));
      } catch (e) {
        this.logger.warn({ err: e }, 'could not answer a query');
      }
    }
  }
}
