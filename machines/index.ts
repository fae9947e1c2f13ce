/**
 * The door of `machines/`: the aggregate registry (kind -> machine, command schemas, fact
 * catalogue), the machine protocol, the error codes and the system machines. `src/`
 * imports only this module.
 */
import type { StateMachine } from 'xstate';
import type { ZodType } from 'zod';
import type { AggregateInput } from './_shared/aggregate.js';
import { workspaceFileOf, type KindDefinition, type WorkspaceFileOp, type WorkspaceFiles } from './_shared/kind.js';
import type { EffectKind, EffectRequest, MachineSignal } from './_shared/protocol.js';
import { AGGREGATE_KINDS } from './kinds.js';
import { configKind } from './config/config.kind.js';
import { flakeKind } from './flake/flake.kind.js';
import { moduleKind } from './module/module.kind.js';
import { overlayKind } from './overlay/overlay.kind.js';
import { packageKind } from './package/package.kind.js';

export * from './_shared/protocol.js';
export * from './_shared/errorCodes.js';
export * from './_shared/schemas.js';
export { LockedInput, effectResults, parseEffectResult, type EffectResult } from './_shared/effects.js';
export type { AggregateContext, AggregateInput } from './_shared/aggregate.js';
export type { Addressing, AddressingContext, KindDefinition, QuerySpec, WorkspaceFileOp, WorkspaceFiles, WorkspacePath } from './_shared/kind.js';
export { requestOfFileOp, workspaceFileOf } from './_shared/kind.js';
export { normaliseAttribute, normaliseFlakePath, normaliseFlakeRef } from './_shared/naturalKeys.js';
export { nixFileLayouts, nixFileTypes, type NixFileLayout, type NixFileType } from './_shared/workspaceLayout.js';
export { ResourceStates } from './_shared/resourceMachine.js';
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

/**
 * Every aggregate kind, each declared once in its own folder (`<kind>/<kind>.kind.ts`).
 * Adding a kind is a folder here, its runtime file in src/aggregates/, and a line in each
 * list. Shared code iterates these; none branches on a kind's name.
 */
const kinds = [flakeKind, packageKind, moduleKind, overlayKind, configKind] as const;

/** The aggregate kinds; each is also the subject token and the machine id. */
export const aggregateKinds: typeof AGGREGATE_KINDS = AGGREGATE_KINDS;
export type AggregateKind = (typeof kinds)[number]['kind'];
if (kinds.map((k) => k.kind).join() !== AGGREGATE_KINDS.join()) {
  throw new Error(`machines/kinds.ts lists ${AGGREGATE_KINDS.join(', ')} but the registry holds ${kinds.map((k) => k.kind).join(', ')}: keep them equal, in order`);
}

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

/** One aggregate kind as the host sees it: its declaration, its machine typed for the host, and its fact catalogue. */
export interface AggregateDefinition extends Omit<KindDefinition<AggregateKind>, 'machine' | 'facts'> {
  machine: AggregateMachine;
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
export const registry = Object.fromEntries(
  kinds.map((k) => [k.kind, { ...k, machine: k.machine as AggregateMachine, facts: catalogue(k.facts, 'notFinal' in k ? k.notFinal : []) }]),
) as unknown as { readonly [K in AggregateKind]: AggregateDefinition & { kind: K } };

const factsByEventType = new Map<string, string>();
for (const definition of Object.values(registry)) {
  for (const [fact, info] of Object.entries(definition.facts)) factsByEventType.set(info.event_type, fact);
}

/** The fact of an event by its type (`FlakeCreated` -> `flake.created`), if the type is known. */
export function factOfEventType(eventType: string): string | undefined {
  return factsByEventType.get(eventType);
}

/** Each effect that writes or removes a workspace file -> the files of the kind that owns it. */
const filesByEffect = new Map<string, WorkspaceFiles>();
for (const k of kinds) {
  const files = (k as KindDefinition).files;
  if (!files) continue;
  filesByEffect.set(files.write, files);
  if (files.remove) filesByEffect.set(files.remove, files);
}

/** The effects that write or remove a kind's workspace file (the materializer performs only these). */
export const workspaceFileEffects: ReadonlySet<string> = new Set(filesByEffect.keys());

/** The workspace files of the kind that owns an effect, when the effect writes or removes one of them. */
export function workspaceFilesOfEffect(kind: EffectKind): WorkspaceFiles | undefined {
  return filesByEffect.get(kind);
}

/** The workspace file a scheduled effect writes (type, name, body) or removes (no body), from the kind that owns it. */
export function workspaceFileOfRequest(request: EffectRequest): WorkspaceFileOp | undefined {
  return workspaceFileOf(filesByEffect.get(request.kind), request);
}
