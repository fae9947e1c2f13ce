/**
 * The module aggregate: one NixOS module, `modules/<name>.nix` in the workspace.
 *
 * none ─create→ active; active ─update→ active; active ─delete→ deleted;
 * deleted ─create→ active (a new incarnation: the version continues, `incarnation` counts
 * the creations).
 *
 * Design decision (machine version 2): commands are fact-first. The performance targets
 * (SPEC §8: ≥ 10,000 commands/s, p50 ≤ 0.5 ms round trip) cannot be met if a command waits
 * for a file write and a `nix-instantiate --parse` subprocess, so a command is decided and
 * its fact recorded at once (stored and replied without waiting), and the machine emits
 * `effect.scheduled` with `module.write` or `module.delete`. The runtime runs that effect
 * after the facts are stored, in order with the aggregate's other effects, and feeds no
 * outcome back: the file is a projection of the facts, so `file` is the deterministic path
 * `modules/<name>.nix`, not the adapter's answer. Version 1 waited in `writing`,
 * `updating` and `deleting`; a snapshot of it may be in one of them, hence the new version.
 */
import { assign, emit, enqueueActions, setup } from 'xstate';
import { factRecorded, rejected, scheduled, type AggregateContext, type AggregateInput } from '../_shared/aggregate.js';
import type { CommandRejected, EffectRequest, MachineSignal } from '../_shared/protocol.js';
import type { ModuleBody, ModuleCommandEvent, ModuleFactEvent } from './module.events.js';

/** Bumped when the machine's states or context change shape (snapshots are keyed by it). */
export const MODULE_MACHINE_VERSION = 2;

/** The module aggregate's context. */
export interface ModuleContext extends AggregateContext {
  name: string | null;
  /** The current body; `null` before creation and after deletion. */
  module: ModuleBody | null;
  /** The module's file, relative to the workspace; `null` when there is none. */
  file: string | null;
  /** How many times the module was created (1 for the first life). */
  incarnation: number;
}

/**
 * Every event the module machine accepts: commands and (replayed) facts. Effect outcomes
 * are not among them: its effects are scheduled, never awaited.
 */
export type ModuleEvent = ModuleCommandEvent | ModuleFactEvent;

/** The workspace-relative file of module `name`. */
export const moduleFile = (name: string): string => `modules/${name}.nix`;

/** A fact-first decision: the fact to record and the effect that renders it into the workspace. */
interface Decision {
  fact: ModuleFactEvent;
  effect: EffectRequest;
}

/**
 * Applies a fact: the changed fields of the context, merged by `assign` (the body is
 * replaced wholesale, so no draft is needed). Pure, and the same for live processing and replay.
 */
function evolve(c: ModuleContext, fact: ModuleFactEvent): Partial<ModuleContext> {
  const version = c.version + 1;
  switch (fact.type) {
    case 'module.created':
      return { version, name: fact.name, module: fact.module, file: fact.file, incarnation: c.incarnation + 1 };
    case 'module.updated':
      return { version, name: fact.name, module: fact.module, file: fact.file };
    case 'module.deleted':
      return { version, name: fact.name, module: null, file: null };
  }
}

const write = (type: 'module.created' | 'module.updated', event: { name: string; module: ModuleBody }): Decision => ({
  fact: { type, name: event.name, module: event.module, file: moduleFile(event.name) },
  effect: { kind: 'module.write', name: event.name, module: event.module },
});

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
    /** Applies the current (replayed) fact event to the context. */
    apply: assign(({ context, event }) => evolve(context, event as ModuleFactEvent)),
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
        'module.create': { target: 'active', actions: { type: 'decide', params: ({ event }) => write('module.created', event) } },
        'module.update': { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
        'module.delete': { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
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
        'module.update': { actions: { type: 'decide', params: ({ event }) => write('module.updated', event) } },
        'module.delete': {
          target: 'deleted',
          actions: {
            type: 'decide',
            params: ({ event }) => ({
              fact: { type: 'module.deleted' as const, name: event.name },
              effect: { kind: 'module.delete' as const, name: event.name },
            }),
          },
        },
        'module.updated': { actions: ['apply', 'report'] },
        'module.deleted': { target: 'deleted', actions: ['apply', 'report'] },
      },
    },
    deleted: {
      on: {
        'module.create': { target: 'active', actions: { type: 'decide', params: ({ event }) => write('module.created', event) } },
        'module.update': { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
        'module.delete': { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
        'module.created': { target: 'active', actions: ['apply', 'report'] },
      },
    },
  },
});
