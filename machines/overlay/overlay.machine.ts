/**
 * The overlay aggregate: one nixpkgs overlay, `overlays/<name>.nix` in the workspace.
 *
 * none ─create→ active; active ─update→ active; active ─delete→ deleted;
 * deleted ─create→ active (a new incarnation: the version continues, `incarnation` counts
 * the creations).
 *
 * Design decision (machine version 2): commands are fact-first. The performance targets
 * (SPEC §8: ≥ 10,000 commands/s, p50 ≤ 0.5 ms round trip) cannot be met if a command waits
 * for a file write and a `nix-instantiate --parse` subprocess, so a command is decided and
 * its fact recorded at once (stored and replied without waiting), and the machine emits
 * `effect.scheduled` with `overlay.write` or `overlay.delete`. The runtime runs that effect
 * after the facts are stored, in order with the aggregate's other effects, and feeds no
 * outcome back: the file is a projection of the facts, so `file` is the deterministic path
 * `overlays/<name>.nix`, not the adapter's answer. Version 1 waited in `writing`,
 * `updating` and `deleting`; a snapshot of it may be in one of them, hence the new version.
 */
import { assign, emit, enqueueActions, setup } from 'xstate';
import { factRecorded, rejected, scheduled, type AggregateContext, type AggregateInput } from '../_shared/aggregate.js';
import type { CommandRejected, EffectRequest, MachineSignal } from '../_shared/protocol.js';
import type { OverlayBody, OverlayCommandEvent, OverlayFactEvent } from './overlay.events.js';

/** Bumped when the machine's states or context change shape (snapshots are keyed by it). */
export const OVERLAY_MACHINE_VERSION = 2;

/** The overlay aggregate's context. */
export interface OverlayContext extends AggregateContext {
  name: string | null;
  /** The current body; `null` before creation and after deletion. */
  overlay: OverlayBody | null;
  /** The overlay's file, relative to the workspace; `null` when there is none. */
  file: string | null;
  /** How many times the overlay was created (1 for the first life). */
  incarnation: number;
}

/**
 * Every event the overlay machine accepts: commands and (replayed) facts. Effect outcomes
 * are not among them: its effects are scheduled, never awaited.
 */
export type OverlayEvent = OverlayCommandEvent | OverlayFactEvent;

/** The workspace-relative file of overlay `name`. */
export const overlayFile = (name: string): string => `overlays/${name}.nix`;

/** A fact-first decision: the fact to record and the effect that renders it into the workspace. */
interface Decision {
  fact: OverlayFactEvent;
  effect: EffectRequest;
}

/**
 * Applies a fact: the changed fields of the context, merged by `assign` (the body is
 * replaced wholesale, so no draft is needed). Pure, and the same for live processing and replay.
 */
function evolve(c: OverlayContext, fact: OverlayFactEvent): Partial<OverlayContext> {
  const version = c.version + 1;
  switch (fact.type) {
    case 'overlay.created':
      return { version, name: fact.name, overlay: fact.overlay, file: fact.file, incarnation: c.incarnation + 1 };
    case 'overlay.updated':
      return { version, name: fact.name, overlay: fact.overlay, file: fact.file };
    case 'overlay.deleted':
      return { version, name: fact.name, overlay: null, file: null };
  }
}

const write = (type: 'overlay.created' | 'overlay.updated', event: { name: string; overlay: OverlayBody }): Decision => ({
  fact: { type, name: event.name, overlay: event.overlay, file: overlayFile(event.name) },
  effect: { kind: 'overlay.write', name: event.name, overlay: event.overlay },
});

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
    /** Applies the current (replayed) fact event to the context. */
    apply: assign(({ context, event }) => evolve(context, event as OverlayFactEvent)),
    /** Reports the fact just applied; its sequence is the new version. */
    report: emit(({ context, event }) => factRecorded(event, context.version)),
    /** Records a decided fact (applied as a replayed one would be), then schedules its rendering. */
    decide: enqueueActions(({ context, enqueue }, d: Decision) => {
      enqueue.assign(evolve(context, d.fact));
      enqueue.emit(factRecorded(d.fact, context.version + 1));
      enqueue.emit(scheduled(d.effect));
    }),
    reject: emit((_, signal: CommandRejected) => signal),
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
        'overlay.create': { target: 'active', actions: { type: 'decide', params: ({ event }) => write('overlay.created', event) } },
        'overlay.update': { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
        'overlay.delete': { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
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
        'overlay.update': { actions: { type: 'decide', params: ({ event }) => write('overlay.updated', event) } },
        'overlay.delete': {
          target: 'deleted',
          actions: {
            type: 'decide',
            params: ({ event }) => ({
              fact: { type: 'overlay.deleted' as const, name: event.name },
              effect: { kind: 'overlay.delete' as const, name: event.name },
            }),
          },
        },
        'overlay.updated': { actions: ['apply', 'report'] },
        'overlay.deleted': { target: 'deleted', actions: ['apply', 'report'] },
      },
    },
    deleted: {
      on: {
        'overlay.create': { target: 'active', actions: { type: 'decide', params: ({ event }) => write('overlay.created', event) } },
        'overlay.update': { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
        'overlay.delete': { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
        'overlay.created': { target: 'active', actions: ['apply', 'report'] },
      },
    },
  },
});
