/**
 * The one failure type of the Nix port. Operations throw {@link EffectError} for expected
 * failures; the port turns it (and anything unexpected) into an `effect.failed` outcome.
 */
import type { EffectFailed, EffectKind } from '../../machines/index.js';

/** The codes a Nix effect can fail with. */
export type EffectErrorCode = 'nix_failed' | 'forbidden' | 'internal';

export interface EffectErrorDetails {
  exit_code?: number;
  log_tail?: string[];
  duration_ms?: number;
}

/** An expected failure of a Nix effect; the message says what to do next. */
export class EffectError extends Error {
  override readonly name = 'EffectError';
  constructor(
    readonly code: EffectErrorCode,
    message: string,
    readonly details: EffectErrorDetails = {},
  ) {
    super(message);
  }
}

/** Normalises anything thrown into an Error. */
export function ensureError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value));
}

/** Shorthand for a confinement refusal. */
export function forbidden(message: string): EffectError {
  return new EffectError('forbidden', message);
}

/** Shorthand for a failure of nix itself or of the files it works on. */
export function nixFailed(message: string, details: EffectErrorDetails = {}): EffectError {
  return new EffectError('nix_failed', message, details);
}

/** Turns a thrown value into the outcome the aggregate receives. */
export function toFailedOutcome(kind: EffectKind, thrown: unknown): EffectFailed {
  if (thrown instanceof EffectError) {
    const outcome: EffectFailed = { type: 'effect.failed', kind, code: thrown.code, message: thrown.message };
    if (thrown.details.exit_code !== undefined) outcome.exit_code = thrown.details.exit_code;
    if (thrown.details.log_tail !== undefined) outcome.log_tail = thrown.details.log_tail;
    if (thrown.details.duration_ms !== undefined) outcome.duration_ms = thrown.details.duration_ms;
    return outcome;
  }
  const error = ensureError(thrown);
  return {
    type: 'effect.failed',
    kind,
    code: 'internal',
    message: `Internal error while performing ${kind}: ${error.message}. This is a bug in cim-domain-nix; please report it with the log.`,
  };
}
