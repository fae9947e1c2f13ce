/**
 * The module aggregate: one NixOS module, `modules/<name>.nix` in the workspace.
 *
 * none ─create→ writing → active; active ─update→ updating → active;
 * active ─delete→ deleting → deleted; deleted ─create→ writing → active (a new
 * incarnation: the version continues, `incarnation` counts the creations).
 */
import { and, assign, emit, enqueueActions, setup } from 'xstate';
import {
  factRecorded,
  malformedResult,
  rejected,
  rejectedByEffect,
  type AggregateContext,
  type AggregateInput,
} from '../_shared/aggregate.js';
import { parseEffectResult } from '../_shared/effects.js';
import type {
  CommandRejected,
  EffectFailed,
  EffectRequest,
  EffectSucceeded,
  MachineSignal,
} from '../_shared/protocol.js';
import type { ModuleBody, ModuleCommandEvent, ModuleFactEvent } from './module.events.js';

/** Bumped when the machine's states or context change shape (snapshots are keyed by it). */
export const MODULE_MACHINE_VERSION = 1;

/** The module aggregate's context. */
export interface ModuleContext extends AggregateContext {
  name: string | null;
  /** The current body; `null` before creation and after deletion. */
  module: ModuleBody | null;
  /** The written file, relative to the workspace; `null` when there is none. */
  file: string | null;
  /** How many times the module was created (1 for the first life). */
  incarnation: number;
}

/** Every event the module machine accepts. */
export type ModuleEvent = ModuleCommandEvent | ModuleFactEvent | EffectSucceeded | EffectFailed;

type FactName = ModuleFactEvent['type'];

/**
 * Applies a fact: the changed fields of the context, merged by `assign` (the body is
 * replaced wholesale, so no draft is needed). Pure, and the same for live processing and replay.
 */
function evolve(c: ModuleContext, fact: ModuleFactEvent): Partial<ModuleContext> {
  const version = c.version + 1;
  switch (fact.type) {
    case 'module.created':
      return { version, pending_effect: null, name: fact.name, module: fact.module, file: fact.file, incarnation: c.incarnation + 1 };
    case 'module.updated':
      return { version, pending_effect: null, name: fact.name, module: fact.module, file: fact.file };
    case 'module.deleted':
      return { version, pending_effect: null, name: fact.name, module: null, file: null };
  }
}

/** The fact a successful effect yields, or a synthetic failure when its result is malformed. */
function factFromSuccess(effect: EffectRequest, result: unknown, fact: FactName): ModuleFactEvent | EffectFailed {
  if (effect.kind === 'module.write' && fact !== 'module.deleted') {
    const r = parseEffectResult(effect.kind, result);
    if (r) return { type: fact, name: effect.name, module: effect.module as ModuleBody, file: r.file };
  } else if (effect.kind === 'module.delete' && fact === 'module.deleted') {
    if (parseEffectResult(effect.kind, result)) return { type: fact, name: effect.name };
  }
  return malformedResult(effect.kind);
}

const missing = (event: { name: string }, context: ModuleContext): CommandRejected =>
  rejected(
    'not_found',
    context.incarnation > 0
      ? `module '${event.name}' was deleted; create it again with module.create`
      : `module '${event.name}' does not exist; create it with module.create first`,
  );

/**
 * The module aggregate machine. Input `{ aggregate_id }`; signals via `emit` only.
 */
export const moduleMachine = setup({
  types: {
    context: {} as ModuleContext,
    events: {} as ModuleEvent,
    input: {} as AggregateInput,
    emitted: {} as MachineSignal,
  },
  actions: {
    /** Applies the current fact event to the context. */
    apply: assign(({ context, event }) => evolve(context, event as ModuleFactEvent)),
    /** Reports the fact just applied; its sequence is the new version. */
    report: emit(({ context, event }) => factRecorded(event, context.version)),
    /** Waits for an effect: remembers it and asks the host to run it. */
    request: enqueueActions(({ enqueue }, effect: EffectRequest) => {
      enqueue.assign({ pending_effect: effect });
      enqueue.emit({ type: 'effect.requested', effect });
    }),
    reject: emit((_, signal: CommandRejected) => signal),
    /** Turns a successful outcome into the given fact (raised, so it applies like a replayed one). */
    settle: enqueueActions(({ context, event, enqueue }, params: { fact: FactName }) => {
      if (event.type !== 'effect.succeeded' || context.pending_effect === null) return;
      enqueue.raise(factFromSuccess(context.pending_effect, event.result, params.fact));
    }),
    /** A failed effect: reject the command, nothing changes. */
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
    /** A creation that fails returns to `deleted` when the module lived before. */
    livedBefore: ({ context }) => context.incarnation > 0,
  },
}).createMachine({
  id: 'module',
  context: ({ input }) => ({
    aggregate_id: input.aggregate_id,
    version: 0,
    pending_effect: null,
    name: null,
    module: null,
    file: null,
    incarnation: 0,
  }),
  initial: 'none',
  states: {
    none: {
      on: {
        'module.create': {
          target: 'writing',
          actions: {
            type: 'request',
            params: ({ event }) => ({ kind: 'module.write' as const, name: event.name, module: event.module }),
          },
        },
        'module.update': { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
        'module.delete': { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
        'module.created': { target: 'active', actions: ['apply', 'report'] },
      },
    },
    writing: {
      on: {
        'effect.succeeded': { guard: 'awaited', actions: { type: 'settle', params: { fact: 'module.created' } } },
        'effect.failed': [
          { guard: and(['awaited', 'livedBefore']), target: 'deleted', actions: 'abandon' },
          { guard: 'awaited', target: 'none', actions: 'abandon' },
        ],
        'module.created': { target: 'active', actions: ['apply', 'report'] },
      },
    },
    active: {
      on: {
        'module.create': {
          actions: {
            type: 'reject',
            params: ({ event }) =>
              rejected(
                'already_exists',
                `module '${event.name}' already exists; change it with module.update or delete it with module.delete first`,
              ),
          },
        },
        'module.update': {
          target: 'updating',
          actions: {
            type: 'request',
            params: ({ event }) => ({ kind: 'module.write' as const, name: event.name, module: event.module }),
          },
        },
        'module.delete': {
          target: 'deleting',
          actions: { type: 'request', params: ({ event }) => ({ kind: 'module.delete' as const, name: event.name }) },
        },
        // Replay: facts recorded by `updating` and `deleting`.
        'module.updated': { actions: ['apply', 'report'] },
        'module.deleted': { target: 'deleted', actions: ['apply', 'report'] },
      },
    },
    updating: {
      on: {
        'effect.succeeded': { guard: 'awaited', actions: { type: 'settle', params: { fact: 'module.updated' } } },
        'effect.failed': { guard: 'awaited', target: 'active', actions: 'abandon' },
        'module.updated': { target: 'active', actions: ['apply', 'report'] },
      },
    },
    deleting: {
      on: {
        'effect.succeeded': { guard: 'awaited', actions: { type: 'settle', params: { fact: 'module.deleted' } } },
        'effect.failed': { guard: 'awaited', target: 'active', actions: 'abandon' },
        'module.deleted': { target: 'deleted', actions: ['apply', 'report'] },
      },
    },
    deleted: {
      on: {
        'module.create': {
          target: 'writing',
          actions: {
            type: 'request',
            params: ({ event }) => ({ kind: 'module.write' as const, name: event.name, module: event.module }),
          },
        },
        'module.update': { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
        'module.delete': { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
        'module.created': { target: 'active', actions: ['apply', 'report'] },
      },
    },
  },
});
