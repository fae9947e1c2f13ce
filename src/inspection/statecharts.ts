/**
 * The machines as statecharts for the page: states, transitions (event, target, guarded,
 * named actions) and the role of each event, read from each machine's definition
 * (`machine.root`), so the drawing is always the machine that runs.
 */
import type { AnyStateMachine } from 'xstate';
import { aggregateKinds, publisherMachine, reconnectionMachine, registry, supervisorMachine } from '../../machines/index.js';
import { prettyEvent } from './hub.js';
import type { ActorType, MachinesDocument, Statechart, StatechartTransition } from './wire.js';

interface NodeLike {
  key: string;
  type: string;
  path: string[];
  initial?: { target: NodeLike[] };
  states: Record<string, NodeLike>;
  transitions: Map<string, TransitionLike[]>;
}

interface TransitionLike {
  target?: NodeLike[];
  guard?: unknown;
  actions: unknown[];
}

function actionName(a: unknown): string {
  if (typeof a === 'string') return a;
  if (a && typeof a === 'object' && typeof (a as { type?: unknown }).type === 'string') return (a as { type: string }).type;
  if (typeof a === 'function') return ((a as { type?: string }).type ?? a.name) || '(inline)';
  return '(action)';
}

function transitionsOf(node: NodeLike, role: (event: string) => StatechartTransition['role']): StatechartTransition[] {
  const out: StatechartTransition[] = [];
  for (const [event, list] of node.transitions) {
    for (const t of list) {
      const actions = t.actions.map(actionName);
      const r = role(event);
      out.push({
        event: r === 'system' ? prettyEvent(event) : event,
        target: t.target && t.target.length > 0 ? t.target.map((n) => n.path.join('.')).join(',') : node.path.join('.'),
        guarded: t.guard !== undefined,
        actions,
        role: r,
        refuses: r === 'command' && actions.length > 0 && actions.every((a) => a === 'reject'),
      });
    }
  }
  return out;
}

/** One machine as a statechart. States are listed depth-first (flat machines: in order). */
export function describeMachine(
  machine: AnyStateMachine,
  type: ActorType,
  role: (event: string) => StatechartTransition['role'],
): Statechart {
  const root = machine.root as unknown as NodeLike;
  const states: Statechart['states'] = [];
  const walk = (node: NodeLike): void => {
    for (const child of Object.values(node.states)) {
      states.push({ key: child.path.join('.'), final: child.type === 'final', transitions: transitionsOf(child, role) });
      walk(child);
    }
  };
  walk(root);
  return {
    type,
    id: machine.id,
    initial: root.initial?.target.map((n) => n.path.join('.')).join(',') ?? '',
    states,
    always: transitionsOf(root, role),
  };
}

let cached: MachinesDocument | undefined;

/** Every aggregate machine and the three system machines. */
export function machinesDocument(): MachinesDocument {
  if (cached) return cached;
  const aggregates = aggregateKinds.map((kind) => {
    const def = registry[kind];
    const commands = new Set(Object.keys(def.commands).map((a) => `${kind}.${a}`));
    const facts = new Set(Object.keys(def.facts));
    return describeMachine(def.machine as AnyStateMachine, kind, (event) =>
      facts.has(event) ? 'fact' : commands.has(event) ? 'command' : event.startsWith('effect.') ? 'outcome' : 'system',
    );
  });
  const system = [reconnectionMachine, publisherMachine, supervisorMachine].map((m) =>
    describeMachine(m as AnyStateMachine, 'system', () => 'system'),
  );
  cached = { aggregates, system };
  return cached;
}
