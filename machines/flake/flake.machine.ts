/**
 * The flake aggregate: a `flake.nix` in the workspace, its inputs and their locks.
 *
 * none ─create→ creating ─flake.created→ active; in active: add_input/remove_input
 * (editing), update (updating), check (checking), each back to active. A pure decider:
 * commands request effects, effect outcomes become facts, facts change the context.
 */
import { assign, emit, enqueueActions, setup } from 'xstate';
import {
  diagnostics,
  factRecorded,
  malformedResult,
  produce,
  rejected,
  rejectedByEffect,
  type AggregateContext,
  type AggregateInput,
} from '../_shared/aggregate.js';
import { parseEffectResult, type LockedInput } from '../_shared/effects.js';
import type {
  CommandRejected,
  EffectFailed,
  EffectRequest,
  EffectSucceeded,
  MachineSignal,
} from '../_shared/protocol.js';
import type { FlakeCommandEvent, FlakeFactEvent, FlakeTemplate } from './flake.events.js';

/** Bumped when the machine's states or context change shape (snapshots are keyed by it). */
export const FLAKE_MACHINE_VERSION = 1;

/** One input of the flake, as the aggregate knows it. */
export interface FlakeInput {
  url: string;
  follows?: Record<string, string>;
  flake?: boolean;
  locked?: LockedInput;
}

/** Outcome of the last `flake.check`; `sequence` is the version of the fact that recorded it. */
export interface FlakeCheckOutcome {
  ok: boolean;
  sequence: number;
  duration_ms?: number;
  exit_code?: number;
  message?: string;
}

/** Outcome of the last `flake.update`. */
export interface FlakeUpdateOutcome {
  ok: boolean;
  sequence: number;
  exit_code?: number;
  message?: string;
}

/** The flake aggregate's context. */
export interface FlakeContext extends AggregateContext {
  path: string | null;
  description: string;
  template: FlakeTemplate | null;
  inputs: Record<string, FlakeInput>;
  last_check: FlakeCheckOutcome | null;
  last_update: FlakeUpdateOutcome | null;
}

/** Every event the flake machine accepts. */
export type FlakeEvent = FlakeCommandEvent | FlakeFactEvent | EffectSucceeded | EffectFailed;

type Kind<K extends EffectRequest['kind']> = Extract<EffectRequest, { kind: K }>;

/**
 * The flake's natural key (SPEC §3): its workspace-relative path, also while it is being
 * created (the path is then in the pending `flake.write`).
 */
export function flakeNaturalKey(context: FlakeContext): string | undefined {
  return context.path ?? (context.pending_effect?.kind === 'flake.write' ? context.pending_effect.path : undefined);
}

const name = (c: FlakeContext): string => `flake '${c.path ?? c.aggregate_id}'`;
const known = (c: FlakeContext): string => Object.keys(c.inputs).join(', ') || '(none)';

/**
 * Applies a fact: the changed fields of the context (the root is merged by `assign`; nested
 * collections are updated with immer). Pure, and the same for live processing and replay.
 */
function evolve(c: FlakeContext, fact: FlakeFactEvent): Partial<FlakeContext> {
  const version = c.version + 1;
  switch (fact.type) {
    case 'flake.created': {
      const inputs: Record<string, FlakeInput> = {};
      for (const [input, url] of Object.entries(fact.inputs)) inputs[input] = { url };
      return { version, pending_effect: null, path: fact.path, description: fact.description, template: fact.template, inputs };
    }
    case 'flake.input_added': {
      const input: FlakeInput = { url: fact.url };
      if (fact.follows !== undefined) input.follows = fact.follows;
      if (fact.flake !== undefined) input.flake = fact.flake;
      if (fact.locked !== undefined) input.locked = fact.locked;
      return { version, pending_effect: null, inputs: produce(c.inputs, (d) => void (d[fact.name] = input)) };
    }
    case 'flake.input_removed':
      return { version, pending_effect: null, inputs: produce(c.inputs, (d) => void delete d[fact.name]) };
    case 'flake.updated':
      return {
        version,
        pending_effect: null,
        inputs: produce(c.inputs, (d) => {
          for (const [input, locked] of Object.entries(fact.inputs)) {
            const current = d[input];
            if (current) current.locked = locked;
            else d[input] = { url: locked.url, locked };
          }
        }),
        last_update: { ok: true, sequence: version },
      };
    case 'flake.update_failed': {
      const last_update: FlakeUpdateOutcome = { ok: false, sequence: version, message: fact.message };
      if (fact.exit_code !== undefined) last_update.exit_code = fact.exit_code;
      return { version, pending_effect: null, last_update };
    }
    case 'flake.checked':
      return { version, pending_effect: null, last_check: { ok: true, sequence: version, duration_ms: fact.duration_ms } };
    case 'flake.check_failed': {
      const last_check: FlakeCheckOutcome = { ok: false, sequence: version, message: fact.message };
      if (fact.exit_code !== undefined) last_check.exit_code = fact.exit_code;
      return { version, pending_effect: null, last_check };
    }
  }
}

/** The fact a successful effect yields, or a synthetic failure when its result is malformed. */
function factFromSuccess(effect: EffectRequest, result: unknown): FlakeFactEvent | EffectFailed {
  switch (effect.kind) {
    case 'flake.write': {
      const r = parseEffectResult(effect.kind, result);
      if (!r) break;
      return {
        type: 'flake.created',
        path: effect.path,
        description: effect.description,
        template: effect.template as FlakeTemplate,
        inputs: r.inputs ?? effect.inputs,
        files: r.files,
      };
    }
    case 'flake.add_input': {
      const r = parseEffectResult(effect.kind, result);
      if (!r) break;
      const fact: FlakeFactEvent = { type: 'flake.input_added', name: effect.name, url: effect.url };
      if (effect.follows !== undefined) fact.follows = effect.follows;
      if (effect.flake !== undefined) fact.flake = effect.flake;
      if (r.locked !== undefined) fact.locked = r.locked;
      return fact;
    }
    case 'flake.remove_input':
      if (!parseEffectResult(effect.kind, result)) break;
      return { type: 'flake.input_removed', name: effect.name };
    case 'flake.update': {
      const r = parseEffectResult(effect.kind, result);
      if (r) return { type: 'flake.updated', inputs: r.locked };
      break;
    }
    case 'flake.check': {
      const r = parseEffectResult(effect.kind, result);
      if (r) return { type: 'flake.checked', duration_ms: r.duration_ms };
      break;
    }
    default:
      break;
  }
  return malformedResult(effect.kind);
}

/** The failure fact of a failed update or check. */
function factFromFailure(event: EffectFailed): FlakeFactEvent {
  const type = event.kind === 'flake.update' ? 'flake.update_failed' : 'flake.check_failed';
  return { type, message: event.message, ...diagnostics(event) };
}

/** Any command but create on a flake that does not exist. */
const absent = {
  actions: {
    type: 'reject' as const,
    params: ({ context }: { context: FlakeContext }): CommandRejected =>
      rejected('not_found', `flake ${context.aggregate_id} does not exist; create it with flake.create first`),
  },
};

/**
 * The flake aggregate machine. Input `{ aggregate_id }`; signals via `emit` only.
 */
export const flakeMachine = setup({
  types: { context: {} as FlakeContext, events: {} as FlakeEvent, input: {} as AggregateInput, emitted: {} as MachineSignal },
  actions: {
    /** Applies the current fact event to the context. */
    apply: assign(({ context, event }) => evolve(context, event as FlakeFactEvent)),
    /** Reports the fact just applied; its sequence is the new version. */
    report: emit(({ context, event }) => factRecorded(event, context.version)),
    /** Waits for an effect: remembers it and asks the host to run it. */
    request: enqueueActions(({ enqueue }, effect: EffectRequest) => {
      enqueue.assign({ pending_effect: effect });
      enqueue.emit({ type: 'effect.requested', effect });
    }),
    reject: emit((_, signal: CommandRejected) => signal),
    /** Turns a successful outcome into its fact (raised, so it is applied like a replayed one). */
    settle: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'effect.succeeded' || context.pending_effect === null) return;
      enqueue.raise(factFromSuccess(context.pending_effect, event.result));
    }),
    /** Turns a failed update or check into its failure fact. */
    recordFailure: enqueueActions(({ event, enqueue }) => {
      if (event.type === 'effect.failed') enqueue.raise(factFromFailure(event));
    }),
    /** A failed effect without a failure fact: reject the command, nothing changes. */
    abandon: enqueueActions(({ event, enqueue }) => {
      enqueue.assign({ pending_effect: null });
      if (event.type === 'effect.failed') enqueue.emit(rejectedByEffect(event));
    }),
  },
  guards: {
    /** The outcome is for the effect this aggregate waits for. */
    awaited: ({ context, event }) =>
      (event.type === 'effect.succeeded' || event.type === 'effect.failed') &&
      event.kind === context.pending_effect?.kind,
    inputExists: ({ context, event }) => 'name' in event && Object.hasOwn(context.inputs, event.name),
    inputUnknown: ({ context, event }) => 'name' in event && !Object.hasOwn(context.inputs, event.name),
    updateNamesUnknown: ({ context, event }) =>
      event.type === 'flake.update' && (event.inputs ?? []).some((n) => !Object.hasOwn(context.inputs, n)),
  },
}).createMachine({
  id: 'flake',
  context: ({ input }) => ({
    aggregate_id: input.aggregate_id,
    version: 0,
    pending_effect: null,
    path: null,
    description: '',
    template: null,
    inputs: {},
    last_check: null,
    last_update: null,
  }),
  initial: 'none',
  states: {
    none: {
      on: {
        'flake.create': {
          target: 'creating',
          actions: {
            type: 'request',
            params: ({ event }): Kind<'flake.write'> => ({
              kind: 'flake.write',
              path: event.path,
              description: event.description,
              template: event.template,
              inputs: event.inputs,
            }),
          },
        },
        'flake.update': absent,
        'flake.add_input': absent,
        'flake.remove_input': absent,
        'flake.check': absent,
        'flake.created': { target: 'active', actions: ['apply', 'report'] },
      },
    },
    creating: {
      on: {
        'effect.succeeded': { guard: 'awaited', actions: 'settle' },
        'effect.failed': { guard: 'awaited', target: 'none', actions: 'abandon' },
        'flake.created': { target: 'active', actions: ['apply', 'report'] },
      },
    },
    active: {
      on: {
        'flake.create': {
          actions: {
            type: 'reject',
            params: ({ context }) =>
              rejected(
                'already_exists',
                `${name(context)} already exists (a flake is created once per path); change it with flake.add_input, flake.remove_input or flake.update`,
              ),
          },
        },
        'flake.add_input': [
          {
            guard: 'inputExists',
            actions: {
              type: 'reject',
              params: ({ context, event }) =>
                rejected(
                  'already_exists',
                  `input '${event.name}' already exists in ${name(context)} (input names are unique); remove it with flake.remove_input first or choose another name`,
                ),
            },
          },
          {
            target: 'editing',
            actions: {
              type: 'request',
              params: ({ context, event }): Kind<'flake.add_input'> => {
                const { name: input, url } = event;
                const effect: Kind<'flake.add_input'> = { kind: 'flake.add_input', path: context.path ?? '', name: input, url };
                if (event.follows !== undefined) effect.follows = event.follows;
                if (event.flake !== undefined) effect.flake = event.flake;
                return effect;
              },
            },
          },
        ],
        'flake.remove_input': [
          {
            guard: 'inputUnknown',
            actions: {
              type: 'reject',
              params: ({ context, event }) =>
                rejected(
                  'not_found',
                  `input '${event.name}' is not an input of ${name(context)}; known inputs: ${known(context)}`,
                ),
            },
          },
          {
            target: 'editing',
            actions: {
              type: 'request',
              params: ({ context, event }): Kind<'flake.remove_input'> =>
                ({ kind: 'flake.remove_input', path: context.path ?? '', name: event.name }),
            },
          },
        ],
        'flake.update': [
          {
            guard: 'updateNamesUnknown',
            actions: {
              type: 'reject',
              params: ({ context, event }) => {
                const unknown = (event.inputs ?? []).filter((n) => !Object.hasOwn(context.inputs, n));
                return rejected(
                  'not_found',
                  `flake.update names inputs that ${name(context)} does not have: ${unknown.join(', ')}; known inputs: ${known(context)} (omit inputs to update all)`,
                );
              },
            },
          },
          {
            target: 'updating',
            actions: {
              type: 'request',
              params: ({ context, event }): Kind<'flake.update'> =>
                event.inputs === undefined
                  ? { kind: 'flake.update', path: context.path ?? '' }
                  : { kind: 'flake.update', path: context.path ?? '', inputs: event.inputs },
            },
          },
        ],
        'flake.check': {
          target: 'checking',
          actions: {
            type: 'request',
            params: ({ context }): Kind<'flake.check'> => ({ kind: 'flake.check', path: context.path ?? '' }),
          },
        },
        // Replay: facts recorded by the transient states below.
        'flake.input_added': { actions: ['apply', 'report'] },
        'flake.input_removed': { actions: ['apply', 'report'] },
        'flake.updated': { actions: ['apply', 'report'] },
        'flake.update_failed': { actions: ['apply', 'report'] },
        'flake.checked': { actions: ['apply', 'report'] },
        'flake.check_failed': { actions: ['apply', 'report'] },
      },
    },
    editing: {
      on: {
        'effect.succeeded': { guard: 'awaited', actions: 'settle' },
        'effect.failed': { guard: 'awaited', target: 'active', actions: 'abandon' },
        'flake.input_added': { target: 'active', actions: ['apply', 'report'] },
        'flake.input_removed': { target: 'active', actions: ['apply', 'report'] },
      },
    },
    updating: {
      on: {
        'effect.succeeded': { guard: 'awaited', actions: 'settle' },
        'effect.failed': { guard: 'awaited', actions: 'recordFailure' },
        'flake.updated': { target: 'active', actions: ['apply', 'report'] },
        'flake.update_failed': { target: 'active', actions: ['apply', 'report'] },
      },
    },
    checking: {
      on: {
        'effect.succeeded': { guard: 'awaited', actions: 'settle' },
        'effect.failed': { guard: 'awaited', actions: 'recordFailure' },
        'flake.checked': { target: 'active', actions: ['apply', 'report'] },
        'flake.check_failed': { target: 'active', actions: ['apply', 'report'] },
      },
    },
  },
});
