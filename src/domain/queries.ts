/**
 * Wire schemas of every query subject (SPEC §2), built from the registry of aggregate kinds:
 * each kind declares its queries (addressed, list or plain) and aliases; the schemas here are
 * strict (an unknown field is a validation error naming it, as for commands). Shared fields:
 *
 * - `identity?` — as on commands; echoed in the reply headers;
 * - `min_sequence?` — read-your-writes: answer only once the read model holds the aggregate
 *   at this version or later (the `version` of a command reply). Addressed queries apply it
 *   to the aggregate they address; lists and plain queries need the `aggregate_id` of that
 *   reply too;
 * - `timeout_ms?` — how long the query may wait for `min_sequence` or for the read models to
 *   catch up (default {@link DEFAULT_WAIT_MS}, at most {@link MAX_WAIT_MS});
 * - lists and histories: `limit?` (default {@link DEFAULT_LIMIT}, at most {@link MAX_LIMIT})
 *   and `cursor?` (the `next_cursor` of the previous page).
 */
import { z } from 'zod';
import { registry, type AggregateDefinition, type AggregateKind, type QuerySpec } from '../../machines/index.js';
import { addressRequirement, holdsKey, Uuid } from './commands.js';
import { IdentityInput } from './identity.js';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 1_000;
export const DEFAULT_WAIT_MS = 2_000;
export const MAX_WAIT_MS = 30_000;

const common = {
  identity: IdentityInput.optional(),
  min_sequence: z.number().int('must be a whole number').min(0, 'must be 0 or more').optional(),
  timeout_ms: z.number().int('must be a whole number').min(1, 'must be at least 1').max(MAX_WAIT_MS, `must be at most ${MAX_WAIT_MS}`).optional(),
};
const page = {
  limit: z.number().int('must be a whole number').min(1, 'must be at least 1').max(MAX_LIMIT, `must be at most ${MAX_LIMIT}`).optional(),
  cursor: z.string().min(1, 'must not be empty').max(4096, 'is too long to be a cursor').optional(),
};
/** Lists have no aggregate of their own: min_sequence names one by `aggregate_id`. */
const consistency = { aggregate_id: Uuid.optional() };

const needsAggregate = (p: object): boolean => {
  const r = p as Record<string, unknown>;
  return r['min_sequence'] === undefined || r['aggregate_id'] !== undefined;
};
const needsAggregateMessage = {
  message: 'is required with min_sequence here: pass the aggregate_id of the command reply whose version you give',
  path: ['aggregate_id'],
};

/** The payload schema of one query of `def`. */
function schemaOf(def: AggregateDefinition, spec: QuerySpec): z.ZodType<Record<string, unknown>> {
  const { addressing } = def;
  if (spec.shape === 'list') return z.strictObject({ ...common, ...page, ...consistency, ...spec.filters }).refine(needsAggregate, needsAggregateMessage);
  if (spec.shape === 'plain') return z.strictObject({ ...common, ...consistency }).refine(needsAggregate, needsAggregateMessage);
  const keys = Object.fromEntries(addressing.keyFields.map((f) => [f, addressing.keySchemas[f]!.optional()]));
  let schema = z
    .strictObject({ ...common, [addressing.idField]: Uuid.optional(), ...keys, ...(spec.page ? page : {}), ...spec.extra })
    .refine((p) => holdsKey(def, p as Record<string, unknown>) || (p as Record<string, unknown>)[addressing.idField] !== undefined, {
      message: addressRequirement(def, 'name'),
      path: [addressing.keyFields.length === 1 ? addressing.keyFields[0]! : addressing.idField],
    });
  if (addressing.keyFields.length > 1) {
    // A key of several fields is given whole or not at all.
    schema = schema.refine((p) => addressing.keyFields.every((f) => (p as Record<string, unknown>)[f] === undefined) || holdsKey(def, p as Record<string, unknown>), {
      message: `${addressing.keyFields.join(' and ')} go together: give ${addressing.keyFields.length === 2 ? 'both' : 'all of them'}, or ${addressing.idField} alone`,
      path: [addressing.keyFields.at(-1)!],
    });
  }
  return schema;
}

/** One query subject (canonical: aliases resolved). */
export interface QueryDef {
  /** `<agg>.<action>` */
  name: string;
  aggregate: AggregateKind;
  action: string;
  /** Whether it names one aggregate (by key or id). */
  addressed: boolean;
  schema: z.ZodType<Record<string, unknown>>;
}

const defs = new Map<string, QueryDef>();
const subjects: Array<{ aggregate: string; action: string; canonical: string }> = [];
for (const def of Object.values(registry) as AggregateDefinition[]) {
  for (const [action, spec] of Object.entries(def.queries)) {
    const name = `${def.kind}.${action}`;
    defs.set(name, { name, aggregate: def.kind, action, addressed: spec.shape === 'addressed', schema: schemaOf(def, spec) });
    subjects.push({ aggregate: def.kind, action, canonical: name });
  }
  for (const [alias, target] of Object.entries(def.queryAliases ?? {})) subjects.push({ aggregate: def.kind, action: alias, canonical: `${def.kind}.${target}` });
}

/** Every query subject, by canonical name. */
export const queryDefs: ReadonlyMap<string, QueryDef> = defs;

/** Every `<agg>.<action>` query pair, aliases included. */
export function allQueries(): Array<{ aggregate: string; action: string }> {
  return subjects.map(({ aggregate, action }) => ({ aggregate, action }));
}

/** `<agg>.<action>` of a subject's tokens -> its query (aliases resolved), if any. */
export function canonicalQuery(aggregate: string, action: string): QueryDef | undefined {
  const found = subjects.find((s) => s.aggregate === aggregate && s.action === action);
  return found ? defs.get(found.canonical) : undefined;
}
