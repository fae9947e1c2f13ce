/**
 * The package aggregate: one flake attribute (`flake_ref#attribute`), its builds and its
 * copies to a binary cache.
 *
 * none ─build→ building ─→ built | failed; built|failed|cached may be rebuilt;
 * built|cached ─cache→ caching ─→ cached | built (cache failed). The build start is a
 * durable fact (`package.build_started`), so a replayed `building` aggregate still knows
 * the build it waits for; a second build request while building joins it.
 */
import { assign, emit, enqueueActions, raise, setup } from 'xstate';
import {
  diagnostics,
  factRecorded,
  malformedResult,
  rejected,
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
import type { PackageCommandEvent, PackageFactEvent } from './package.events.js';

/** Bumped when the machine's states or context change shape (snapshots are keyed by it). */
export const PACKAGE_MACHINE_VERSION = 1;

/** The package aggregate's context. */
export interface PackageContext extends AggregateContext {
  flake_ref: string | null;
  attribute: string | null;
  output_path: string | null;
  /** Outputs of the last successful build (output name -> store path). */
  store_paths: Record<string, string>;
  drv_path: string | null;
  /** Successful builds so far. */
  builds: number;
  /** Failed builds so far. */
  failures: number;
  last_duration_ms: number | null;
  /** Cache and paths of the last successful `package.cache`. */
  cache_url: string | null;
  cached_paths: string[];
}

/** `package.cache` as the host sends it: the payload plus the package's address. */
export type PackageCacheEvent = Extract<PackageCommandEvent, { type: 'package.cache' }> & {
  flake_ref?: string;
  attribute?: string;
};

/** Every event the package machine accepts. */
export type PackageEvent =
  | Exclude<PackageCommandEvent, { type: 'package.cache' }>
  | PackageCacheEvent
  | PackageFactEvent
  | EffectSucceeded
  | EffectFailed;

type BuildStarted = Extract<PackageFactEvent, { type: 'package.build_started' }>;
type Kind<K extends EffectRequest['kind']> = Extract<EffectRequest, { kind: K }>;

/**
 * Applies a fact: the changed fields of the context, merged by `assign` (all flat or
 * replaced wholesale, so no draft is needed). Pure, and the same for live processing and replay.
 */
function evolve(c: PackageContext, fact: PackageFactEvent): Partial<PackageContext> {
  const version = c.version + 1;
  switch (fact.type) {
    case 'package.build_started': {
      const effect: Kind<'package.build'> = { kind: 'package.build', flake_ref: fact.flake_ref, attribute: fact.attribute };
      if (fact.output_path !== undefined) effect.output_path = fact.output_path;
      return {
        version,
        // The one fact that leaves the aggregate waiting: replay restores the wait too.
        pending_effect: effect,
        flake_ref: fact.flake_ref,
        attribute: fact.attribute,
        output_path: fact.output_path ?? null,
      };
    }
    case 'package.built':
      return {
        version,
        pending_effect: null,
        store_paths: fact.store_paths,
        drv_path: fact.drv_path,
        last_duration_ms: fact.duration_ms,
        builds: c.builds + 1,
      };
    case 'package.build_failed': {
      const next: Partial<PackageContext> = { version, pending_effect: null, failures: c.failures + 1 };
      if (fact.duration_ms !== undefined) next.last_duration_ms = fact.duration_ms;
      return next;
    }
    case 'package.cached':
      return { version, pending_effect: null, cache_url: fact.cache_url, cached_paths: fact.paths };
    case 'package.cache_failed':
      return { version, pending_effect: null };
  }
}

/** The fact a successful effect yields, or a synthetic failure when its result is malformed. */
function factFromSuccess(effect: EffectRequest, result: unknown): PackageFactEvent | EffectFailed {
  if (effect.kind === 'package.build') {
    const r = parseEffectResult(effect.kind, result);
    if (r) return { type: 'package.built', store_paths: r.store_paths, drv_path: r.drv_path, duration_ms: r.duration_ms };
  } else if (effect.kind === 'package.cache') {
    const r = parseEffectResult(effect.kind, result);
    if (r) return { type: 'package.cached', cache_url: r.cache_url, paths: r.paths };
  }
  return malformedResult(effect.kind);
}

/** The failure fact of a failed build or cache copy. */
function factFromFailure(effect: EffectRequest, event: EffectFailed): PackageFactEvent {
  if (effect.kind === 'package.cache') {
    const fact: PackageFactEvent = { type: 'package.cache_failed', message: event.message, ...diagnostics(event) };
    if (effect.cache_url !== undefined) fact.cache_url = effect.cache_url;
    return fact;
  }
  const fact: PackageFactEvent = { type: 'package.build_failed', message: event.message, ...diagnostics(event) };
  if (event.duration_ms !== undefined) fact.duration_ms = event.duration_ms;
  return fact;
}

/** The package's natural key (SPEC §3): `flake_ref#attribute`, once a build was asked for. */
export const packageNaturalKey = (context: PackageContext): string | undefined =>
  context.flake_ref && context.attribute ? `${context.flake_ref}#${context.attribute}` : undefined;

const label = (c: { flake_ref: string | null; attribute: string | null }, fallback: string): string =>
  c.flake_ref !== null && c.attribute !== null ? `${c.flake_ref}#${c.attribute}` : fallback;

/**
 * The package aggregate machine. Input `{ aggregate_id }`; signals via `emit` only.
 */
export const packageMachine = setup({
  types: {
    context: {} as PackageContext,
    events: {} as PackageEvent,
    input: {} as AggregateInput,
    emitted: {} as MachineSignal,
  },
  actions: {
    /** Applies the current fact event to the context. */
    apply: assign(({ context, event }) => evolve(context, event as PackageFactEvent)),
    /** Reports the fact just applied; its sequence is the new version. */
    report: emit(({ context, event }) => factRecorded(event, context.version)),
    /** Asks the host to run the build that `package.build_started` recorded. */
    requestBuild: emit(({ context }) => ({
      type: 'effect.requested' as const,
      effect: context.pending_effect as EffectRequest,
    })),
    /** Records the start of a build, as a fact (raised, so replay applies it the same way). */
    startBuild: raise(({ event }) => {
      const e = event as Extract<PackageEvent, { type: 'package.build' }>;
      const fact: BuildStarted = { type: 'package.build_started', flake_ref: e.flake_ref, attribute: e.attribute };
      if (e.output_path !== undefined) fact.output_path = e.output_path;
      return fact;
    }),
    /** Waits for a cache copy: remembers it and asks the host to run it. */
    requestCache: enqueueActions(({ context, event, enqueue }) => {
      const effect: Kind<'package.cache'> = {
        kind: 'package.cache',
        flake_ref: context.flake_ref ?? '',
        attribute: context.attribute ?? '',
        store_paths: Object.values(context.store_paths),
      };
      if (event.type === 'package.cache' && event.cache_url !== undefined) effect.cache_url = event.cache_url;
      enqueue.assign({ pending_effect: effect });
      enqueue.emit({ type: 'effect.requested', effect });
    }),
    joined: emit({ type: 'command.joined' }),
    reject: emit((_, signal: CommandRejected) => signal),
    /** Turns an outcome into its fact (raised, so it is applied like a replayed one). */
    settle: enqueueActions(({ context, event, enqueue }) => {
      const effect = context.pending_effect;
      if (effect === null) return;
      if (event.type === 'effect.succeeded') enqueue.raise(factFromSuccess(effect, event.result));
      else if (event.type === 'effect.failed') enqueue.raise(factFromFailure(effect, event));
    }),
  },
  guards: {
    /** The outcome is for the effect this aggregate waits for. */
    awaited: ({ context, event }) =>
      (event.type === 'effect.succeeded' || event.type === 'effect.failed') &&
      event.kind === context.pending_effect?.kind,
  },
}).createMachine({
  id: 'package',
  context: ({ input }) => ({
    aggregate_id: input.aggregate_id,
    version: 0,
    pending_effect: null,
    flake_ref: null,
    attribute: null,
    output_path: null,
    store_paths: {},
    drv_path: null,
    builds: 0,
    failures: 0,
    last_duration_ms: null,
    cache_url: null,
    cached_paths: [],
  }),
  initial: 'none',
  states: {
    none: {
      on: {
        'package.build': { actions: 'startBuild' },
        'package.cache': {
          actions: {
            type: 'reject',
            params: ({ context, event }) =>
              rejected(
                'not_found',
                `package ${label({ flake_ref: event.flake_ref ?? null, attribute: event.attribute ?? null }, context.aggregate_id)} has not been built; build it with package.build first`,
              ),
          },
        },
        'package.build_started': { target: 'building', actions: ['apply', 'report', 'requestBuild'] },
      },
    },
    building: {
      on: {
        // One build per package at a time: a second request waits for the running one.
        'package.build': { actions: 'joined' },
        'effect.succeeded': { guard: 'awaited', actions: 'settle' },
        'effect.failed': { guard: 'awaited', actions: 'settle' },
        'package.built': { target: 'built', actions: ['apply', 'report'] },
        'package.build_failed': { target: 'failed', actions: ['apply', 'report'] },
      },
    },
    built: {
      on: {
        'package.build': { actions: 'startBuild' },
        'package.cache': { target: 'caching', actions: 'requestCache' },
        'package.build_started': { target: 'building', actions: ['apply', 'report', 'requestBuild'] },
        // Replay: facts recorded by `caching`.
        'package.cached': { target: 'cached', actions: ['apply', 'report'] },
        'package.cache_failed': { actions: ['apply', 'report'] },
      },
    },
    failed: {
      on: {
        'package.build': { actions: 'startBuild' },
        'package.build_started': { target: 'building', actions: ['apply', 'report', 'requestBuild'] },
      },
    },
    caching: {
      on: {
        'effect.succeeded': { guard: 'awaited', actions: 'settle' },
        'effect.failed': { guard: 'awaited', actions: 'settle' },
        'package.cached': { target: 'cached', actions: ['apply', 'report'] },
        'package.cache_failed': { target: 'built', actions: ['apply', 'report'] },
      },
    },
    cached: {
      on: {
        'package.build': { actions: 'startBuild' },
        'package.cache': { target: 'caching', actions: 'requestCache' },
        'package.build_started': { target: 'building', actions: ['apply', 'report', 'requestBuild'] },
        // Replay: facts recorded by `caching`.
        'package.cached': { actions: ['apply', 'report'] },
        'package.cache_failed': { target: 'built', actions: ['apply', 'report'] },
      },
    },
  },
});
