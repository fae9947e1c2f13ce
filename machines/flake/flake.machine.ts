/**
 * The flake aggregate: a `flake.nix` in the workspace, its inputs and their locks.
 *
 * none ─create→ creating ─flake.created→ active; in active: add_input/remove_input
 * (editing), update (updating), check (checking), each back to active. A pure decider:
 * commands request effects, effect outcomes become facts, facts change the context.
 */
import { emit, enqueueActions, setup } from 'xstate';
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

const name = (c: FlakeContext): string => `flake '${c.path ?? c.aggregate_id}'`;
const known = (c: FlakeContext): string => Object.keys(c.inputs).join(', ') || '(none)';

/** Applies a fact to the context (pure; immer-backed). */
function evolve(context: FlakeContext, fact: FlakeFactEvent): FlakeContext {
  return produce(context, (d) => {
    d.version += 1;
    d.pending_effect = null;
    switch (fact.type) {
      case 'flake.created': {
        d.path = fact.path;
        d.description = fact.description;
        d.template = fact.template;
        d.inputs = {};
        for (const [input, url] of Object.entries(fact.inputs)) d.inputs[input] = { url };
        break;
      }
      case 'flake.input_added': {
        const input: FlakeInput = { url: fact.url };
        if (fact.follows !== undefined) input.follows = fact.follows;
        if (fact.flake !== undefined) input.flake = fact.flake;
        if (fact.locked !== undefined) input.locked = fact.locked;
        d.inputs[fact.name] = input;
        break;
      }
      case 'flake.input_removed':
        delete d.inputs[fact.name];
        break;
      case 'flake.updated': {
        for (const [input, locked] of Object.entries(fact.inputs)) {
          const current = d.inputs[input];
          if (current) current.locked = locked;
          else d.inputs[input] = { url: locked.url, locked };
        }
        d.last_update = { ok: true, sequence: d.version };
        break;
      }
      case 'flake.update_failed':
        d.last_update = { ok: false, sequence: d.version, message: fact.message };
        if (fact.exit_code !== undefined) d.last_update.exit_code = fact.exit_code;
        break;
      case 'flake.checked':
        d.last_check = { ok: true, sequence: d.version, duration_ms: fact.duration_ms };
        break;
      case 'flake.check_failed':
        d.last_check = { ok: false, sequence: d.version, message: fact.message };
        if (fact.exit_code !== undefined) d.last_check.exit_code = fact.exit_code;
        break;
    }
  });
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
      const fact: Extract<FlakeFactEvent, { type: 'flake.input_added' }> = {
        type: 'flake.input_added',
        name: effect.name,
        url: effect.url,
      };
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
      if (!r) break;
      return { type: 'flake.updated', inputs: r.locked };
    }
    case 'flake.check': {
      const r = parseEffectResult(effect.kind, result);
      if (!r) break;
      return { type: 'flake.checked', duration_ms: r.duration_ms };
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

/**
 * The flake aggregate machine. Input `{ aggregate_id }`; signals via `emit` only.
 */
export const flakeMachine = setup({
  types: {
    context: {} as FlakeContext,
    events: {} as FlakeEvent,
    input: {} as AggregateInput,
    emitted: {} as MachineSignal,
  },
  actions: {
    /** Applies the current fact event and reports it. */
    record: enqueueActions(({ context, event, enqueue }) => {
      const next = evolve(context, event as FlakeFactEvent);
      enqueue.assign(() => next);
      enqueue.emit(factRecorded(event, next.version));
    }),
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
        'flake.update': { actions: { type: 'reject', params: ({ context }) => missing(context) } },
        'flake.add_input': { actions: { type: 'reject', params: ({ context }) => missing(context) } },
        'flake.remove_input': { actions: { type: 'reject', params: ({ context }) => missing(context) } },
        'flake.check': { actions: { type: 'reject', params: ({ context }) => missing(context) } },
        'flake.created': { target: 'active', actions: 'record' },
      },
    },
    creating: {
      on: {
        'effect.succeeded': { guard: 'awaited', actions: 'settle' },
        'effect.failed': { guard: 'awaited', target: 'none', actions: 'abandon' },
        'flake.created': { target: 'active', actions: 'record' },
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
                const effect: Kind<'flake.add_input'> = {
                  kind: 'flake.add_input',
                  path: context.path ?? '',
                  name: event.name,
                  url: event.url,
                };
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
              params: ({ context, event }): Kind<'flake.remove_input'> => ({
                kind: 'flake.remove_input',
                path: context.path ?? '',
                name: event.name,
              }),
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
        'flake.input_added': { actions: 'record' },
        'flake.input_removed': { actions: 'record' },
        'flake.updated': { actions: 'record' },
        'flake.update_failed': { actions: 'record' },
        'flake.checked': { actions: 'record' },
        'flake.check_failed': { actions: 'record' },
      },
    },
    editing: {
      on: {
        'effect.succeeded': { guard: 'awaited', actions: 'settle' },
        'effect.failed': { guard: 'awaited', target: 'active', actions: 'abandon' },
        'flake.input_added': { target: 'active', actions: 'record' },
        'flake.input_removed': { target: 'active', actions: 'record' },
      },
    },
    updating: {
      on: {
        'effect.succeeded': { guard: 'awaited', actions: 'settle' },
        'effect.failed': { guard: 'awaited', actions: 'recordFailure' },
        'flake.updated': { target: 'active', actions: 'record' },
        'flake.update_failed': { target: 'active', actions: 'record' },
      },
    },
    checking: {
      on: {
        'effect.succeeded': { guard: 'awaited', actions: 'settle' },
        'effect.failed': { guard: 'awaited', actions: 'recordFailure' },
        'flake.checked': { target: 'active', actions: 'record' },
        'flake.check_failed': { target: 'active', actions: 'record' },
      },
    },
  },
});

function missing(context: FlakeContext): CommandRejected {
  return rejected(
    'not_found',
    `flake ${context.aggregate_id} does not exist; create it with flake.create first`,
  );
}
