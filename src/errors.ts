/**
 * The error catalogue: one class per failure, each with a stable `code` (the reply codes
 * of SPEC §3). Terminal errors are answered and never retried; transient ones may be.
 */
import { ErrorCode } from '../machines/index.js';

export { ErrorCode };

/** What every error of the catalogue takes beside its message: its cause (`ErrorOptions`). */
export type ErrorOptionsWithCause = ErrorOptions;

/** Base class: a failure that becomes an error reply. Data in fields; the cause chains. */
export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  /** Transient failures (timeouts, conflicts, no responders) may be retried. */
  readonly transient: boolean;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: ErrorOptions & { transient?: boolean }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
    this.transient = options?.transient ?? false;
  }
}

/** A reply error whose code is fixed by its class. */
type Fixed = new (message: string, details?: Record<string, unknown>, options?: ErrorOptions) => DomainError;

function fixed(code: ErrorCode, transient = false): Fixed {
  return class extends DomainError {
    constructor(message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
      super(code, message, details, { ...options, transient });
    }
  };
}

/** The payload is empty or not JSON. */
export class InvalidJsonError extends fixed(ErrorCode.invalid_json) {}
/** A field is missing, of the wrong form, unknown, or the payload breaks a shape rule. */
export class ValidationError extends fixed(ErrorCode.validation) {}
/** No such command or query. */
export class UnknownSubjectError extends fixed(ErrorCode.unknown_subject) {}
/** The aggregate, input or generation does not exist. */
export class NotFoundError extends fixed(ErrorCode.not_found) {}
/** The command is not accepted in the aggregate's current state. */
export class InvalidTransitionError extends fixed(ErrorCode.invalid_transition) {}
/** Another writer changed the aggregate (retried: reload and decide again). */
export class ConflictError extends fixed(ErrorCode.conflict, true) {}
/** A path or reference leaves the workspace or names the service's own files. */
export class ForbiddenError extends fixed(ErrorCode.forbidden) {}
/** The store or NATS did not answer in time, or the service is stopping (retried). */
export class UnavailableError extends fixed(ErrorCode.unavailable, true) {}
/** A bug: the message says what happened. */
export class InternalError extends fixed(ErrorCode.internal) {}
/** A query that waited past its deadline for `min_sequence`. */
export class QueryTimeoutError extends fixed(ErrorCode.timeout, true) {}
/** The events could not be stored within the budget and were kept as dead letters. */
export class DeadLetteredError extends UnavailableError {}
/** A store refused because the publisher is stopped (never a dead letter). */
export class PublisherStoppedError extends UnavailableError {}

/** The event stream refused a message (e.g. err_code 10071: wrong last subject sequence). */
export class StreamApiError extends Error {
  override readonly name = 'StreamApiError';
  constructor(
    readonly errCode: number,
    readonly code: number,
    description: string,
    options?: ErrorOptions,
  ) {
    super(description, options);
  }
}

/** No acknowledgement in time, or nobody listens on the subject (no stream captures it). */
export class StreamUnavailableError extends Error {
  override readonly name = 'StreamUnavailableError';
}

/** A connection that can never work as configured (TLS material or credentials): not retried. */
export class ConnectionSetupError extends Error {
  override readonly name = 'ConnectionSetupError';
  readonly terminal = true;
  constructor(
    readonly code: 'tls' | 'auth',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A connection attempt that failed; `terminal` when retrying cannot help. */
export class ConnectionFailedError extends Error {
  override readonly name = 'ConnectionFailedError';
  constructor(
    message: string,
    readonly code: string,
    readonly terminal: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A CLI failure with the exit code it ends the command with. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A CLI usage mistake (unknown flag, missing value). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The codes a Nix effect can fail with. */
export type EffectErrorCode = 'nix_failed' | 'forbidden' | 'validation' | 'internal';

/** What a failed Nix effect reports beside its message. */
export interface EffectErrorDetails {
  exit_code?: number;
  log_tail?: string[];
  duration_ms?: number;
  /** The command fields a `validation` refusal names. */
  fields?: string[];
}

/**
 * An expected failure of a Nix effect (src/nix); the message says what to do next. The port
 * turns it (and anything unexpected) into an `effect.failed` outcome with its code and details.
 */
export class EffectError extends Error {
  override readonly name = 'EffectError';
  constructor(
    readonly code: EffectErrorCode,
    message: string,
    readonly details: EffectErrorDetails = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A value that cannot be written as Nix; `path` names where it sits (keys, outermost first). */
export class RenderError extends Error {
  override readonly name = 'RenderError';
  readonly path: Array<string | number> = [];

  /** `path` as a dotted field name under `root` (e.g. `module.config.services.x`). */
  field(root: string): string {
    return [root, ...this.path].join('.');
  }
}

/** A Nix lexing failure; the message names the 1-based line of the problem. */
export class NixSyntaxError extends Error {
  override readonly name = 'NixSyntaxError';
}

/** A flake.nix that is not shaped like a flake the inputs editor understands. */
export class FlakeShapeError extends Error {
  override readonly name = 'FlakeShapeError';
}

/** A refused edit of a flake's inputs (the input exists, the name cannot be an argument, …). */
export class InputEditError extends Error {
  override readonly name = 'InputEditError';
}

/** A refused template request (unknown template, unusable input name). */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

/** Normalise anything thrown into an Error (STYLE: every catch goes through this). */
export function ensureError(e: unknown): Error {
  if (e instanceof Error) return e;
  try {
    return new Error(typeof e === 'string' ? e : JSON.stringify(e));
  } catch {
    return new Error(String(e));
  }
}

/**
 * A start-up step that failed: the message names the step before what went wrong
 * (`opening the event stream NIX_EVENTS: TimeoutError: timeout`), the original error is the cause.
 */
export class StartupStepError extends Error {
  override readonly name = 'StartupStepError';
  constructor(
    readonly step: string,
    cause: unknown,
  ) {
    super(`${step}: ${ensureError(cause).message}`, { cause });
  }
}

/** Run one step of start-up; a failure says which step it was ({@link StartupStepError}). */
export async function startupStep<T>(step: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw new StartupStepError(step, e);
  }
}

/**
 * The number each reply code is sent as in `Nats-Service-Error-Code` (ADR-32, SPEC §10): the
 * HTTP status of the same meaning, so a generic NATS service client can tell a client's
 * mistake (4xx) from the service's trouble (5xx).
 */
export const SERVICE_ERROR_STATUS: Readonly<Record<ErrorCode, number>> = {
  invalid_json: 400,
  validation: 400,
  unknown_subject: 404,
  not_found: 404,
  forbidden: 403,
  already_exists: 409,
  invalid_transition: 409,
  conflict: 409,
  nix_failed: 500,
  internal: 500,
  unavailable: 503,
  timeout: 504,
};

/** The service-error number of a reply code (500 for a code outside the catalogue). */
export function serviceErrorStatus(code: string): number {
  return Object.hasOwn(SERVICE_ERROR_STATUS, code) ? SERVICE_ERROR_STATUS[code as ErrorCode] : 500;
}

/** The error reply body of SPEC §3. */
export interface ErrorReply {
  status: 'error';
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** Turn any failure into an error reply body. */
export function toErrorReply(e: unknown): ErrorReply {
  if (e instanceof DomainError) {
    return e.details ? { status: 'error', code: e.code, message: e.message, details: e.details } : { status: 'error', code: e.code, message: e.message };
  }
  const err = ensureError(e);
  // A NATS request that got no answer in time (a JetStream or bucket request while the server
  // is busy, away or electing a leader) is worth a retry, not a bug: `unavailable`, transient.
  if (err.name === 'TimeoutError') {
    return { status: 'error', code: ErrorCode.unavailable, message: `NATS did not answer in time (${err.message}); the command may or may not have taken effect: send it again with the same message_id` };
  }
  return { status: 'error', code: ErrorCode.internal, message: `internal error: ${err.message}` };
}
