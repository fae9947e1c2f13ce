/**
 * The error catalogue: one class per failure, each with a stable `code` (the reply codes
 * of SPEC §3). Terminal errors are answered and never retried; transient ones may be.
 */
import { ErrorCode } from '../machines/index.js';

export { ErrorCode };

/** Base class: a failure that becomes an error reply. */
export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  /** Transient failures (timeouts, conflicts, no responders) may be retried. */
  readonly transient: boolean;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, transient = false) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
    this.transient = transient;
  }
}

export class InvalidJsonError extends DomainError {
  constructor(message: string) {
    super(ErrorCode.invalid_json, message);
  }
}
export class ValidationError extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCode.validation, message, details);
  }
}
export class UnknownSubjectError extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCode.unknown_subject, message, details);
  }
}
export class NotFoundError extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCode.not_found, message, details);
  }
}
export class InvalidTransitionError extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCode.invalid_transition, message, details);
  }
}
export class ConflictError extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCode.conflict, message, details, true);
  }
}
export class ForbiddenError extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCode.forbidden, message, details);
  }
}
export class UnavailableError extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCode.unavailable, message, details, true);
  }
}
export class InternalError extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCode.internal, message, details);
  }
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
  return { status: 'error', code: ErrorCode.internal, message: `internal error: ${err.message}` };
}
