/**
 * The query intake: the service endpoints of `P.query.<agg>.<action>` hand it each request.
 * It validates the payload against the query's strict schema, resolves the addressed
 * aggregate, waits (bounded) when the read models are still catching up or behind the
 * `min_sequence` asked for, and answers from the read models. Every error reply is also
 * recorded on the error topic `P.error.query.<agg>.<action>`; nothing is dropped silently.
 */
import type { Msg } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { allQueries } from '../domain/queries.js';
import { resolveIdentity, type Identity } from '../domain/identity.js';
import type { Subjects } from '../domain/subjects.js';
import {
  DomainError,
  ErrorCode,
  InvalidJsonError,
  UnavailableError,
  UnknownSubjectError,
  ValidationError,
  ensureError,
  toErrorReply,
} from '../errors.js';
import { prepareQuery, type PreparedQuery, type QueryOutcome } from '../projections/queries.js';
import type { ReadModels } from '../projections/readModels.js';
import { canonicalQuery, queryPayloadSchemas } from '../projections/querySchemas.js';
import { describeZodError } from './commandIntake.js';
import { type ErrorTopic, replyHeaders } from './errorTopic.js';

const utf8 = new TextDecoder();

export const MAX_QUERY_BYTES = 64 * 1024;

export interface QueryIntakeDeps {
  subjects: Subjects;
  errors: ErrorTopic;
  logger: Logger;
  models: ReadModels;
  /** The server's max payload (bytes): a page that would exceed it is cut shorter. */
  maxPayload?: () => number;
}

/** A query that waited past its deadline for `min_sequence`. */
export class QueryTimeoutError extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCode.timeout, message, details, true);
  }
}

const encoder = new TextEncoder();

export class QueryIntake {
  private received = 0;
  private rejected = 0;
  private waited = 0;

  constructor(private readonly deps: QueryIntakeDeps) {}

  stats(): { received: number; rejected: number; waited: number } {
    return { received: this.received, rejected: this.rejected, waited: this.waited };
  }

  /** Take one query message (called by its service endpoint, or the catch-all for unknown subjects). */
  handle(msg: Msg): void {
    this.received++;
    const parsed = this.deps.subjects.parse(msg.subject);
    const aggregate = parsed?.aggregate ?? 'unknown';
    const action = parsed?.action ?? 'unknown';
    let identity: Identity | undefined;
    try {
      const accepted = this.accept(msg, aggregate, action, parsed?.extra ?? 0);
      identity = accepted.identity;
      const { query } = accepted;
      const { models } = this.deps;
      const wait = query.waitFor;
      if (models.ready && (wait === undefined || models.version(wait.id) >= wait.version)) {
        this.answer(msg, query.run(models), identity, aggregate, action);
        return;
      }
      this.waited++;
      const id = identity;
      models.waitFor(wait?.id, wait?.version ?? 0, query.timeoutMs).then(
        (outcome) => {
          try {
            if (outcome === 'ready') this.answer(msg, query.run(models), id, aggregate, action);
            else this.reject(msg, aggregate, action, this.late(query, outcome), id);
          } catch (e) {
            this.reject(msg, aggregate, action, e, id);
          }
        },
        (e: unknown) => this.reject(msg, aggregate, action, e, id),
      );
    } catch (e) {
      this.reject(msg, aggregate, action, e, identity);
    }
  }

  private accept(msg: Msg, aggregate: string, action: string, extra: number): { query: PreparedQuery; identity: Identity } {
    const name = extra === 0 ? canonicalQuery(aggregate, action) : undefined;
    if (!name) {
      throw new UnknownSubjectError(
        `unknown query ${msg.subject}: queries are ${allQueries()
          .map((q) => this.deps.subjects.query(q.aggregate, q.action))
          .join(', ')}`,
        { subject: msg.subject },
      );
    }
    const data = msg.data;
    if (data.length > MAX_QUERY_BYTES) {
      throw new ValidationError(`the payload is ${data.length} bytes; queries are limited to ${MAX_QUERY_BYTES} bytes`);
    }
    let body: unknown = {};
    // An empty payload is an empty query: `nats req nix.query.flake.list ''` lists flakes.
    if (data.length > 0) {
      try {
        body = JSON.parse(utf8.decode(data));
      } catch (e) {
        throw new InvalidJsonError(`the payload is not valid JSON (${ensureError(e).message}); send a JSON object (or nothing)`);
      }
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ValidationError(
        `the payload must be a JSON object, got ${Array.isArray(body) ? 'an array' : body === null ? 'null' : typeof body}`,
      );
    }
    const result = queryPayloadSchemas[name].safeParse(body);
    if (!result.success) {
      throw new ValidationError(`${name}: ${describeZodError(result.error)}`, { fields: result.error.issues.map((i) => i.path.join('.')) });
    }
    const payload = result.data as Record<string, unknown>;
    const resolved = resolveIdentity(payload['identity'] as Parameters<typeof resolveIdentity>[0], (h) => msg.headers?.get(h) || undefined);
    if (!resolved.ok) throw new ValidationError(resolved.message);
    return { query: prepareQuery(name, payload), identity: resolved.identity };
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

  private answer(msg: Msg, outcome: QueryOutcome, identity: Identity, aggregate: string, action: string): void {
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
      this.reject(
        msg,
        aggregate,
        action,
        new UnavailableError(
          `the answer is ${bytes.length} bytes, more than the server's max_payload of ${max}: raise max_payload, or ask for a smaller limit`,
        ),
        identity,
      );
      return;
    }
    try {
      msg.respond(bytes, { headers: replyHeaders(identity) });
    } catch (e) {
      this.deps.logger.warn(
        { err: ensureError(e), subject: msg.subject, correlation_id: identity.correlation_id },
        'could not answer a query',
      );
    }
  }

  private reject(msg: Msg, aggregate: string, action: string, e: unknown, identity: Identity | undefined): void {
    this.rejected++;
    const reply = toErrorReply(e);
    if (!(e instanceof DomainError)) this.deps.logger.error({ err: ensureError(e), subject: msg.subject }, 'query failed');
    this.deps.errors.record('query', aggregate, action, msg, reply, identity);
    if (!msg.reply) return;
    try {
      msg.respond(JSON.stringify(reply), identity ? { headers: replyHeaders(identity) } : undefined);
    } catch (err) {
      this.deps.logger.warn({ err: ensureError(err), subject: msg.subject }, 'could not send the query error reply');
    }
  }
}
