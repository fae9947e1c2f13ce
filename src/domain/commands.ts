/**
 * Wire schemas of every command subject (SPEC §2–§3), built from the registry of aggregate
 * kinds: each action's machine payload schema plus `identity` and the addressing
 * alternatives, strict (an unknown field is a validation error naming it), and how each
 * command finds its aggregate ID. Nothing here knows a kind by name.
 */
import { z } from 'zod';
import { registry, type AddressingContext, type AggregateDefinition, type AggregateKind, type WorkspacePath } from '../../machines/index.js';
import { aggregateId, isUuid } from './ids.js';
import { IdentityInput } from './identity.js';

export type { WorkspacePath } from '../../machines/index.js';

/** How a command addresses its aggregate: the ID, or a reason it cannot. */
export type Addressed = { ok: true; id: string } | { ok: false; message: string };

/** One command subject: schema, addressing and the workspace paths it names. */
export interface CommandSpec {
  readonly aggregate: AggregateKind;
  readonly action: string;
  /** `<agg>.<action>`: also the machine event type. */
  readonly type: string;
  readonly schema: z.ZodType<Record<string, unknown>>;
  /** Compute the aggregate ID from a validated payload (`workspace`: the root absolute paths are taken relative to). */
  address(payload: Record<string, unknown>, workspace?: string): Addressed;
  /** Workspace-relative paths in the payload that must stay inside the workspace. */
  paths(payload: Record<string, unknown>): WorkspacePath[];
  /** The machine event: payload fields without identity and ID fields, natural keys normalised. */
  toMachineEvent(payload: Record<string, unknown>, workspace?: string): { type: string } & Record<string, unknown>;
}

export const Uuid = z.string().refine(isUuid, 'must be a UUID such as 2f1c…-…');

/** `a`, `a and b`, `a, b and c`. */
const and = (words: readonly string[]): string => (words.length < 2 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`);

/** The sentence that says how a payload must name an aggregate of `def` (`verb`: address, name). */
export function addressRequirement(def: Pick<AggregateDefinition, 'kind' | 'addressing'>, verb: string): string {
  const { idField, keyFields } = def.addressing;
  return keyFields.length === 1
    ? `${keyFields[0]} or ${idField} is required to ${verb} the ${def.kind}`
    : `${idField}, or ${and(keyFields)}, are required to ${verb} the ${def.kind}`;
}

/** True when a payload holds every key field of `def`. */
export function holdsKey(def: Pick<AggregateDefinition, 'addressing'>, p: Record<string, unknown>): boolean {
  return def.addressing.keyFields.every((f) => p[f] !== undefined);
}

/**
 * The aggregate a payload addresses: the id of its natural key (checked to agree with the
 * id field when both are given), else the id field; `undefined` when it names neither.
 */
export function addressOf(def: Pick<AggregateDefinition, 'kind' | 'addressing'>, p: Record<string, unknown>, ctx: AddressingContext): Addressed | undefined {
  const { idField, keyFields } = def.addressing;
  const given = p[idField];
  if (!holdsKey(def, p)) return given === undefined ? undefined : { ok: true, id: typeof given === 'string' ? given : JSON.stringify(given) };
  const id = aggregateId(def.kind, def.addressing.key(p, ctx));
  if (given !== undefined && given !== id) {
    return {
      ok: false,
      message: `${idField} ${JSON.stringify(given)} does not match ${keyFields.length === 1 ? `${keyFields[0]} ${String(p[keyFields[0]!])}` : keyFields.join('#')} (which gives ${id}); send one or make them agree`,
    };
  }
  return { ok: true, id };
}

function specOf(def: AggregateDefinition, action: string, shape: z.ZodObject): CommandSpec {
  const { addressing } = def;
  const creates = addressing.keyRequired.includes(action);
  // Actions other than the creating ones may address by the natural key or by the id.
  const keys: Record<string, z.ZodType> = {};
  if (!creates) for (const f of addressing.keyFields) keys[f] = ((shape.shape[f] as z.ZodType | undefined) ?? addressing.keySchemas[f]!).optional();
  const extended = shape.extend({ identity: IdentityInput.optional(), [addressing.idField]: Uuid.optional(), ...keys });
  const schema = (
    creates
      ? extended
      : extended.refine((p) => holdsKey(def, p) || p[addressing.idField] !== undefined, {
          message: addressRequirement(def, 'address'),
          path: [addressing.keyFields.length === 1 ? addressing.keyFields[0]! : addressing.idField],
        })
  ) as unknown as z.ZodType<Record<string, unknown>>;
  const type = `${def.kind}.${action}`;
  return {
    aggregate: def.kind,
    action,
    type,
    schema,
    address: (p, workspace) => addressOf(def, p, { workspace }) ?? { ok: false, message: addressRequirement(def, 'address') },
    paths: (p) => def.paths?.(action, p) ?? [],
    toMachineEvent: (p, workspace) => {
      const event: { type: string } & Record<string, unknown> = { type };
      for (const key in p) if (key !== 'identity' && key !== addressing.idField) event[key] = p[key];
      addressing.normalise?.(action, event, { workspace });
      return event;
    },
  };
}

function buildSpecs(): Map<string, CommandSpec> {
  const specs = new Map<string, CommandSpec>();
  for (const def of Object.values(registry) as AggregateDefinition[]) {
    for (const [action, schema] of Object.entries(def.commands)) {
      const spec = specOf(def, action, schema as unknown as z.ZodObject);
      specs.set(spec.type, spec);
    }
  }
  return specs;
}

/** Every command subject, keyed `<agg>.<action>`. */
export const commandSpecs: ReadonlyMap<string, CommandSpec> = buildSpecs();

/** The accepted actions per aggregate, for error messages and discovery. */
export function commandActions(aggregate: string): string[] {
  return [...commandSpecs.values()].filter((s) => s.aggregate === aggregate).map((s) => s.action);
}
