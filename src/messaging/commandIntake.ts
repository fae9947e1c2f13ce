/**
 * The command intake: the service endpoints of `P.cmd.*.*` hand it each request. It parses and validates each
 * request, resolves identity and aggregate ID, refuses escapes from the workspace, and
 * routes the command to the supervisor. Every rejection is answered (when there is a reply
 * subject) and recorded on the error topic; nothing is dropped silently.
 */
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ZodError } from 'zod';
import { aggregateKinds } from '../../machines/index.js';
import { commandActions, commandSpecs, type WorkspacePath } from '../domain/commands.js';
import { IdentityHeaders, IdentityInput, resolveIdentity, type Identity } from '../domain/identity.js';
import type { Subjects } from '../domain/subjects.js';
import {
  DomainError,
  ForbiddenError,
  InvalidJsonError,
  UnavailableError,
  UnknownSubjectError,
  ValidationError,
  ensureError,
  toErrorReply,
} from '../errors.js';
import type { Reply } from '../runtime/aggregateSlot.js';
import type { AggregateSupervisor } from '../runtime/aggregateSupervisor.js';
import { Deadlines } from '../runtime/deadlines.js';
import { type ErrorTopic, replyHeaders } from './errorTopic.js';

const utf8 = new TextDecoder();

export const MAX_COMMAND_BYTES = 1024 * 1024;

/** Confines a workspace-relative path; returns a reason when it escapes. */
export type PathGuard = (path: WorkspacePath) => { ok: true } | { ok: false; reason: string };

export interface CommandIntakeDeps {
  nc: NatsConnection;
  subjects: Subjects;
  logger: Logger;
  supervisor: AggregateSupervisor;
  errors: ErrorTopic;
  guardPath: PathGuard;
  /** Longest a command may take before it is answered `unavailable`. */
  commandTimeoutMs: number;
}

/** Render a zod error as one sentence naming every failing field. */
export function describeZodError(error: ZodError): string {
  return error.issues
    .map((i) => {
      const where = i.path.length ? i.path.join('.') : 'payload';
      if (i.code === 'unrecognized_keys') return `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `'${k}'`).join(', ')} (remove ${i.keys.length > 1 ? 'them' : 'it'})`;
      if (i.code === 'invalid_type' && i.message.includes('received undefined')) return `${where}: is required`;
      return `${where}: ${i.message}`;
    })
    .join('; ');
}

/**
 * The identity a refused message names — its payload's `identity` when that is well formed,
 * else the identity headers — so the error reply carries X-Correlation-ID and X-Causation-ID
 * (SPEC §3) even when another field fails; `undefined` when it names none.
 */
function identityOf(msg: Msg): Identity | undefined {
  let given: unknown;
  if (msg.data.length > 0 && msg.data.length <= MAX_COMMAND_BYTES) {
    try {
      given = (JSON.parse(utf8.decode(msg.data)) as { identity?: unknown } | null)?.identity;
    } catch {
      given = undefined;
    }
  }
  const fromPayload = IdentityInput.safeParse(given);
  const header = (name: string) => msg.headers?.get(name) || undefined;
  if (!fromPayload.success && header(IdentityHeaders.messageId) === undefined && header(IdentityHeaders.natsMsgId) === undefined) return undefined;
  const resolved = resolveIdentity(fromPayload.success ? fromPayload.data : undefined, header);
  return resolved.ok ? resolved.identity : undefined;
}

export class CommandIntake {
  private received = 0;
  private rejected = 0;

  /** One sweeping timer for every command's reply timeout, not a timer per command. */
  private readonly deadlines: Deadlines;

  constructor(private readonly deps: CommandIntakeDeps) {
    this.deadlines = new Deadlines(deps.commandTimeoutMs);
  }

  stats(): { received: number; rejected: number } {
    return { received: this.received, rejected: this.rejected };
  }

  /** Take one command message (called by its service endpoint). */
  handle(msg: Msg): void {
    this.received++;
    const parsed = this.deps.subjects.parse(msg.subject);
    const aggregate = parsed?.aggregate ?? 'unknown';
    const action = parsed?.action ?? 'unknown';
    try {
      this.accept(msg, aggregate, action, parsed?.extra ?? 0);
    } catch (e) {
      this.reject(msg, aggregate, action, e, identityOf(msg));
    }
  }

  private accept(msg: Msg, aggregate: string, action: string, extra: number): void {
    const spec = extra === 0 ? commandSpecs.get(`${aggregate}.${action}`) : undefined;
    if (!spec) {
      const known = (aggregateKinds as readonly string[]).includes(aggregate);
      throw new UnknownSubjectError(
        known
          ? `unknown command ${msg.subject}: ${aggregate} accepts ${commandActions(aggregate).map((a) => `${this.deps.subjects.command(aggregate, a)}`).join(', ')}`
          : `unknown command ${msg.subject}: aggregates are ${aggregateKinds.join(', ')} (subjects ${this.deps.subjects.command('<aggregate>', '<action>')})`,
        { subject: msg.subject },
      );
    }
    const data = msg.data;
    if (data.length === 0) throw new InvalidJsonError('the payload is empty: send a JSON object with the command fields');
    if (data.length > MAX_COMMAND_BYTES) {
      throw new ValidationError(`the payload is ${data.length} bytes; commands are limited to ${MAX_COMMAND_BYTES} bytes`);
    }
    let body: unknown;
    try {
      body = JSON.parse(utf8.decode(data));
    } catch (e) {
      throw new InvalidJsonError(`the payload is not valid JSON (${ensureError(e).message}); send a JSON object`);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ValidationError(`the payload must be a JSON object, got ${Array.isArray(body) ? 'an array' : body === null ? 'null' : typeof body}`);
    }
    const result = spec.schema.safeParse(body);
    if (!result.success) throw new ValidationError(`${spec.type}: ${describeZodError(result.error)}`, { fields: result.error.issues.map((i) => i.path.join('.')) });
    const payload = result.data;
    const idResult = resolveIdentity(payload['identity'] as Parameters<typeof resolveIdentity>[0], (name) => msg.headers?.get(name) || undefined);
    if (!idResult.ok) throw new ValidationError(idResult.message);
    for (const path of spec.paths(payload)) {
      const guard = this.deps.guardPath(path);
      if (!guard.ok) throw new ForbiddenError(`${spec.type}: ${guard.reason}`, { path: path.path });
    }
    const address = spec.address(payload);
    if (!address.ok) throw new ValidationError(`${spec.type}: ${address.message}`);
    const identity = idResult.identity;
    // A command (its Nix effect included) gets an answer within the command timeout: past
    // it, `unavailable`; the outcome still lands on the event subjects.
    let answered = false;
    const deadline = this.deadlines.add(() => {
      answered = true;
      this.respond(msg, toErrorReply(new UnavailableError(
        `${spec.type} is still running after ${this.deps.commandTimeoutMs} ms; its outcome will be published on ${this.deps.subjects.events} (correlation ${identity.correlation_id})`,
      )), identity, aggregate, action);
    });
    this.deps.supervisor.route(spec.aggregate, address.id, {
      type: 'command',
      event: spec.toMachineEvent(payload),
      identity,
      respond: (reply) => {
        if (answered) return;
        answered = true;
        deadline.clear();
        this.respond(msg, reply, identity, aggregate, action);
      },
    });
  }

  private respond(msg: Msg, reply: Reply, identity: Identity, aggregate: string, action: string): void {
    if (reply.status === 'error') {
      this.deps.logger.info(
        { correlation_id: identity.correlation_id, message_id: identity.message_id, code: reply.code, subject: msg.subject, reason: reply.message },
        'command rejected by aggregate',
      );
      this.rejected++;
      this.deps.errors.record('cmd', aggregate, action, msg, reply, identity);
    }
    if (!msg.reply) return;
    try {
      msg.respond(JSON.stringify(reply), { headers: replyHeaders(identity) });
    } catch (e) {
      this.deps.logger.warn({ err: ensureError(e), correlation_id: identity.correlation_id }, 'could not send the reply');
    }
  }

  private reject(msg: Msg, aggregate: string, action: string, e: unknown, identity: Identity | undefined): void {
    this.rejected++;
    const reply = toErrorReply(e);
    if (!(e instanceof DomainError)) this.deps.logger.error({ err: ensureError(e), subject: msg.subject }, 'command intake failed');
    this.deps.errors.record('cmd', aggregate, action, msg, reply, identity);
    if (msg.reply) {
      try {
        msg.respond(JSON.stringify(reply), identity ? { headers: replyHeaders(identity) } : undefined);
      } catch (err) {
        this.deps.logger.warn({ err: ensureError(err) }, 'could not send the error reply');
      }
    }
  }
}
