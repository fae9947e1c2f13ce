/**
 * Wire schemas of every command subject (SPEC §2–§3): the machine's payload schema plus
 * `identity` and the addressing alternatives, strict (an unknown field is a validation
 * error naming it), and how each command finds its aggregate ID.
 */
import { z } from 'zod';
import { registry, type AggregateKind } from '../../machines/index.js';
import { flakeId, isUuid, namedId, normaliseFlakePath, packageId } from './ids.js';
import { IdentityInput } from './identity.js';

/** A path a command names; an out-link may already exist as a symlink (nix replaces it). */
export interface WorkspacePath {
  path: string;
  outLink?: boolean;
}

/** How a command addresses its aggregate: the ID, or a reason it cannot. */
export type Addressed = { ok: true; id: string } | { ok: false; message: string };

/** One command subject: schema, addressing and the workspace paths it names. */
export interface CommandSpec {
  readonly aggregate: AggregateKind;
  readonly action: string;
  /** `<agg>.<action>`: also the machine event type. */
  readonly type: string;
  readonly schema: z.ZodType<Record<string, unknown>>;
  /** Compute the aggregate ID from a validated payload. */
  address(payload: Record<string, unknown>): Addressed;
  /** Workspace-relative paths in the payload that must stay inside the workspace. */
  paths(payload: Record<string, unknown>): WorkspacePath[];
  /** The machine event: payload fields without identity and ID fields. */
  toMachineEvent(payload: Record<string, unknown>): { type: string } & Record<string, unknown>;
}

const Uuid = z.string().refine(isUuid, 'must be a UUID such as 2f1c…-…');

/** Fields that address the aggregate, stripped before the machine sees the command. */
const ADDRESS_FIELDS = new Set(['identity', 'flake_id', 'package_id', 'module_id', 'overlay_id', 'config_id']);

function machineEvent(type: string, payload: Record<string, unknown>): { type: string } & Record<string, unknown> {
  const event: { type: string } & Record<string, unknown> = { type };
  for (const key in payload) if (!ADDRESS_FIELDS.has(key)) event[key] = payload[key];
  return event;
}

function checkGivenId(given: unknown, computed: string, field: string, key: string): Addressed {
  if (given !== undefined && given !== computed) {
    return { ok: false, message: `${field} ${JSON.stringify(given)} does not match ${key} (which gives ${computed}); send one or make them agree` };
  }
  return { ok: true, id: computed };
}

/** `path:./x` or `./x` → `x`; other schemes are not workspace paths. */
export function flakeRefWorkspacePath(ref: string): string | undefined {
  if (ref.startsWith('path:')) return ref.slice('path:'.length).split('?')[0];
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(ref)) return undefined;
  return ref.split('?')[0];
}

function flakeSpec(action: string, shape: z.ZodObject): CommandSpec {
  const create = action === 'create';
  const schema = (shape)
    .extend({
      identity: IdentityInput.optional(),
      flake_id: Uuid.optional(),
      ...(create ? {} : { path: z.string().min(1, 'must not be empty').max(1024).optional() }),
    })
    .refine((p) => create || p['path'] !== undefined || p['flake_id'] !== undefined, {
      message: 'path or flake_id is required to address the flake',
      path: ['path'],
    }) as unknown as z.ZodType<Record<string, unknown>>;
  return {
    aggregate: 'flake',
    action,
    type: `flake.${action}`,
    schema,
    address: (p) =>
      typeof p['path'] === 'string'
        ? checkGivenId(p['flake_id'], flakeId(p['path']), 'flake_id', `path ${p['path']}`)
        : { ok: true, id: String(p['flake_id']) },
    paths: (p) => (typeof p['path'] === 'string' ? [{ path: p['path'] }] : []),
    toMachineEvent: (p) => {
      const ev = machineEvent(`flake.${action}`, p);
      if (typeof ev['path'] === 'string') ev['path'] = normaliseFlakePath(ev['path']);
      if (!create) delete ev['path'];
      return ev;
    },
  };
}

function packageSpec(action: 'build' | 'cache', shape: z.ZodObject): CommandSpec {
  const build = action === 'build';
  const schema = shape
    .extend({
      identity: IdentityInput.optional(),
      package_id: Uuid.optional(),
      ...(build
        ? {}
        : {
            flake_ref: z.string().min(1).max(2048).optional(),
            attribute: z.string().min(1).max(512).optional(),
          }),
    })
    .refine((p) => build || p['package_id'] !== undefined || (p['flake_ref'] !== undefined && p['attribute'] !== undefined), {
      message: 'package_id, or flake_ref and attribute, are required to address the package',
      path: ['package_id'],
    }) as unknown as z.ZodType<Record<string, unknown>>;
  return {
    aggregate: 'package',
    action,
    type: `package.${action}`,
    schema,
    address: (p) =>
      typeof p['flake_ref'] === 'string' && typeof p['attribute'] === 'string'
        ? checkGivenId(p['package_id'], packageId(p['flake_ref'], p['attribute']), 'package_id', `flake_ref#attribute`)
        : { ok: true, id: String(p['package_id']) },
    paths: (p) => {
      const out: WorkspacePath[] = [];
      const ref = typeof p['flake_ref'] === 'string' ? flakeRefWorkspacePath(p['flake_ref']) : undefined;
      if (ref !== undefined) out.push({ path: ref });
      if (typeof p['output_path'] === 'string') out.push({ path: p['output_path'], outLink: true });
      return out;
    },
    toMachineEvent: (p) => machineEvent(`package.${action}`, p),
  };
}

function namedSpec(aggregate: 'module' | 'overlay' | 'config', action: string, shape: z.ZodObject): CommandSpec {
  const idField = `${aggregate}_id`;
  const create = action === 'create';
  const schema = shape
    .extend({
      identity: IdentityInput.optional(),
      [idField]: Uuid.optional(),
      ...(create ? {} : { name: (shape.shape['name'] as z.ZodType).optional() }),
    })
    .refine((p) => create || p['name'] !== undefined || p[idField] !== undefined, {
      message: `name or ${idField} is required to address the ${aggregate}`,
      path: ['name'],
    }) as unknown as z.ZodType<Record<string, unknown>>;
  return {
    aggregate,
    action,
    type: `${aggregate}.${action}`,
    schema,
    address: (p) =>
      typeof p['name'] === 'string'
        ? checkGivenId(p[idField], namedId(aggregate, p['name']), idField, `name ${p['name']}`)
        : { ok: true, id: String(p[idField]) },
    paths: () => [],
    toMachineEvent: (p) => machineEvent(`${aggregate}.${action}`, p),
  };
}

function buildSpecs(): Map<string, CommandSpec> {
  const specs = new Map<string, CommandSpec>();
  for (const kind of Object.keys(registry) as AggregateKind[]) {
    const def = registry[kind];
    for (const [action, schema] of Object.entries(def.commands)) {
      const shape = schema as unknown as z.ZodObject;
      let spec: CommandSpec;
      if (kind === 'flake') spec = flakeSpec(action, shape);
      else if (kind === 'package') spec = packageSpec(action as 'build' | 'cache', shape);
      else spec = namedSpec(kind, action, shape);
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
