/**
 * Coverage of the aggregate machines by the model suite: every state and every transition
 * (source state, event, guard, target) is enumerated from the machine definitions, and
 * every microstep the model actors take is recorded, tagged with where it was exercised:
 * `service` (the step was checked against the running service, or replays a history the
 * service stored) or `model` (the pure machines only, for outcomes the offline service
 * cannot produce).
 */
import type { AnyTransitionDefinition, InspectionEvent, Observer } from 'xstate';
import { aggregateKinds, registry, type AggregateKind } from '../../../machines/index.js';

/** Where a step was exercised; `none` for hypothetical runs that count nowhere (order searches). */
export type Exercised = 'service' | 'model' | 'none';

/** One transition of a machine, as the table names it. */
export interface TransitionInfo {
  kind: AggregateKind;
  /** `state · event [guard] → target`, unique per machine. */
  key: string;
  source: string;
  event: string;
}

interface Counts {
  service: number;
  model: number;
}

function guardName(t: AnyTransitionDefinition): string {
  const g = t.guard as unknown;
  if (g === undefined) return '';
  if (typeof g === 'string') return ` [${g}]`;
  if (typeof g === 'object' && g !== null && 'type' in g) return ` [${String(g.type)}]`;
  return ' [inline guard]';
}

/** The table key of a transition definition. */
export function transitionKey(t: AnyTransitionDefinition): string {
  const target = t.target?.map((n) => n.key).join(', ') ?? '(stays)';
  return `${t.source.key} · ${t.eventType}${guardName(t)} → ${target}`;
}

/** Every state and transition of every aggregate machine, from the definitions. */
export function machineInventory(): Record<AggregateKind, { states: string[]; transitions: TransitionInfo[] }> {
  const out = {} as Record<AggregateKind, { states: string[]; transitions: TransitionInfo[] }>;
  for (const kind of aggregateKinds) {
    const root = registry[kind].machine.root;
    const states = Object.keys(root.states);
    const transitions: TransitionInfo[] = [];
    for (const [state, node] of Object.entries(root.states)) {
      if (Object.keys(node.states).length > 0)
        throw new Error(`${kind}.${state} is a compound state: the coverage table walks flat machines only; extend it`);
      for (const [event, defs] of node.transitions) {
        for (const def of defs) transitions.push({ kind, key: transitionKey(def), source: state, event });
      }
    }
    const keys = new Set(transitions.map((t) => t.key));
    if (keys.size !== transitions.length) throw new Error(`${kind}: two transitions share a table key; make transitionKey() finer`);
    out[kind] = { states, transitions };
  }
  return out;
}

/**
 * Transitions the real service cannot be driven through offline, with the reason. They
 * must be covered by the pure model; the suite fails when one of them becomes reachable
 * over NATS without being taken off this list, or when the list names a transition that
 * no longer exists.
 */
export const MODEL_ONLY: Readonly<Record<string, string>> = (() => {
  const failedActivation =
    'needs a failing activation: the service runs nixos-rebuild only on a NixOS host (/etc/NIXOS, not configurable) with activation enabled, and records `executed: false` elsewhere';
  const out: Record<string, string> = {
    'config:activating · effect.failed [awaited] → (stays)': failedActivation,
    'config:rolling_back · effect.failed [awaited] → activated': failedActivation.replace('activation', 'rollback'),
  };
  for (const target of ['created', 'boot_ready', 'testing', 'activated']) {
    const guard = { created: ' [neverActivated]', boot_ready: ' [lastBoot]', testing: ' [lastTest]', activated: '' }[target];
    out[`config:activating · config.activation_failed${guard} → ${target}`] = failedActivation;
    out[`config:${target} · config.activation_failed → (stays)`] =
      `replays ConfigActivationFailed, which only ${failedActivation.replace('needs ', '')}`;
  }
  return out;
})();

/** Records what the model actors exercise. One per process (the model suite is one file). */
export class Coverage {
  readonly inventory = machineInventory();
  private readonly states = new Map<string, Counts>();
  private readonly transitions = new Map<string, Counts>();
  private readonly keys = new Map<AnyTransitionDefinition, string>();

  constructor() {
    for (const kind of aggregateKinds) {
      for (const s of this.inventory[kind].states) this.states.set(`${kind}:${s}`, { service: 0, model: 0 });
      for (const t of this.inventory[kind].transitions) this.transitions.set(`${kind}:${t.key}`, { service: 0, model: 0 });
      for (const node of Object.values(registry[kind].machine.root.states)) {
        for (const defs of node.transitions.values()) for (const def of defs) this.keys.set(def, `${kind}:${transitionKey(def)}`);
      }
    }
  }

  /** An inspection observer for one model actor of `kind`, counting as `where`. */
  observer(kind: AggregateKind, where: () => Exercised): Observer<InspectionEvent> {
    return {
      next: (e) => {
        if (e.type !== '@xstate.microstep') return;
        const w = where();
        if (w === 'none') return;
        for (const t of e._transitions) {
          const key = this.keys.get(t) ?? `${kind}:${transitionKey(t)}`;
          const counts = this.transitions.get(key);
          if (!counts) throw new Error(`a transition the inventory does not know: ${key}`);
          counts[w]++;
        }
        const value = (e.snapshot as { value?: unknown }).value;
        const state = this.states.get(`${kind}:${String(value)}`);
        if (state) state[w]++;
      },
    };
  }

  /** Counts the initial state of a new actor. */
  started(kind: AggregateKind, state: string, where: Exercised): void {
    if (where === 'none') return;
    const s = this.states.get(`${kind}:${state}`);
    if (s) s[where]++;
  }

  /** The gaps: states or transitions nothing exercised, service gaps outside {@link MODEL_ONLY}, stale entries. */
  gaps(): string[] {
    const out: string[] = [];
    for (const [key, c] of this.states) if (c.service === 0) out.push(`state ${key} was never reached against the service`);
    for (const [key, c] of this.transitions) {
      const modelOnly = MODEL_ONLY[key];
      if (c.service === 0 && c.model === 0)
        out.push(`transition ${key} is not covered at all: add a command sample, a world outcome or a path that takes it`);
      else if (c.service === 0 && modelOnly === undefined)
        out.push(
          `transition ${key} is covered by the pure model only: drive it through the service, or list it in MODEL_ONLY with the reason`,
        );
      else if (c.service > 0 && modelOnly !== undefined)
        out.push(`transition ${key} is listed in MODEL_ONLY but was exercised against the service: take it off the list`);
    }
    for (const key of Object.keys(MODEL_ONLY))
      if (!this.transitions.has(key)) out.push(`MODEL_ONLY names ${key}, which the machines no longer have`);
    return out;
  }

  /** The table, one block per machine: states, then transitions, with counts. */
  table(): string {
    const lines: string[] = [];
    for (const kind of aggregateKinds) {
      const { states, transitions } = this.inventory[kind];
      const covered = transitions.filter((t) => (this.transitions.get(`${kind}:${t.key}`)?.service ?? 0) > 0).length;
      const modelOnly = transitions.filter((t) => MODEL_ONLY[`${kind}:${t.key}`] !== undefined).length;
      lines.push(
        `${kind}: ${states.length} states, ${transitions.length} transitions — ${covered} exercised against the service, ${modelOnly} by the pure model only`,
      );
      const width = Math.max(...transitions.map((t) => t.key.length), ...states.map((s) => s.length + 6));
      lines.push(`  ${'state / transition'.padEnd(width)}  service    model`);
      for (const s of states) {
        const c = this.states.get(`${kind}:${s}`)!;
        lines.push(`  ${`state ${s}`.padEnd(width)}  ${String(c.service).padStart(7)}  ${String(c.model).padStart(7)}`);
      }
      for (const t of transitions) {
        const c = this.transitions.get(`${kind}:${t.key}`)!;
        const mark = MODEL_ONLY[`${kind}:${t.key}`] !== undefined ? '  (model only)' : '';
        lines.push(`  ${t.key.padEnd(width)}  ${String(c.service).padStart(7)}  ${String(c.model).padStart(7)}${mark}`);
      }
      lines.push('');
    }
    return lines.join('\n');
  }

  /** Totals, for the summary line. */
  totals(): { states: number; transitions: number; serviceTransitions: number; modelOnlyTransitions: number } {
    let serviceTransitions = 0;
    let modelOnlyTransitions = 0;
    for (const [key, c] of this.transitions) {
      if (c.service > 0) serviceTransitions++;
      else if (c.model > 0 && MODEL_ONLY[key] !== undefined) modelOnlyTransitions++;
    }
    return { states: this.states.size, transitions: this.transitions.size, serviceTransitions, modelOnlyTransitions };
  }
}

/** The coverage of this process's model suite. */
export const coverage = new Coverage();
