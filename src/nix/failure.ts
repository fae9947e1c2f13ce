/**
 * How the Nix port fails: shorthands for its {@link EffectError}s (src/errors.ts), the
 * file-system errors a path can provoke, and the `effect.failed` outcome of anything thrown.
 */
import type { EffectFailed, EffectKind } from '../../machines/index.js';
import { EffectError, ensureError, type EffectErrorCode, type EffectErrorDetails } from '../errors.js';

/** Shorthand for a confinement refusal. */
export function forbidden(message: string): EffectError {
  return new EffectError('forbidden', message);
}

/** Shorthand for a failure of nix itself or of the files it works on. */
export function nixFailed(message: string, details: EffectErrorDetails = {}): EffectError {
  return new EffectError('nix_failed', message, details);
}

/** File-system errors a path in a command can provoke, and the reply code each gets. */
const FILE_ERRORS: Readonly<Record<string, { code: EffectErrorCode; meaning: string }>> = {
  ENAMETOOLONG: { code: 'validation', meaning: 'a file name in the path is too long (255 bytes at most)' },
  ENOTDIR: { code: 'validation', meaning: 'a part of the path is a file, not a directory' },
  EISDIR: { code: 'validation', meaning: 'the path is a directory where a file is expected' },
  EEXIST: { code: 'validation', meaning: 'something already exists at the path' },
  ELOOP: { code: 'forbidden', meaning: 'the path goes through a loop of symlinks' },
  EACCES: { code: 'forbidden', meaning: 'the service may not write there' },
  EPERM: { code: 'forbidden', meaning: 'the service may not write there' },
  EROFS: { code: 'forbidden', meaning: 'the file system is read-only' },
};

/** A file-system error as an {@link EffectError} with a clear code, or undefined for any other error. */
export function fileError(thrown: unknown): EffectError | undefined {
  const error = thrown as NodeJS.ErrnoException | undefined;
  const known = typeof error?.code === 'string' ? FILE_ERRORS[error.code] : undefined;
  if (known === undefined || error === undefined) return undefined;
  const where = typeof error.path === 'string' ? ` (${error.path})` : '';
  return new EffectError(known.code, `${known.meaning}${where}: ${error.code}; choose another path.`);
}

/** Turns a thrown value into the outcome the aggregate receives. */
export function toFailedOutcome(kind: EffectKind, thrown: unknown): EffectFailed {
  const fromFiles = thrown instanceof EffectError ? undefined : fileError(thrown);
  if (fromFiles !== undefined) return toFailedOutcome(kind, fromFiles);
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
