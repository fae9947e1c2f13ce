/**
 * The query intake: the service endpoints of `P.query.<agg>.<action>` hand it each request.
 * It validates the payload against the query's strict schema, resolves the addressed
 * aggregate, waits (bounded) when the read models are still catching up or behind the
 * `min_sequence` asked for, and answers from the read models. Every error reply is also
 * recorded on the error topic `P.error.query.<agg>.<action>`; nothing is dropped silently.
 */
import type { Msg } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { allQueries, canonicalQuery, type QueryDef } from '../domain/queries.js';
import type { Identity } from '../domain/identity.js';
import type { Subjects } from '../domain/subjects.js';
import { QueryTimeoutError, UnavailableError, UnknownSubjectError, type DomainError } from '../errors.js';
import { prepareQuery, type PreparedQuery, type QueryOutcome } from '../projections/queries.js';
import type { ReadModels } from '../projections/readModels.js';
import { accept, identityOf } from './accept.js';
import type { ErrorTopic } from './errorTopic.js';
import { IntakeReplies, type Addressed } from './replies.js';

export const MAX_QUERY_BYTES = 64 * 1024;

export interface QueryIntakeDeps {
  subjects: Subjects;
  errors: ErrorTopic;
  logger: Logger;
  models: ReadModels;
  /** The server's max payload (bytes): a page that would exceed it is cut shorter. */
  maxPayload?: () => number;
  /** The workspace root: absolute flake paths inside it name the same aggregates as relative ones. */
  workspace?: string;
}

/** A reply's bytes, from Node's buffer pool (no array buffer of their own). */
const encoder = { encode: (text: string): Uint8Array => Buffer.from(text) };

export class QueryIntake {
  private readonly replies: IntakeReplies;
  private waited = 0;

  constructor(private readonly deps: QueryIntakeDeps) {
    this.replies = new IntakeReplies('query', deps.errors, deps.logger);
  }

  stats(): { received: number; rejected: number; waited: number } {
    return { received: this.replies.received, rejected: this.replies.rejected, waited: this.waited };
  }

  /**
   * Take one query message (called by its service endpoint, or the catch-all for unknown
   * subjects): accept it (the pipeline every request goes through), and answer it from the
   * read models — at once when they are current, else once they are (bounded).
   */
  handle(msg: Msg): void {
    this.replies.received++;
    const parsed = this.deps.subjects.parse(msg.subject);
    const to: Addressed = { aggregate: parsed?.aggregate ?? 'unknown', action: parsed?.action ?? 'unknown' };
    let identity: Identity | undefined;
    try {
      const def = this.queryOf(msg, to, parsed?.extra ?? 0);
      const accepted = accept(msg, { name: def.name, noun: 'queries', maxBytes: MAX_QUERY_BYTES, emptyIsObject: true, schema: def.schema });
      identity = accepted.identity;
      const query = prepareQuery(def, accepted.payload, this.deps.workspace);
      const { models } = this.deps;
      const wait = query.waitFor;
      if (models.ready && (wait === undefined || models.version(wait.id) >= wait.version)) {
        this.answer(msg, query.run(models), identity, to);
        return;
      }
      this.waited++;
      const id = identity;
      models.waitFor(wait?.id, wait?.version ?? 0, query.timeoutMs).then(
        (outcome) => {
          try {
            if (outcome === 'ready') this.answer(msg, query.run(models), id, to);
            else this.replies.reject(msg, to, this.late(query, outcome), id);
          } catch (e) {
            this.replies.reject(msg, to, e, id);
          }
        },
        (e: unknown) => this.replies.reject(msg, to, e, id),
      );
    } catch (e) {
      this.replies.reject(msg, to, e, identity ?? identityOf(msg, MAX_QUERY_BYTES));
    }
  }

  private queryOf(msg: Msg, to: Addressed, extra: number): QueryDef {
    const def = extra === 0 ? canonicalQuery(to.aggregate, to.action) : undefined;
    if (def) return def;
    throw new UnknownSubjectError(
      `unknown query ${msg.subject}: queries are ${allQueries()
        .map((q) => this.deps.subjects.query(q.aggregate, q.action))
        .join(', ')}`,
      { subject: msg.subject },
    );
  }

  /** Why a query that waited could not be answered. */
  private late(query: PreparedQuery, outcome: 'not_ready' | 'behind'): DomainError {
    const { models } = this.deps;
    const s = models.stats();
    if (outcome === 'not_ready') {
      return new UnavailableError(
        s.state === 'stopped'
          ? `${query.name}: the service is stopping; send the query again in a moment`
          : `${query.name}: the read models are still catching up with the event store (read up to stream sequence ${s.stream_seq} of ${s.catch_up_target}) after ${query.timeoutMs} ms; retry, or pass a larger timeout_ms`,
        { stream_seq: s.stream_seq, catch_up_target: s.catch_up_target },
      );
    }
    const wait = query.waitFor!;
    const have = models.version(wait.id);
    return new QueryTimeoutError(
      `${query.name}: aggregate ${wait.id} is at version ${have} in the read model, not yet at min_sequence ${wait.version}, after ${query.timeoutMs} ms; ` +
        'check that the command that gave this version succeeded, or retry with a larger timeout_ms',
      { aggregate_id: wait.id, version: have, min_sequence: wait.version },
    );
  }

  private answer(msg: Msg, outcome: QueryOutcome, identity: Identity, to: Addressed): void {
    if (!msg.reply) return;
    let bytes = encoder.encode(JSON.stringify(outcome.body));
    const max = this.deps.maxPayload?.() ?? Infinity;
    if (bytes.length > max && outcome.shrink) {
      // A page too large for the server: cut it; the cursor then resumes after the last item kept.
      const items = ((outcome.body['items'] ?? outcome.body['history']) as unknown[] | undefined)?.length ?? 0;
      let lo = 0;
      let hi = items;
      let best = encoder.encode(JSON.stringify(outcome.shrink(0)));
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        const candidate = encoder.encode(JSON.stringify(outcome.shrink(mid)));
        if (candidate.length <= max) {
          best = candidate;
          lo = mid;
        } else {
          hi = mid - 1;
        }
      }
      if (lo === 0) best = encoder.encode(JSON.stringify(outcome.shrink(Math.min(1, items))));
      bytes = best;
    }
    if (bytes.length > max) {
      this.replies.reject(
        msg,
        to,
        new UnavailableError(
          `the answer is ${bytes.length} bytes, more than the server's max_payload of ${max}: raise max_payload, or ask for a smaller limit`,
        ),
        identity,
      );
      return;
    }
    this.replies.send(msg, bytes, identity, to);
  }
}
