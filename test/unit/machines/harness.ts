/**
 * Shared test harness for the five aggregate machines: pure stepping with the emitted
 * signals, a live actor that collects `actor.on('*')`, replay of recorded facts into a
 * fresh actor, simulated effect outcomes, and a generic contract (unhandled commands in
 * every state, a graph walk reaching every state, a replay-equivalence property, and the
 * discipline of scheduled effects: emitted only after the facts they render, and rendering a
 * workspace that matches the facts).
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { createActor, initialTransition, transition, type AnyMachineSnapshot } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { registry, type AggregateKind } from '../../../machines/index.js';
import type {
  AggregateMachine,
  EffectFailed,
  EffectKind,
  EffectRequest,
  EffectSucceeded,
  FactRecorded,
  MachineSignal,
} from '../../../machines/index.js';

/** The aggregate id every test uses. */
export const ID = '6f1d2c3b-4a59-5e6f-8a7b-9c0d1e2f3a4b';

type Snap = AnyMachineSnapshot;

/** Any machine event: an effect outcome, or a type and its fields. */
export type AnyEvent = EffectSucceeded | EffectFailed | { type: string; [field: string]: unknown };
type EventObject = AnyEvent;

/** The signals a pure transition would emit, in order. */
export function signalsOf(actions: ReadonlyArray<{ type: string; params?: unknown }>): MachineSignal[] {
  return actions
    .filter((a) => a.type === 'xstate.emit')
    .map((a) => (a.params as { event: MachineSignal }).event);
}

/** The initial snapshot of a machine for aggregate {@link ID}. */
export function initial(machine: AggregateMachine): Snap {
  const [snapshot] = initialTransition(machine, { aggregate_id: ID });
  return snapshot as Snap;
}

/** One pure step: the next snapshot and the signals it emits. */
export function step(machine: AggregateMachine, snapshot: Snap, event: EventObject): [Snap, MachineSignal[]] {
  const [next, actions] = transition(machine, snapshot as never, event as never);
  return [next as Snap, signalsOf(actions)];
}

/** Folds events from the initial snapshot (pure); returns the last snapshot and every signal. */
export function run(machine: AggregateMachine, events: readonly EventObject[], from?: Snap): [Snap, MachineSignal[]] {
  let snapshot = from ?? initial(machine);
  const all: MachineSignal[] = [];
  for (const e of events) {
    const [next, signals] = step(machine, snapshot, e);
    snapshot = next;
    all.push(...signals);
  }
  return [snapshot, all];
}

/** A started actor that records every signal it emits, as the host does. */
export function live(machine: AggregateMachine) {
  const actor = createActor(machine, { input: { aggregate_id: ID } });
  const signals: MachineSignal[] = [];
  const errors: unknown[] = [];
  actor.on('*', (s) => signals.push(s));
  actor.subscribe({ error: (e) => errors.push(e) });
  actor.start();
  return {
    actor,
    signals,
    errors,
    /** Sends one event; returns the signals it produced. */
    send(event: EventObject): MachineSignal[] {
      const before = signals.length;
      actor.send(event);
      return signals.slice(before);
    },
    snapshot: (): Snap => actor.getSnapshot() as Snap,
  };
}

/** Facts as the host stores and replays them: `{ type: name, ...data }`, through JSON. */
export function factsOf(signals: readonly MachineSignal[]): EventObject[] {
  return signals
    .filter((s): s is FactRecorded => s.type === 'fact.recorded')
    .map((s) => ({ type: s.name, ...(JSON.parse(JSON.stringify(s.data)) as Record<string, unknown>) }));
}

/**
 * Rebuilds an actor from facts, as the host's replay does. The host ignores the signals of
 * a replay; still, a replayed fact reports itself with its sequence and never schedules
 * work nor rejects (a durable waiting fact, `package.build_started`, may request its effect
 * again: the host resumes it from `pending_effect`).
 */
export function replay(machine: AggregateMachine, facts: readonly EventObject[]): Snap {
  const actor = createActor(machine, { input: { aggregate_id: ID } });
  const signals: MachineSignal[] = [];
  actor.on('*', (s) => signals.push(s));
  actor.start();
  for (const f of facts) actor.send(f);
  const snapshot = actor.getSnapshot() as Snap;
  expect(snapshot.status).toBe('active');
  expect(
    signals.filter((s) => s.type === 'effect.scheduled' || s.type === 'command.rejected' || s.type === 'command.joined'),
    'a replayed fact schedules nothing',
  ).toEqual([]);
  expect(signals.filter((s) => s.type === 'fact.recorded').map((s) => s.sequence)).toEqual(facts.map((_, i) => i + 1));
  return snapshot;
}

/** Asserts that every recorded fact is in the registry and its data matches the fact's schema. */
export function expectFactsValid(signals: readonly MachineSignal[]): void {
  for (const s of signals) {
    if (s.type !== 'fact.recorded') continue;
    const info = registry[s.name.split('.')[0] as AggregateKind].facts[s.name];
    expect(info, `${s.name} is in the registry`).toBeDefined();
    const parsed = info?.schema.safeParse(s.data);
    expect(parsed?.success, `${s.name} data matches its schema: ${JSON.stringify(parsed?.error?.issues)}`).toBe(true);
    expect(parsed?.data).toEqual(s.data);
  }
}

/** Asserts that replaying the recorded facts gives the live state and context. */
export function expectReplayEquivalent(machine: AggregateMachine, liveSnapshot: Snap, signals: readonly MachineSignal[]): void {
  expectFactsValid(signals);
  const facts = factsOf(signals);
  const rebuilt = replay(machine, facts);
  expect(rebuilt.value).toEqual(liveSnapshot.value);
  expect(rebuilt.context).toEqual(liveSnapshot.context);
  expect((liveSnapshot.context as { version: number }).version).toBe(facts.length);
}

/* ------------------------------------------------------------------------------------- */
/* Simulated effect outcomes                                                             */
/* ------------------------------------------------------------------------------------- */

const locked = (name: string) => ({
  url: `github:example/${name}`,
  locked_url: `github:example/${name}/0123456789abcdef0123456789abcdef01234567`,
  rev: '0123456789abcdef0123456789abcdef01234567',
  nar_hash: 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
  last_modified: 1_700_000_000,
});

/** A plausible successful result for an effect. */
export function resultFor(effect: EffectRequest): Record<string, unknown> {
  switch (effect.kind) {
    case 'flake.write':
      return { files: ['flake.nix'] };
    case 'flake.add_input':
      return { locked: locked(effect.name) };
    case 'flake.remove_input':
      return {};
    case 'flake.update':
      return { locked: Object.fromEntries((effect.inputs ?? ['nixpkgs']).map((n) => [n, locked(n)])) };
    case 'flake.check':
      return { duration_ms: 1200 };
    case 'package.build':
      return {
        store_paths: { out: '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello' },
        drv_path: '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-hello.drv',
        duration_ms: 900,
      };
    case 'package.cache':
      return { cache_url: effect.cache_url ?? 'file:///workspace/.cache', paths: effect.store_paths };
    case 'module.write':
      return { file: `modules/${effect.name}.nix` };
    case 'overlay.write':
      return { file: `overlays/${effect.name}.nix` };
    case 'config.write':
      return { file: `hosts/${effect.name}/configuration.nix` };
    case 'module.delete':
      return { file: `modules/${effect.name}.nix` };
    case 'overlay.delete':
      return { file: `overlays/${effect.name}.nix` };
    case 'config.activate':
    case 'config.rollback':
      return { executed: false, reason: 'this host is not NixOS' };
  }
}

/** The host's report that the effect succeeded. */
export function succeed(effect: EffectRequest, result: Record<string, unknown> = resultFor(effect)): EffectSucceeded {
  return { type: 'effect.succeeded', kind: effect.kind, result };
}

/** The host's report that the effect failed (nix exited 1). */
export function fail(effect: EffectRequest, message = 'nix exited with code 1'): EffectFailed {
  return { type: 'effect.failed', kind: effect.kind, code: 'nix_failed', message, exit_code: 1, log_tail: ['error: boom'] };
}

/** The pending effect of a snapshot (throws when there is none, which is a test bug). */
export function pendingOf(snapshot: Snap): EffectRequest {
  const effect = (snapshot.context as { pending_effect: EffectRequest | null }).pending_effect;
  if (effect === null) throw new Error(`no pending effect in state ${JSON.stringify(snapshot.value)}`);
  return effect;
}

/* ------------------------------------------------------------------------------------- */
/* The generic contract                                                                  */
/* ------------------------------------------------------------------------------------- */

/**
 * A model of the workspace files a fact-first machine renders with its scheduled effects,
 * so the contract can check that the files follow the facts.
 */
export interface Workspace {
  /** The effect kinds the machine schedules. */
  kinds: readonly EffectKind[];
  /** Applies one scheduled effect to the files (workspace-relative path -> content). */
  render: (files: Map<string, unknown>, effect: EffectRequest) => void;
  /** The files the aggregate's facts say exist, from its context. */
  expected: (context: Record<string, unknown>) => Record<string, unknown>;
  /** The file a requested (awaited) effect needs to exist, if any. */
  requires?: (effect: EffectRequest) => string | undefined;
}

/** What the contract needs to know about one machine. */
export interface MachineSpec {
  machine: AggregateMachine;
  /** Every state of the machine. */
  states: readonly string[];
  /** States in which the aggregate waits for an effect (pending_effect is set). */
  pending: readonly string[];
  /**
   * Pending states no fact leads into: they are not durable, so a rebuilt aggregate is in
   * the resting state before them (the command in flight was never answered).
   */
  transient: readonly string[];
  /** The command event types (`<kind>.<action>`). */
  commandTypes: readonly string[];
  /** One sample per command and fact type (at least one per event type). */
  samples: readonly EventObject[];
  /** Event types (commands and facts) each state accepts; everything else must be unhandled. */
  accepts: Readonly<Record<string, readonly string[]>>;
  /** Abstraction of a snapshot for the graph walk (keeps the state space finite). */
  abstract: (snapshot: Snap) => string;
  /** Commands the random property draws from. */
  commands: fc.Arbitrary<EventObject>;
  /** For a machine that schedules effects: the workspace they render. None may be scheduled without it. */
  workspace?: Workspace;
}

/**
 * Follows one live actor's signals, event by event: checks how scheduled effects go with
 * the rest, renders them into a model workspace and compares it with the facts.
 */
export function scheduleObserver(spec: MachineSpec) {
  const files = new Map<string, unknown>();
  const kinds: readonly string[] = spec.workspace?.kinds ?? [];
  return {
    files,
    /** The signals one event produced, and the snapshot after it. */
    observe(signals: readonly MachineSignal[], after: Snap): void {
      const scheduled = signals.filter((s) => s.type === 'effect.scheduled');
      if (scheduled.length > 0) {
        const facts = signals.filter((s) => s.type === 'fact.recorded').length;
        expect(facts, 'an effect is scheduled only with the facts it renders').toBeGreaterThan(0);
        expect(
          signals.findIndex((s) => s.type === 'effect.scheduled'),
          'scheduled effects follow the facts they render',
        ).toBe(facts);
        expect(
          signals.filter((s) => s.type === 'command.rejected' || s.type === 'effect.requested' || s.type === 'command.joined'),
          'a fact-first command neither waits nor is rejected',
        ).toEqual([]);
        expect((after.context as { pending_effect: unknown }).pending_effect, 'a scheduled effect is not awaited').toBeNull();
      }
      for (const s of signals) {
        if (s.type === 'effect.scheduled') {
          expect(kinds, `${s.effect.kind} is a kind this machine schedules`).toContain(s.effect.kind);
          spec.workspace?.render(files, s.effect);
        } else if (s.type === 'effect.requested') {
          // The host runs an aggregate's effects in order: the writes scheduled before have run.
          const needed = spec.workspace?.requires?.(s.effect);
          if (needed !== undefined) expect([...files.keys()], `${s.effect.kind} finds its file`).toContain(needed);
        }
      }
      if (spec.workspace) {
        expect(Object.fromEntries(files), 'the rendered workspace follows the facts').toEqual(
          spec.workspace.expected(after.context as Record<string, unknown>),
        );
      }
    },
  };
}

type Move = EventObject | 'succeed' | 'fail' | 'malformed' | 'stray';

function resolve(move: Move, snapshot: Snap): EventObject {
  const effect = (snapshot.context as { pending_effect: EffectRequest | null }).pending_effect;
  const any: EffectRequest = effect ?? { kind: 'module.delete', name: 'stray' };
  switch (move) {
    case 'succeed':
      return succeed(any);
    case 'fail':
      return fail(any);
    case 'malformed':
      return succeed(any, { unexpected: true });
    case 'stray':
      // An outcome for an effect this aggregate does not wait for.
      return succeed(effect?.kind === 'config.rollback' ? { kind: 'module.delete', name: 'x' } : { kind: 'config.rollback', name: 'x', from_generation: 2, to_generation: 1 });
    default:
      return move;
  }
}

/** The events the graph walk tries in a snapshot: every command sample and both outcomes. */
function walkEvents(spec: MachineSpec) {
  const commands = spec.samples.filter((e) => !isFact(spec, e.type));
  return (snapshot: Snap): EventObject[] => {
    const effect = (snapshot.context as { pending_effect: EffectRequest | null }).pending_effect;
    return effect === null ? commands : [...commands, succeed(effect), fail(effect)];
  };
}

function isFact(spec: MachineSpec, type: string): boolean {
  return !spec.commandTypes.includes(type);
}

/** Shortest paths to every abstract state, keyed by the state value. */
export function walk(spec: MachineSpec) {
  const paths = getShortestPaths(spec.machine, {
    input: { aggregate_id: ID },
    events: walkEvents(spec) as never,
    serializeState: (s) => spec.abstract(s as Snap),
    limit: 10_000,
  });
  const byState = new Map<string, { state: Snap; events: EventObject[] }>();
  for (const p of paths) {
    const value = String(p.state.value);
    const prev = byState.get(value);
    const events = p.steps.map((s) => s.event as EventObject);
    if (!prev || prev.events.length > events.length) byState.set(value, { state: p.state as Snap, events });
  }
  return { paths, byState };
}

/**
 * Registers the contract tests every aggregate machine must pass.
 */
export function contract(spec: MachineSpec): void {
  const { machine } = spec;
  let walked: ReturnType<typeof walk> | undefined;
  const walkOnce = () => (walked ??= walk(spec));

  it('reaches every state in a bounded graph walk', () => {
    const { byState } = walkOnce();
    expect([...byState.keys()].sort()).toEqual([...spec.states].sort());
    expect(Object.keys(machine.root.states).sort()).toEqual([...spec.states].sort());
  });

  it('replays the facts of every walked path into the same state and context', () => {
    const { paths } = walkOnce();
    expect(paths.length).toBeGreaterThan(spec.states.length - 1);
    const scheduledKinds = new Set<string>();
    for (const p of paths) {
      const actor = live(machine);
      const workspace = scheduleObserver(spec);
      let durable = actor.snapshot();
      for (const s of p.steps) {
        workspace.observe(actor.send(s.event as EventObject), actor.snapshot());
        if (!spec.transient.includes(String(actor.snapshot().value))) durable = actor.snapshot();
      }
      expect(actor.snapshot().value).toEqual(p.state.value);
      expectReplayEquivalent(machine, durable, actor.signals);
      for (const s of actor.signals) if (s.type === 'effect.scheduled') scheduledKinds.add(s.effect.kind);
    }
    // Every effect kind the machine declares is scheduled on some path (and no other).
    expect([...scheduledKinds].sort()).toEqual([...(spec.workspace?.kinds ?? [])].sort());
  });

  it('leaves every command and fact that a state does not accept unhandled', () => {
    const { byState } = walkOnce();
    let checked = 0;
    for (const [state, { state: snapshot }] of byState) {
      const accepted = spec.accepts[state];
      expect(accepted, `accepts table lists ${state}`).toBeDefined();
      for (const event of spec.samples) {
        const expected = accepted?.includes(event.type) ?? false;
        expect(snapshot.can(event as never), `${state} accepts ${event.type}`).toBe(expected);
        if (expected) continue;
        const [next, signals] = step(machine, snapshot, event);
        expect(next.value, `${state} on ${event.type}`).toEqual(snapshot.value);
        expect(next.context).toEqual(snapshot.context);
        expect(signals).toEqual([]);
        checked += 1;
      }
      // An outcome of an effect the aggregate does not wait for is unhandled too.
      const stray = resolve('stray', snapshot);
      expect(snapshot.can(stray as never), `${state} ignores a stray outcome`).toBe(false);
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('sets pending_effect exactly in the waiting states', () => {
    for (const [state, { state: snapshot }] of walkOnce().byState) {
      const pending = (snapshot.context as { pending_effect: unknown }).pending_effect;
      expect(pending !== null, state).toBe(spec.pending.includes(state));
    }
  });

  it('keeps replay equivalent to live processing over random command and outcome sequences', () => {
    const move: fc.Arbitrary<Move> = fc.oneof(
      { weight: 4, arbitrary: spec.commands },
      { weight: 3, arbitrary: fc.constant('succeed' as const) },
      { weight: 2, arbitrary: fc.constant('fail' as const) },
      { weight: 1, arbitrary: fc.constantFrom('malformed' as const, 'stray' as const) },
    );
    fc.assert(
      fc.property(fc.array(move, { maxLength: 40 }), (moves) => {
        const actor = live(machine);
        const workspace = scheduleObserver(spec);
        let durable = actor.snapshot();
        for (const m of moves) {
          const before = actor.snapshot();
          const event = resolve(m, before);
          const handled = before.can(event);
          const signals = actor.send(event);
          const after = actor.snapshot();
          workspace.observe(signals, after);
          if (!handled) {
            expect(signals).toEqual([]);
            expect(after.value).toEqual(before.value);
            expect(after.context).toEqual(before.context);
          }
          // Facts carry consecutive sequences.
          let version = (before.context as { version: number }).version;
          for (const s of signals) if (s.type === 'fact.recorded') expect(s.sequence).toBe(++version);
          expect((after.context as { version: number }).version).toBe(version);
          const pending = (after.context as { pending_effect: unknown }).pending_effect;
          expect(pending !== null).toBe(spec.pending.includes(String(after.value)));
          if (!spec.transient.includes(String(after.value))) durable = after;
        }
        expect(actor.errors).toEqual([]);
        expectReplayEquivalent(machine, durable, actor.signals);
      }),
      { numRuns: 300 },
    );
  });
}
