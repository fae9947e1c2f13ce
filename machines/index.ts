/**
 * The door of `machines/`: the aggregate registry (kind -> machine, command schemas, fact
 * catalogue), the machine protocol, the error codes and the system machines. `src/`
 * imports only this module.
 */
import type { StateMachine } from 'xstate';
import type { ZodType } from 'zod';
import type { AggregateInput } from './_shared/aggregate.js';
import type { MachineSignal } from './_shared/protocol.js';
import { configCommands, configFacts } from './config/config.events.js';
import { CONFIG_MACHINE_VERSION, configMachine } from './config/config.machine.js';
import { flakeCommands, flakeFacts } from './flake/flake.events.js';
import { FLAKE_MACHINE_VERSION, flakeMachine } from './flake/flake.machine.js';
import { moduleCommands, moduleFacts } from './module/module.events.js';
import { MODULE_MACHINE_VERSION, moduleMachine } from './module/module.machine.js';
import { overlayCommands, overlayFacts } from './overlay/overlay.events.js';
import { OVERLAY_MACHINE_VERSION, overlayMachine } from './overlay/overlay.machine.js';
import { packageCommands, packageFacts } from './package/package.events.js';
import { PACKAGE_MACHINE_VERSION, packageMachine } from './package/package.machine.js';

export * from './_shared/protocol.js';
export * from './_shared/errorCodes.js';
export * from './_shared/schemas.js';
export { LockedInput, effectResults, parseEffectResult, type EffectResult } from './_shared/effects.js';
export type { AggregateContext, AggregateInput } from './_shared/aggregate.js';
export * from './system/index.js';

export * from './flake/flake.events.js';
export * from './package/package.events.js';
export * from './module/module.events.js';
export * from './overlay/overlay.events.js';
export * from './config/config.events.js';
export * from './flake/flake.machine.js';
export * from './package/package.machine.js';
export * from './module/module.machine.js';
export * from './overlay/overlay.machine.js';
export * from './config/config.machine.js';

/** The aggregate kinds; each is also the subject token and the machine id. */
export const aggregateKinds = ['flake', 'package', 'module', 'overlay', 'config'] as const;
export type AggregateKind = (typeof aggregateKinds)[number];

/** What the host needs to know about one fact. */
export interface FactInfo {
  /** PascalCase wire name, e.g. `FlakeInputAdded`. */
  event_type: string;
  /** `false` only for a fact after which the command still waits (`package.build_started`). */
  final: boolean;
  /** The fact's payload schema (plain object: a stored event's envelope fields are stripped). */
  schema: ZodType;
}

/**
 * An aggregate machine as the host sees it: any context and events, input
 * `{ aggregate_id }`, emits only {@link MachineSignal}s.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
export type AggregateMachine = StateMachine<
  any, any, any, any, any, any, any, any, any, AggregateInput, any, MachineSignal, any, any
>;
/* eslint-enable @typescript-eslint/no-explicit-any */

/** One aggregate kind: its machine and its contract. */
export interface AggregateDefinition {
  kind: AggregateKind;
  machine: AggregateMachine;
  /** Bumped when states or context change shape. */
  version: number;
  /** Action (`create`, `add_input`, …) -> payload schema. */
  commands: Record<string, ZodType>;
  /** Fact name (`flake.input_added`, …) -> info. */
  facts: Record<string, FactInfo>;
}

/** `flake.input_added` -> `FlakeInputAdded`. */
function pascal(fact: string): string {
  return fact
    .split(/[._]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

function catalogue(facts: Record<string, ZodType>, notFinal: readonly string[] = []): Record<string, FactInfo> {
  const out: Record<string, FactInfo> = {};
  for (const [name, schema] of Object.entries(facts)) {
    out[name] = { event_type: pascal(name), final: !notFinal.includes(name), schema };
  }
  return out;
}

/** Every aggregate kind, by kind. */
export const registry: { readonly [K in AggregateKind]: AggregateDefinition & { kind: K } } = {
  flake: {
    kind: 'flake',
    machine: flakeMachine,
    version: FLAKE_MACHINE_VERSION,
    commands: flakeCommands,
    facts: catalogue(flakeFacts),
  },
  package: {
    kind: 'package',
    machine: packageMachine,
    version: PACKAGE_MACHINE_VERSION,
    commands: packageCommands,
    facts: catalogue(packageFacts, ['package.build_started']),
  },
  module: {
    kind: 'module',
    machine: moduleMachine,
    version: MODULE_MACHINE_VERSION,
    commands: moduleCommands,
    facts: catalogue(moduleFacts),
  },
  overlay: {
    kind: 'overlay',
    machine: overlayMachine,
    version: OVERLAY_MACHINE_VERSION,
    commands: overlayCommands,
    facts: catalogue(overlayFacts),
  },
  config: {
    kind: 'config',
    machine: configMachine,
    version: CONFIG_MACHINE_VERSION,
    commands: configCommands,
    facts: catalogue(configFacts),
  },
};

const factsByEventType = new Map<string, string>();
for (const definition of Object.values(registry)) {
  for (const [fact, info] of Object.entries(definition.facts)) factsByEventType.set(info.event_type, fact);
}

/** The fact of an event by its type (`FlakeCreated` -> `flake.created`), if the type is known. */
export function factOfEventType(eventType: string): string | undefined {
  return factsByEventType.get(eventType);
}
