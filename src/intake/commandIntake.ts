/**
 * The command intake: the service endpoints of `P.cmd.*.*` hand it each request. It parses and validates each
 * request, resolves identity and aggregate ID, refuses escapes from the workspace, and
 * routes the command to the supervisor. Every rejection is answered (when there is a reply
 * subject) and recorded on the error topic; nothing is dropped silently.
 */
import type { Msg } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { aggregateKinds } from '../../machines/index.js';
import { commandActions, commandSpecs, type CommandSpec, type WorkspacePath } from '../domain/commands.js';
import type { Identity } from '../domain/identity.js';
import type { Subjects } from '../domain/subjects.js';
import { ForbiddenError, UnavailableError, UnknownSubjectError, ValidationError, toErrorReply } from '../errors.js';
import type { Reply } from '../runtime/aggregateSlot.js';
import type { CommandRoute } from '../runtime/partitionRouter.js';
import type { Clock } from '../time/clock.js';
import { Deadlines } from '../time/deadlines.js';
import { accept, identityOf } from './accept.js';
import type { ErrorTopic } from './errorTopic.js';
import { IntakeReplies, type Addressed } from './replies.js';

export const MAX_COMMAND_BYTES = 1024 * 1024;

/** Confines a workspace-relative path; returns a reason (and the code to answer with) when it escapes. */
export type PathGuard = (path: WorkspacePath) => { ok: true } | { ok: false; reason: string; code?: 'validation' | 'forbidden' };

export interface CommandIntakeDeps {
  subjects: Subjects;
  logger: Logger;
  /** The supervisor, or the partition router in front of it (several instances). */
  supervisor: CommandRoute;
  errors: ErrorTopic;
  guardPath: PathGuard;
  /** The workspace root: absolute paths inside it address the same aggregates as relative ones. */
  workspace?: string;
  /** Longest a command may take before it is answered `unavailable`. */
  commandTimeoutMs: number;
  /** The time the command timeout runs on (the process's by default). */
  clock?: Clock;
}

export class CommandIntake {
  private readonly replies: IntakeReplies;
  /** One sweeping timer for every command's reply timeout, not a timer per command. */
  private readonly deadlines: Deadlines;

  constructor(private readonly deps: CommandIntakeDeps) {
    this.deadlines = new Deadlines(deps.commandTimeoutMs, undefined, deps.clock);
    this.replies = new IntakeReplies('cmd', deps.errors, deps.logger);
  }

  stats(): { received: number; rejected: number } {
    return { received: this.replies.received, rejected: this.replies.rejected };
  }

  /**
   * Take one command message (called by its service endpoint): accept it (the pipeline every
   * request goes through), confine the paths it names, address its aggregate, and route it.
   */
  handle(msg: Msg): void {
    this.replies.received++;
    const parsed = this.deps.subjects.parse(msg.subject);
    const to: Addressed = { aggregate: parsed?.aggregate ?? 'unknown', action: parsed?.action ?? 'unknown' };
    try {
      const spec = this.specOf(msg, to, parsed?.extra ?? 0);
      const { payload, identity } = accept(msg, { name: spec.type, noun: 'commands', maxBytes: MAX_COMMAND_BYTES, emptyIsObject: false, schema: spec.schema });
      this.confine(spec, payload);
      const address = spec.address(payload, this.deps.workspace);
      if (!address.ok) throw new ValidationError(`${spec.type}: ${address.message}`);
      this.route(msg, to, spec, address.id, payload, identity);
    } catch (e) {
      this.replies.reject(msg, to, e, identityOf(msg, MAX_COMMAND_BYTES));
    }
  }

  private specOf(msg: Msg, to: Addressed, extra: number): CommandSpec {
    const spec = extra === 0 ? commandSpecs.get(`${to.aggregate}.${to.action}`) : undefined;
    if (spec) return spec;
    const known = (aggregateKinds as readonly string[]).includes(to.aggregate);
    throw new UnknownSubjectError(
      known
        ? `unknown command ${msg.subject}: ${to.aggregate} accepts ${commandActions(to.aggregate).map((a) => `${this.deps.subjects.command(to.aggregate, a)}`).join(', ')}`
        : `unknown command ${msg.subject}: aggregates are ${aggregateKinds.join(', ')} (subjects ${this.deps.subjects.command('<aggregate>', '<action>')})`,
      { subject: msg.subject },
    );
  }

  /** Every path the command names stays in the workspace and out of the service's own files. */
  private confine(spec: CommandSpec, payload: Record<string, unknown>): void {
    for (const path of spec.paths(payload)) {
      const guard = this.deps.guardPath(path);
      if (guard.ok) continue;
      const details = { field: path.field, path: path.path };
      throw guard.code === 'validation' ? new ValidationError(`${spec.type}: ${guard.reason}`, details) : new ForbiddenError(`${spec.type}: ${guard.reason}`, details);
    }
  }

  /**
   * Hand the command to its aggregate. It gets an answer within the command timeout (its Nix
   * effect included): past it, `unavailable`; the outcome still lands on the event subjects.
   */
  private route(msg: Msg, to: Addressed, spec: CommandSpec, id: string, payload: Record<string, unknown>, identity: Identity): void {
    let answered = false;
    const deadline = this.deadlines.add(() => {
      answered = true;
      const late = new UnavailableError(
        `${spec.type} is still running after ${this.deps.commandTimeoutMs} ms; its outcome will be published on ${this.deps.subjects.events} (correlation ${identity.correlation_id})`,
      );
      this.answer(msg, to, toErrorReply(late), identity);
    });
    const handOn = (): boolean => {
      if (answered) return false;
      answered = true; // another instance answers it from now on
      deadline.clear();
      return true;
    };
    this.deps.supervisor.route(
      spec.aggregate,
      id,
      {
        type: 'command',
        event: spec.toMachineEvent(payload, this.deps.workspace),
        identity,
        respond: (reply) => {
          if (answered) return;
          answered = true;
          deadline.clear();
          this.answer(msg, to, reply, identity);
        },
      },
      { msg, handOn },
    );
  }

  private answer(msg: Msg, to: Addressed, reply: Reply, identity: Identity): void {
    if (reply.status === 'error') {
      this.deps.logger.info(
        { correlation_id: identity.correlation_id, message_id: identity.message_id, code: reply.code, subject: msg.subject, reason: reply.message },
        'command rejected by aggregate',
      );
    }
    this.replies.send(msg, JSON.stringify(reply), identity, to, reply.status === 'error' ? reply : undefined);
  }
}
