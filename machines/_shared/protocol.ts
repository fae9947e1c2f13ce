/**
 * The protocol between a pure aggregate machine and the runtime that hosts it.
 *
 * A machine receives three kinds of events:
 * - commands (`flake.create`, `package.build`, …): it decides, then either raises facts,
 *   requests an effect, joins a running effect, or rejects with a code;
 * - effect outcomes (`effect.succeeded`, `effect.failed`): the result of an effect it
 *   requested, sent back by the runtime's effect actor;
 * - facts (`flake.created`, `package.built`, …): the stored domain events. The machine
 *   raises them itself while deciding; the runtime replays them to rebuild an actor.
 *
 * The machine reports to the runtime only through `emit(...)` of {@link MachineSignal}s, so
 * it stays pure: no invoke, no delays, no I/O.
 */
import type { ErrorCode } from './errorCodes.js';

/** A fact was applied: the runtime stores it as a domain event with this sequence. */
export interface FactRecorded {
  type: 'fact.recorded';
  /** Fact name, `<agg>.<past>`, the same as the subject suffix after `P.event.`. */
  name: string;
  /** The aggregate's version after this fact (1-based). */
  sequence: number;
  /** The fact's payload fields (snake_case, wire form). */
  data: Record<string, unknown>;
}

/** The command was refused by a domain rule; nothing changed. */
export interface CommandRejected {
  type: 'command.rejected';
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** The command needs an effect; its reply waits for the effect's outcome. */
export interface EffectRequested {
  type: 'effect.requested';
  effect: EffectRequest;
}

/** The command joins the effect already running (e.g. a second build request). */
export interface CommandJoined {
  type: 'command.joined';
}

/**
 * Work the runtime does after this command's facts are stored, without holding the reply
 * and without feeding an outcome back (e.g. rendering a module file: a projection of the
 * facts into the workspace). Runs in order with the aggregate's other effects.
 */
export interface EffectScheduled {
  type: 'effect.scheduled';
  effect: EffectRequest;
}

/** Everything a machine ever emits. */
export type MachineSignal = FactRecorded | CommandRejected | EffectRequested | CommandJoined | EffectScheduled;

/** The effects aggregates ask for. `kind` names the port operation that performs it. */
export type EffectRequest =
  | { kind: 'flake.write'; path: string; description: string; template: string; inputs: Record<string, string> }
  | {
      kind: 'flake.add_input';
      path: string;
      name: string;
      url: string;
      follows?: Record<string, string>;
      flake?: boolean;
    }
  | { kind: 'flake.remove_input'; path: string; name: string }
  | { kind: 'flake.update'; path: string; inputs?: string[] }
  | { kind: 'flake.check'; path: string }
  | { kind: 'package.build'; flake_ref: string; attribute: string; output_path?: string }
  | { kind: 'package.cache'; flake_ref: string; attribute: string; store_paths: string[]; cache_url?: string }
  | { kind: 'module.write'; name: string; module: Record<string, unknown> }
  | { kind: 'module.delete'; name: string }
  | { kind: 'overlay.write'; name: string; overlay: Record<string, unknown> }
  | { kind: 'overlay.delete'; name: string }
  | { kind: 'config.write'; name: string; configuration: Record<string, unknown> }
  | { kind: 'config.activate'; name: string; activation_type: 'switch' | 'boot' | 'test'; generation: number }
  | { kind: 'config.rollback'; name: string; from_generation: number; to_generation: number };

export type EffectKind = EffectRequest['kind'];

/** The runtime's report that an effect finished. `result` is the port operation's result. */
export interface EffectSucceeded {
  type: 'effect.succeeded';
  kind: EffectKind;
  result: Record<string, unknown>;
}

/** The runtime's report that an effect failed. */
export interface EffectFailed {
  type: 'effect.failed';
  kind: EffectKind;
  /** `nix_failed`, `forbidden`, `unavailable` or `internal`. */
  code: ErrorCode;
  message: string;
  exit_code?: number;
  log_tail?: string[];
  duration_ms?: number;
}

export type EffectOutcome = EffectSucceeded | EffectFailed;
