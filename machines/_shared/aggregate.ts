/**
 * Small helpers shared by the five aggregate machines: the common context and input, a
 * non-freezing immer `produce` for nested collections, and builders for the signals they emit.
 */
import { Immer } from 'immer';
import type { CommandRejected, EffectFailed, EffectRequest, EffectScheduled, FactRecorded } from './protocol.js';
import type { ErrorCode } from './errorCodes.js';

/** What the host passes to `createActor(machine, { input })`. */
export interface AggregateInput {
  aggregate_id: string;
}

/** The fields every aggregate context has. */
export interface AggregateContext {
  aggregate_id: string;
  /** Number of facts applied (the sequence of the last one); 0 for a new aggregate. */
  version: number;
  /** The effect the aggregate waits for, or `null` in a resting state. */
  pending_effect: EffectRequest | null;
}

// A private immer instance: no auto-freeze (a million resident actors, and facts' payload
// objects belong to the host), without touching the global immer configuration.
const immer = new Immer({ autoFreeze: false });

/** immer's `produce` without auto-freeze; machines use it to update nested collections of their context. */
export const produce: Immer['produce'] = immer.produce;

/** The `fact.recorded` signal for a fact event: name is its type, data everything else. */
export function factRecorded(event: { type: string }, sequence: number): FactRecorded {
  const { type, ...data } = event as { type: string } & Record<string, unknown>;
  return { type: 'fact.recorded', name: type, sequence, data };
}

/** A `command.rejected` signal. */
export function rejected(code: ErrorCode, message: string, details?: Record<string, unknown>): CommandRejected {
  return details === undefined ? { type: 'command.rejected', code, message } : { type: 'command.rejected', code, message, details };
}

/** An `effect.scheduled` signal: work the host runs after the facts are stored, never awaited. */
export function scheduled(effect: EffectRequest): EffectScheduled {
  return { type: 'effect.scheduled', effect };
}

/** The optional diagnostics of a failed effect, without undefined fields. */
export interface FailureDiagnostics {
  exit_code?: number;
  log_tail?: string[];
}

/** Copies `exit_code` and `log_tail` of a failed effect, when present. */
export function diagnostics(event: EffectFailed): FailureDiagnostics {
  const out: FailureDiagnostics = {};
  if (event.exit_code !== undefined) out.exit_code = event.exit_code;
  if (event.log_tail !== undefined) out.log_tail = event.log_tail;
  return out;
}

/** A failed effect as a rejection, its code and message kept and diagnostics as details. */
export function rejectedByEffect(event: EffectFailed): CommandRejected {
  const details = diagnostics(event);
  return rejected(
    event.code,
    event.message,
    details.exit_code === undefined && details.log_tail === undefined ? undefined : { ...details },
  );
}

/**
 * The synthetic failure a machine raises when an effect's result does not match its
 * schema, so the outcome is recorded as failed rather than applied half-way.
 */
export function malformedResult(kind: EffectRequest['kind']): EffectFailed {
  return {
    type: 'effect.failed',
    kind,
    code: 'internal',
    message: `the ${kind} effect returned a result that does not match its schema; this is a bug in the effect adapter, report it`,
  };
}
