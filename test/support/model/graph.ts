/**
 * Paths through the aggregate machines, from `xstate/graph`: the machine is walked with the
 * command samples as its events and the world's outcome as the only event of a waiting
 * state (plus, while a slow effect runs, the commands a client may send meanwhile), the
 * state space bounded by {@link abstractState}. A path is a list of step labels: a sample
 * label, or {@link OUTCOME} where the running effect finishes.
 */
import { getNextSnapshot } from 'xstate';
import { getAdjacencyMap, getShortestPaths, getSimplePaths } from 'xstate/graph';
import { registry, type AggregateKind, type EffectRequest } from '../../../machines/index.js';
import { abstractState, samples, wireCommand, type Address, type MachineEvent } from './catalogue.js';
import { hostFailure, hostRunsNixEnv, outcomeOf, type World } from './world.js';

/** The step at which the running effect's outcome (as the world decides it) arrives. */
export const OUTCOME = '⟨outcome⟩';
/** The step at which a NixOS host's failure (nixos-rebuild exits non-zero) arrives instead. */
export const FAILURE = '⟨host fails⟩';

export type PathLabels = readonly string[];

type Snap = { value: unknown; context: Record<string, unknown> };
type LabelledEvent = MachineEvent & { __label: string };

/**
 * True when the world's effect runs a process (nix, git), so a command sent right after the
 * one that started it reaches the aggregate before the outcome. Effects refused before any
 * process runs (forbidden paths) and activations on a host that is not NixOS finish at once:
 * the model never sends commands behind them. Nor behind the fake nixos-rebuild of a NixOS
 * host: it finishes in milliseconds, so whether a command sent behind it meets `activating`
 * would be a race.
 */
export function slowEffect(world: World, effect: EffectRequest): boolean {
  switch (effect.kind) {
    case 'flake.write':
      // An input named `self` fails in rendering, before any process runs.
      return !Object.values(effect.inputs).includes(world.urls.outside) && !Object.hasOwn(effect.inputs, 'self');
    case 'flake.add_input':
      return effect.url !== world.urls.outside;
    case 'flake.remove_input':
    case 'flake.update':
    case 'flake.check':
    case 'package.build':
      return true;
    case 'package.cache':
      return true;
    default:
      return false;
  }
}

/** The commands offered while an effect runs: the plain form of every action. */
function plainSamples(kind: AggregateKind): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const s of samples[kind]) {
    if (seen.has(s.action)) continue;
    seen.add(s.action);
    out.push(s.label);
  }
  return out;
}

/** The traversal options for one machine in one world. */
function traversal(kind: AggregateKind, address: Address, world: World) {
  const all = samples[kind].map((s) => s.label);
  const plain = plainSamples(kind);
  const event = (label: string): LabelledEvent => ({ ...wireCommand(address, label, world).event, __label: label });
  const machine = registry[kind].machine;
  // On a NixOS host, a command is not offered when it would run more than nixos-rebuild (a
  // rollback further back switches this machine's real system profile with nix-env).
  const allowed = (snap: Snap, e: LabelledEvent): boolean =>
    world.host !== 'nixos' ||
    !hostRunsNixEnv(
      world,
      (getNextSnapshot(machine, snap as never, e as never) as unknown as Snap).context['pending_effect'] as EffectRequest | null,
    );
  return {
    input: { aggregate_id: address.id },
    serializeState: (s: unknown) => abstractState(kind, s as Snap),
    serializeEvent: (e: unknown) => (e as LabelledEvent).__label,
    events: (s: unknown): LabelledEvent[] => {
      const snap = s as Snap;
      const effect = snap.context['pending_effect'] as EffectRequest | null;
      if (effect === null) return all.map(event).filter((e) => allowed(snap, e));
      const outcomes = [{ ...outcomeOf(world, effect, snap.context), __label: OUTCOME } as unknown as LabelledEvent];
      const failure = hostFailure(world, effect);
      if (failure) outcomes.push({ ...failure, __label: FAILURE });
      return slowEffect(world, effect) ? [...outcomes, ...plain.map(event)] : outcomes;
    },
    limit: 50_000,
  };
}

/** The labels of a path's steps (the first step of a path is the machine's init event, which has none). */
const labelsOf = (p: { steps: ReadonlyArray<{ event: unknown }> }): string[] =>
  p.steps.flatMap((s) => {
    const label = (s.event as Partial<LabelledEvent>).__label;
    return label === undefined ? [] : [label];
  });

/** The generated paths of one machine in one world. */
export interface MachinePaths {
  kind: AggregateKind;
  /** One shortest path to every abstract state. */
  shortest: PathLabels[];
  /** Simple paths (no abstract state twice), the shortest first, at most `simpleCap`. */
  simple: PathLabels[];
  /** Every edge of the abstract graph: a shortest path to its source plus the edge. */
  edges: PathLabels[];
  /**
   * Every edge path that ends in a host failure, followed by the same command again, which
   * succeeds. A failed activation leaves the abstract state as it was (the edge is a
   * self-loop), so no other path takes a step after one: these check that the aggregate —
   * live, or rebuilt from its events with the failure among them — goes on as the model.
   */
  retries: PathLabels[];
  /** Abstract states and edges found. */
  stats: { states: number; edges: number; simpleTotal: number };
}

/** Walks the machine of `kind` in `world`. */
export function machinePaths(kind: AggregateKind, address: Address, world: World, simpleCap: number): MachinePaths {
  const machine = registry[kind].machine;
  const options = traversal(kind, address, world);
  const shortestPaths = getShortestPaths(machine, options as never);
  const byState = new Map<string, string[]>();
  for (const p of shortestPaths) byState.set(options.serializeState(p.state), labelsOf(p));
  const adjacency = getAdjacencyMap(machine as never, options as never) as unknown as Record<
    string,
    { transitions: Record<string, unknown> }
  >;
  const edges: string[][] = [];
  let edgeCount = 0;
  for (const [stateKey, value] of Object.entries(adjacency)) {
    const prefix = byState.get(stateKey);
    if (!prefix) throw new Error(`graph: no shortest path to ${stateKey}`);
    for (const eventKey of Object.keys(value.transitions)) {
      edgeCount++;
      edges.push([...prefix, eventKey]);
    }
  }
  const retries = edges
    .filter((p) => p.at(-1) === FAILURE)
    .map((p) => {
      const command = p.at(-2);
      if (command === undefined || command.startsWith('⟨')) throw new Error(`graph: ${p.join(' → ')}: no command right before the failure`);
      return [...p, command, OUTCOME];
    });
  const simpleAll = getSimplePaths(machine, options as never).map(labelsOf);
  simpleAll.sort((a, b) => a.length - b.length || a.join('\u0000').localeCompare(b.join('\u0000')));
  return {
    kind,
    shortest: [...byState.values()],
    simple: simpleAll.slice(0, simpleCap),
    edges,
    retries,
    stats: { states: byState.size, edges: edgeCount, simpleTotal: simpleAll.length },
  };
}

/**
 * The paths to run: every edge path and retry, then the shortest and simple paths, without
 * duplicates and without a path that is a prefix of another one (the longer one checks the
 * same steps). Sorted for a stable order.
 */
export function pathsToRun(paths: MachinePaths): PathLabels[] {
  const all = [...paths.edges, ...paths.retries, ...paths.shortest, ...paths.simple].map((p) => [...p]);
  const keys = new Set(all.map((p) => p.join('\u0000')));
  const unique = [...keys].map((k) => (k === '' ? [] : k.split('\u0000')));
  const kept = unique.filter((p) => !unique.some((q) => q.length > p.length && p.every((l, i) => q[i] === l)));
  return kept.sort((a, b) => a.join('\u0000').localeCompare(b.join('\u0000')));
}
