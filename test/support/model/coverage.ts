/**
 * Coverage of the aggregate machines by the model suite: every state and every transition
 * (source state, event, guard, target) is enumerated from the machine definitions, and
 * every microstep of a model actor whose steps are checked against the running service (or
 * that replays a history the service stored) is counted. The gate accepts nothing less than
 * every state and every transition exercised against the service.
 */
import type { AnyTransitionDefinition, InspectionEvent, Observer } from 'xstate';
import { aggregateKinds, registry, type AggregateKind } from '../../../machines/index.js';

/** Where a step was exercised: `service`, or `none` for hypothetical runs that count nowhere (order searches). */
export type Exercised = 'service' | 'none';

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

/** Records what the model actors exercise. One per process (the model suite is one file). */
export class Coverage {
  readonly inventory = machineInventory();
  private readonly states = new Map<string, Counts>();
  private readonly transitions = new Map<string, Counts>();
  private readonly keys = new Map<AnyTransitionDefinition, string>();

  constructor() {
    for (const kind of aggregateKinds) {
      for (const s of this.inventory[kind].states) this.states.set(`${kind}:${s}`, { service: 0 });
      for (const t of this.inventory[kind].transitions) this.transitions.set(`${kind}:${t.key}`, { service: 0 });
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

  /** The gaps: every state and every transition nothing exercised against the service. */
  gaps(): string[] {
    const out: string[] = [];
    for (const [key, c] of this.states) if (c.service === 0) out.push(`state ${key} was never reached against the service`);
    for (const [key, c] of this.transitions)
      if (c.service === 0)
        out.push(`transition ${key} was not exercised against the service: add a command sample, a world outcome or a path that takes it`);
    return out;
  }

  /** The table, one block per machine: states, then transitions, with how often each was exercised against the service. */
  table(): string {
    const lines: string[] = [];
    for (const kind of aggregateKinds) {
      const { states, transitions } = this.inventory[kind];
      const reached = states.filter((s) => (this.states.get(`${kind}:${s}`)?.service ?? 0) > 0).length;
      const covered = transitions.filter((t) => (this.transitions.get(`${kind}:${t.key}`)?.service ?? 0) > 0).length;
      lines.push(`${kind}: ${reached}/${states.length} states, ${covered}/${transitions.length} transitions exercised against the service`);
      const width = Math.max(...transitions.map((t) => t.key.length), ...states.map((s) => s.length + 6));
      lines.push(`  ${'state / transition'.padEnd(width)}  service`);
      for (const s of states) {
        const c = this.states.get(`${kind}:${s}`)!;
        lines.push(`  ${`state ${s}`.padEnd(width)}  ${String(c.service).padStart(7)}${c.service === 0 ? '  NOT COVERED' : ''}`);
      }
      for (const t of transitions) {
        const c = this.transitions.get(`${kind}:${t.key}`)!;
        lines.push(`  ${t.key.padEnd(width)}  ${String(c.service).padStart(7)}${c.service === 0 ? '  NOT COVERED' : ''}`);
      }
      lines.push('');
    }
    return lines.join('\n');
  }

  /** Totals, for the summary line. */
  totals(): { states: number; transitions: number; serviceStates: number; serviceTransitions: number } {
    const count = (m: Map<string, Counts>) => [...m.values()].filter((c) => c.service > 0).length;
    return {
      states: this.states.size,
      transitions: this.transitions.size,
      serviceStates: count(this.states),
      serviceTransitions: count(this.transitions),
    };
  }
}

/** The coverage of this process's model suite. */
export const coverage = new Coverage();
