/**
 * The configuration aggregate: one NixOS host configuration,
 * `hosts/<name>/configuration.nix`, and its activations (generations).
 *
 * none ─create→ created; activate → activating → activated (switch) | boot_ready (boot) |
 * testing (test), from any of the four resting states; update keeps the resting state (the
 * new configuration needs a new activation); activated ─rollback→ rolling_back → activated.
 * A failed activation returns to the previous resting state, which is derived from
 * `last_activation_type`, so replay and live processing agree.
 *
 * Design decision (machine version 2): create and update are fact-first. The performance
 * targets (SPEC §8: ≥ 10,000 commands/s, p50 ≤ 0.5 ms round trip) cannot be met if a
 * command waits for a file write and a `nix-instantiate --parse` subprocess, so the fact is
 * recorded at once (stored and replied without waiting) and the machine emits
 * `effect.scheduled` with `config.write`, which the runtime runs after the facts are stored
 * and feeds no outcome back: the file is a projection of the facts, so `file` is the
 * deterministic path `hosts/<name>/configuration.nix`. Activate and rollback stay
 * effect-first (`effect.requested`, their reply holds the outcome): the runtime runs an
 * aggregate's effects in order, so they run after the scheduled writes before them and the
 * host files exist. Version 1 waited in `writing` and `updating`; a snapshot of it may be in
 * one of them, hence the new version.
 */
import { assign, emit, enqueueActions, setup } from 'xstate';
import {
  diagnostics,
  factRecorded,
  malformedResult,
  rejected,
  rejectedByEffect,
  scheduled,
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
import type { ConfigCommandEvent, ConfigFactEvent, Configuration } from './config.events.js';

/** Bumped when the machine's states or context change shape (snapshots are keyed by it). */
export const CONFIG_MACHINE_VERSION = 2;

/** `switch`, `boot` or `test`. */
export type ActivationKind = 'switch' | 'boot' | 'test';

/** One successful activation. */
export interface Generation {
  generation: number;
  activation_type: ActivationKind;
}

/** The configuration aggregate's context. */
export interface ConfigContext extends AggregateContext {
  name: string | null;
  configuration: Configuration | null;
  file: string | null;
  /** Successful activations, oldest first. */
  generations: Generation[];
  /** The generation last switched to (or rolled back to); `null` before the first switch. */
  current_generation: number | null;
  /** The highest generation so far; the next activation gets `last_generation + 1`. */
  last_generation: number;
  /**
   * Type of the activation that decided the resting state (`switch` after a rollback);
   * `null` while never activated. created | activated | boot_ready | testing follow from it.
   */
  last_activation_type: ActivationKind | null;
}

/** Every event the config machine accepts. */
export type ConfigEvent = ConfigCommandEvent | ConfigFactEvent | EffectSucceeded | EffectFailed;

type Kind<K extends EffectRequest['kind']> = Extract<EffectRequest, { kind: K }>;

/** The configuration's natural key (SPEC §3): its name, once created. */
export const configNaturalKey = (context: ConfigContext): string | undefined => context.name ?? undefined;

/** The workspace-relative file of host configuration `name`. */
export const configFile = (name: string): string => `hosts/${name}/configuration.nix`;

/** A fact-first decision: the fact to record and the write that renders it into the workspace. */
interface Decision {
  fact: ConfigFactEvent;
  effect: Kind<'config.write'>;
}

/** Create or update: the fact at once, the file afterwards. */
const write = (type: 'config.created' | 'config.updated', event: { name: string; configuration: Configuration }): Decision => ({
  fact: { type, name: event.name, configuration: event.configuration, file: configFile(event.name) },
  effect: { kind: 'config.write', name: event.name, configuration: event.configuration },
});

/**
 * Applies a fact: the changed fields of the context, merged by `assign`. Pure, and the
 * same for live processing and replay.
 */
function evolve(c: ConfigContext, fact: ConfigFactEvent): Partial<ConfigContext> {
  const version = c.version + 1;
  switch (fact.type) {
    case 'config.created':
    case 'config.updated':
      return { version, name: fact.name, configuration: fact.configuration, file: fact.file };
    case 'config.activated': {
      const next: Partial<ConfigContext> = {
        version,
        pending_effect: null,
        // A plain append: cheaper than a draft for a list that only grows.
        generations: [...c.generations, { generation: fact.generation, activation_type: fact.activation_type }],
        last_generation: Math.max(c.last_generation, fact.generation),
        last_activation_type: fact.activation_type,
      };
      if (fact.activation_type === 'switch') next.current_generation = fact.generation;
      return next;
    }
    case 'config.activation_failed':
      return { version, pending_effect: null };
    case 'config.rolled_back':
      return { version, pending_effect: null, current_generation: fact.to_generation, last_activation_type: 'switch' };
  }
}

/** The fact a successful activation or rollback yields, or a synthetic failure when its result is malformed. */
function factFromSuccess(effect: EffectRequest, result: unknown): ConfigFactEvent | EffectFailed {
  switch (effect.kind) {
    case 'config.activate': {
      const r = parseEffectResult(effect.kind, result);
      if (!r) break;
      const fact: ConfigFactEvent = {
        type: 'config.activated',
        activation_type: effect.activation_type,
        generation: effect.generation,
        executed: r.executed,
      };
      if (r.reason !== undefined) fact.reason = r.reason;
      return fact;
    }
    case 'config.rollback': {
      const r = parseEffectResult(effect.kind, result);
      if (!r) break;
      const fact: ConfigFactEvent = {
        type: 'config.rolled_back',
        from_generation: effect.from_generation,
        to_generation: effect.to_generation,
        executed: r.executed,
      };
      if (r.reason !== undefined) fact.reason = r.reason;
      return fact;
    }
    default:
      break;
  }
  return malformedResult(effect.kind);
}

/** The generation a rollback goes to: the one asked for, else the switch before the current one. */
function rollbackTarget(context: ConfigContext, asked: number | undefined): number | undefined {
  if (asked !== undefined) return asked;
  const current = context.current_generation ?? 0;
  let target: number | undefined;
  for (const g of context.generations) {
    if (g.activation_type === 'switch' && g.generation < current) target = g.generation;
  }
  return target;
}

function canRollBackTo(context: ConfigContext, target: number | undefined): target is number {
  return (
    target !== undefined &&
    target < (context.current_generation ?? 0) &&
    context.generations.some((g) => g.generation === target)
  );
}

const title = (context: ConfigContext, name: string): string => `configuration '${context.name ?? name}'`;

const missing = (event: { name: string }): CommandRejected =>
  rejected('not_found', `configuration '${event.name}' does not exist; create it with config.create first`);

/** The actions that apply and report a fact. */
const record = (): ['apply', 'report'] => ['apply', 'report'];

/** A fact returns to the resting state the aggregate was in, derived from its facts. */
const factToRest = () =>
  [
    { guard: 'neverActivated' as const, target: '#config.created', actions: record() },
    { guard: 'lastBoot' as const, target: '#config.boot_ready', actions: record() },
    { guard: 'lastTest' as const, target: '#config.testing', actions: record() },
    { target: '#config.activated', actions: record() },
  ];

/** `config.activated` leads to the state its activation type names. */
const byActivationType = [
  { guard: 'activatesBoot' as const, target: '#config.boot_ready', actions: record() },
  { guard: 'activatesTest' as const, target: '#config.testing', actions: record() },
  { target: '#config.activated', actions: record() },
];

const activate = {
  target: '#config.activating',
  actions: {
    type: 'request' as const,
    params: ({ context, event }: { context: ConfigContext; event: ConfigEvent }): Kind<'config.activate'> => ({
      kind: 'config.activate',
      name: context.name ?? '',
      activation_type: (event as Extract<ConfigEvent, { type: 'config.activate' }>).activation_type,
      generation: context.last_generation + 1,
    }),
  },
};

/** Fact-first: the resting state stays (the new configuration needs a new activation). */
const update = {
  actions: {
    type: 'decide' as const,
    params: ({ event }: { event: ConfigEvent }): Decision =>
      write('config.updated', event as Extract<ConfigEvent, { type: 'config.update' }>),
  },
};

const exists = {
  actions: {
    type: 'reject' as const,
    params: ({ context, event }: { context: ConfigContext; event: ConfigEvent }) =>
      rejected(
        'already_exists',
        `${title(context, (event as { name: string }).name)} already exists; change it with config.update`,
      ),
  },
};

/** Commands and replayed facts shared by the four resting states of a created configuration. */
const restingOn = {
  'config.create': exists,
  'config.update': update,
  'config.activate': activate,
  'config.updated': { actions: record() },
  'config.activated': byActivationType,
  'config.activation_failed': { actions: record() },
};

/**
 * The configuration aggregate machine. Input `{ aggregate_id }`; signals via `emit` only.
 */
export const configMachine = setup({
  types: {
    context: {} as ConfigContext,
    events: {} as ConfigEvent,
    input: {} as AggregateInput,
    emitted: {} as MachineSignal,
  },
  actions: {
    /** Applies the current (replayed or raised) fact event to the context. */
    apply: assign(({ context, event }) => evolve(context, event as ConfigFactEvent)),
    /** Reports the fact just applied; its sequence is the new version. */
    report: emit(({ context, event }) => factRecorded(event, context.version)),
    /** Waits for an effect: remembers it and asks the host to run it. */
    request: enqueueActions(({ enqueue }, effect: EffectRequest) => {
      enqueue.assign({ pending_effect: effect });
      enqueue.emit({ type: 'effect.requested', effect });
    }),
    /** Records a decided fact (applied as a replayed one would be), then schedules its file. */
    decide: enqueueActions(({ context, enqueue }, d: Decision) => {
      enqueue.assign(evolve(context, d.fact));
      enqueue.emit(factRecorded(d.fact, context.version + 1));
      enqueue.emit(scheduled(d.effect));
    }),
    reject: emit((_, signal: CommandRejected) => signal),
    /** Turns a successful outcome into its fact (raised, so it applies like a replayed one). */
    settle: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'effect.succeeded' || context.pending_effect === null) return;
      enqueue.raise(factFromSuccess(context.pending_effect, event.result));
    }),
    /** A failed activation is a fact. */
    recordFailure: enqueueActions(({ context, event, enqueue }) => {
      const effect = context.pending_effect;
      if (event.type !== 'effect.failed' || effect?.kind !== 'config.activate') return;
      enqueue.raise({
        type: 'config.activation_failed',
        activation_type: effect.activation_type,
        generation: effect.generation,
        message: event.message,
        ...diagnostics(event),
      });
    }),
    /** A failed rollback: reject the command, nothing changes. */
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
    neverActivated: ({ context }) => context.last_activation_type === null,
    lastBoot: ({ context }) => context.last_activation_type === 'boot',
    lastTest: ({ context }) => context.last_activation_type === 'test',
    activatesBoot: ({ event }) => event.type === 'config.activated' && event.activation_type === 'boot',
    activatesTest: ({ event }) => event.type === 'config.activated' && event.activation_type === 'test',
    rollbackInvalid: ({ context, event }) =>
      event.type === 'config.rollback' && !canRollBackTo(context, rollbackTarget(context, event.to_generation)),
  },
}).createMachine({
  id: 'config',
  context: ({ input }) => ({
    aggregate_id: input.aggregate_id,
    version: 0,
    pending_effect: null,
    name: null,
    configuration: null,
    file: null,
    generations: [],
    current_generation: null,
    last_generation: 0,
    last_activation_type: null,
  }),
  initial: 'none',
  states: {
    none: {
      on: {
        'config.create': { target: 'created', actions: { type: 'decide', params: ({ event }) => write('config.created', event) } },
        'config.update': { actions: { type: 'reject', params: ({ event }) => missing(event) } },
        'config.activate': { actions: { type: 'reject', params: ({ event }) => missing(event) } },
        'config.rollback': { actions: { type: 'reject', params: ({ event }) => missing(event) } },
        'config.created': { target: 'created', actions: ['apply', 'report'] },
      },
    },
    created: { on: restingOn },
    activated: {
      on: {
        ...restingOn,
        'config.rollback': [
          {
            guard: 'rollbackInvalid',
            actions: {
              type: 'reject',
              params: ({ context, event }) => {
                const target = rollbackTarget(context, event.to_generation);
                const earlier = context.generations
                  .filter((g) => g.generation < (context.current_generation ?? 0))
                  .map((g) => `${g.generation} (${g.activation_type})`);
                return rejected(
                  'not_found',
                  `${title(context, event.name)} cannot roll back to ${target === undefined ? 'an earlier switch generation: there is none' : `generation ${target}: it is not an earlier existing generation`}; current generation is ${context.current_generation ?? 'none'}, earlier generations: ${earlier.join(', ') || '(none)'}`,
                  { current_generation: context.current_generation, generations: context.generations.map((g) => g.generation) },
                );
              },
            },
          },
          {
            target: 'rolling_back',
            actions: {
              type: 'request',
              params: ({ context, event }): Kind<'config.rollback'> => ({
                kind: 'config.rollback',
                name: context.name ?? event.name,
                from_generation: context.current_generation ?? 0,
                to_generation: rollbackTarget(context, event.to_generation) ?? 0,
              }),
            },
          },
        ],
        // Replay: the fact recorded by `rolling_back`.
        'config.rolled_back': { actions: ['apply', 'report'] },
      },
    },
    boot_ready: { on: restingOn },
    testing: { on: restingOn },
    activating: {
      on: {
        'effect.succeeded': { guard: 'awaited', actions: 'settle' },
        'effect.failed': { guard: 'awaited', actions: 'recordFailure' },
        'config.activated': byActivationType,
        'config.activation_failed': factToRest(),
      },
    },
    rolling_back: {
      on: {
        'effect.succeeded': { guard: 'awaited', actions: 'settle' },
        'effect.failed': { guard: 'awaited', target: 'activated', actions: 'abandon' },
        'config.rolled_back': { target: 'activated', actions: ['apply', 'report'] },
      },
    },
  },
});
