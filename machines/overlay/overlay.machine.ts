/**
 * The overlay aggregate: one nixpkgs overlay, `overlays/<name>.nix` in the workspace.
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
import type { OverlayBody, OverlayCommandEvent, OverlayFactEvent } from './overlay.events.js';

/** Bumped when the machine's states or context change shape (snapshots are keyed by it). */
export const OVERLAY_MACHINE_VERSION = 1;

/** The overlay aggregate's context. */
export interface OverlayContext extends AggregateContext {
  name: string | null;
  /** The current body; `null` before creation and after deletion. */
  overlay: OverlayBody | null;
  /** The written file, relative to the workspace; `null` when there is none. */
  file: string | null;
  /** How many times the overlay was created (1 for the first life). */
  incarnation: number;
}

/** Every event the overlay machine accepts. */
export type OverlayEvent = OverlayCommandEvent | OverlayFactEvent | EffectSucceeded | EffectFailed;

type FactName = OverlayFactEvent['type'];

/**
 * Applies a fact: the changed fields of the context, merged by `assign` (the body is
 * replaced wholesale, so no draft is needed). Pure, and the same for live processing and replay.
 */
function evolve(c: OverlayContext, fact: OverlayFactEvent): Partial<OverlayContext> {
  const version = c.version + 1;
  switch (fact.type) {
    case 'overlay.created':
      return { version, pending_effect: null, name: fact.name, overlay: fact.overlay, file: fact.file, incarnation: c.incarnation + 1 };
    case 'overlay.updated':
      return { version, pending_effect: null, name: fact.name, overlay: fact.overlay, file: fact.file };
    case 'overlay.deleted':
      return { version, pending_effect: null, name: fact.name, overlay: null, file: null };
  }
}

/** The fact a successful effect yields, or a synthetic failure when its result is malformed. */
function factFromSuccess(effect: EffectRequest, result: unknown, fact: FactName): OverlayFactEvent | EffectFailed {
  if (effect.kind === 'overlay.write' && fact !== 'overlay.deleted') {
    const r = parseEffectResult(effect.kind, result);
    if (r) return { type: fact, name: effect.name, overlay: effect.overlay as OverlayBody, file: r.file };
  } else if (effect.kind === 'overlay.delete' && fact === 'overlay.deleted') {
    if (parseEffectResult(effect.kind, result)) return { type: fact, name: effect.name };
  }
  return malformedResult(effect.kind);
}

const missing = (event: { name: string }, context: OverlayContext): CommandRejected =>
  rejected(
    'not_found',
    context.incarnation > 0
      ? `overlay '${event.name}' was deleted; create it again with overlay.create`
      : `overlay '${event.name}' does not exist; create it with overlay.create first`,
  );

/**
 * The overlay aggregate machine. Input `{ aggregate_id }`; signals via `emit` only.
 */
export const overlayMachine = setup({
  types: {
    context: {} as OverlayContext,
    events: {} as OverlayEvent,
    input: {} as AggregateInput,
    emitted: {} as MachineSignal,
  },
  actions: {
    /** Applies the current fact event to the context. */
    apply: assign(({ context, event }) => evolve(context, event as OverlayFactEvent)),
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
    /** A creation that fails returns to `deleted` when the overlay lived before. */
    livedBefore: ({ context }) => context.incarnation > 0,
  },
}).createMachine({
  id: 'overlay',
  context: ({ input }) => ({
    aggregate_id: input.aggregate_id,
    version: 0,
    pending_effect: null,
    name: null,
    overlay: null,
    file: null,
    incarnation: 0,
  }),
  initial: 'none',
  states: {
    none: {
      on: {
        'overlay.create': {
          target: 'writing',
          actions: {
            type: 'request',
            params: ({ event }) => ({ kind: 'overlay.write' as const, name: event.name, overlay: event.overlay }),
          },
        },
        'overlay.update': { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
        'overlay.delete': { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
        'overlay.created': { target: 'active', actions: ['apply', 'report'] },
      },
    },
    writing: {
      on: {
        'effect.succeeded': { guard: 'awaited', actions: { type: 'settle', params: { fact: 'overlay.created' } } },
        'effect.failed': [
          { guard: and(['awaited', 'livedBefore']), target: 'deleted', actions: 'abandon' },
          { guard: 'awaited', target: 'none', actions: 'abandon' },
        ],
        'overlay.created': { target: 'active', actions: ['apply', 'report'] },
      },
    },
    active: {
      on: {
        'overlay.create': {
          actions: {
            type: 'reject',
            params: ({ event }) =>
              rejected(
                'already_exists',
                `overlay '${event.name}' already exists; change it with overlay.update or delete it with overlay.delete first`,
              ),
          },
        },
        'overlay.update': {
          target: 'updating',
          actions: {
            type: 'request',
            params: ({ event }) => ({ kind: 'overlay.write' as const, name: event.name, overlay: event.overlay }),
          },
        },
        'overlay.delete': {
          target: 'deleting',
          actions: { type: 'request', params: ({ event }) => ({ kind: 'overlay.delete' as const, name: event.name }) },
        },
        // Replay: facts recorded by `updating` and `deleting`.
        'overlay.updated': { actions: ['apply', 'report'] },
        'overlay.deleted': { target: 'deleted', actions: ['apply', 'report'] },
      },
    },
    updating: {
      on: {
        'effect.succeeded': { guard: 'awaited', actions: { type: 'settle', params: { fact: 'overlay.updated' } } },
        'effect.failed': { guard: 'awaited', target: 'active', actions: 'abandon' },
        'overlay.updated': { target: 'active', actions: ['apply', 'report'] },
      },
    },
    deleting: {
      on: {
        'effect.succeeded': { guard: 'awaited', actions: { type: 'settle', params: { fact: 'overlay.deleted' } } },
        'effect.failed': { guard: 'awaited', target: 'active', actions: 'abandon' },
        'overlay.deleted': { target: 'deleted', actions: ['apply', 'report'] },
      },
    },
    deleted: {
      on: {
        'overlay.create': {
          target: 'writing',
          actions: {
            type: 'request',
            params: ({ event }) => ({ kind: 'overlay.write' as const, name: event.name, overlay: event.overlay }),
          },
        },
        'overlay.update': { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
        'overlay.delete': { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
        'overlay.created': { target: 'active', actions: ['apply', 'report'] },
      },
    },
  },
});
