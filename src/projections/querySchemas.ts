/**
 * Wire schemas of every query subject (SPEC §2): strict (an unknown field is a validation
 * error naming it, as for commands). Shared fields:
 *
 * - `identity?` — as on commands; echoed in the reply headers;
 * - `min_sequence?` — read-your-writes: answer only once the read model holds the
 *   aggregate at this version or later (the `version` of a command reply). Addressed
 *   queries apply it to the aggregate they address; lists and `config.current` need the
 *   `aggregate_id` of that reply too;
 * - `timeout_ms?` — how long the query may wait for `min_sequence` or for the read models
 *   to catch up (default {@link DEFAULT_WAIT_MS}, at most {@link MAX_WAIT_MS});
 * - lists and histories: `limit?` (default {@link DEFAULT_LIMIT}, at most {@link MAX_LIMIT})
 *   and `cursor?` (the `next_cursor` of the previous page).
 */
import { z } from 'zod';
import { FlakeTemplate } from '../../machines/index.js';
import { IdentityInput } from '../domain/identity.js';
import { isUuid } from '../domain/ids.js';
import { querySubjects, queryAliases } from '../domain/queries.js';
import { ConfigStates, HistoryKinds, PackageStates, ResourceStates } from './views.js';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 1_000;
export const DEFAULT_WAIT_MS = 2_000;
export const MAX_WAIT_MS = 30_000;

const Uuid = z.string().refine(isUuid, 'must be a UUID such as 2f1c…-…');
const Text = z.string().min(1, 'must not be empty').max(2048, 'must be at most 2048 characters');

const common = {
  identity: IdentityInput.optional(),
  min_sequence: z.number().int('must be a whole number').min(0, 'must be 0 or more').optional(),
  timeout_ms: z
    .number()
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(MAX_WAIT_MS, `must be at most ${MAX_WAIT_MS}`)
    .optional(),
};
const page = {
  limit: z.number().int('must be a whole number').min(1, 'must be at least 1').max(MAX_LIMIT, `must be at most ${MAX_LIMIT}`).optional(),
  cursor: z.string().min(1, 'must not be empty').max(4096, 'is too long to be a cursor').optional(),
};
/** Lists have no aggregate of their own: min_sequence names one by `aggregate_id`. */
const consistency = { aggregate_id: Uuid.optional() };

/** One value or a non-empty list of values. */
function oneOrMany<const T extends readonly [string, ...string[]]>(values: T) {
  const expected = `must be one of ${values.join(', ')}, or a list of them`;
  const one = z.enum(values, { error: expected });
  return z.union([one, z.array(one).min(1, 'must not be empty')], { error: expected });
}

const needsAggregate = (p: object): boolean => {
  const r = p as Record<string, unknown>;
  return r['min_sequence'] === undefined || r['aggregate_id'] !== undefined;
};
const needsAggregateMessage = {
  message: 'is required with min_sequence here: pass the aggregate_id of the command reply whose version you give',
  path: ['aggregate_id'],
};

function addressed<S extends z.ZodRawShape>(shape: S, ok: (p: Record<string, unknown>) => boolean, message: string, field: string) {
  return z.strictObject({ ...common, ...shape }).refine((p) => ok(p as Record<string, unknown>), { message, path: [field] });
}

const flakeAddress = { flake_id: Uuid.optional(), path: z.string().min(1, 'must not be empty').max(1024).optional() };
const flakeAddressed = <S extends z.ZodRawShape>(extra: S = {} as S) =>
  addressed(
    { ...flakeAddress, ...extra },
    (p) => p['flake_id'] !== undefined || p['path'] !== undefined,
    'path or flake_id is required to name the flake',
    'path',
  );

const packageAddress = { package_id: Uuid.optional(), flake_ref: Text.optional(), attribute: z.string().min(1).max(512).optional() };
const packageAddressed = <S extends z.ZodRawShape>(extra: S = {} as S) =>
  addressed(
    { ...packageAddress, ...extra },
    (p) => p['package_id'] !== undefined || (p['flake_ref'] !== undefined && p['attribute'] !== undefined),
    'package_id, or flake_ref and attribute, are required to name the package',
    'package_id',
  ).refine(
    (p) => ((p as Record<string, unknown>)['flake_ref'] === undefined) === ((p as Record<string, unknown>)['attribute'] === undefined),
    {
      message: 'flake_ref and attribute go together: give both, or package_id alone',
      path: ['attribute'],
    },
  );

/** `{ <kind>_id: uuid? }`, typed by its key. */
const idField = <K extends string>(kind: K) =>
  ({ [`${kind}_id`]: Uuid.optional() }) as { [P in `${K}_id`]: ReturnType<typeof Uuid.optional> };

const named = <K extends 'module' | 'overlay' | 'config', S extends z.ZodRawShape>(kind: K, extra: S = {} as S) =>
  addressed(
    { ...idField(kind), name: z.string().min(1, 'must not be empty').max(128).optional(), ...extra },
    (p) => p[`${kind}_id`] !== undefined || p['name'] !== undefined,
    `name or ${kind}_id is required to name the ${kind}`,
    'name',
  );

const list = <S extends z.ZodRawShape>(filters: S) =>
  z.strictObject({ ...common, ...page, ...consistency, ...filters }).refine(needsAggregate, needsAggregateMessage);

/** Query name (`<agg>.<action>`, canonical) -> payload schema. */
export const queryPayloadSchemas = {
  'flake.get': flakeAddressed(),
  'flake.get_inputs': flakeAddressed(),
  'flake.list': list({
    input_url: Text.optional(),
    template: FlakeTemplate.optional(),
    path_prefix: z.string().min(1, 'must not be empty').max(1024).optional(),
  }),
  'package.get': packageAddressed(),
  'package.status': packageAddressed(page),
  'package.list': list({ state: oneOrMany(PackageStates).optional(), flake_ref: Text.optional() }),
  'module.get': named('module'),
  'module.list': list({ state: oneOrMany(ResourceStates).optional(), name_prefix: z.string().min(1).max(128).optional() }),
  'overlay.get': named('overlay'),
  'overlay.list': list({ state: oneOrMany(ResourceStates).optional(), name_prefix: z.string().min(1).max(128).optional() }),
  'config.get': named('config'),
  'config.get_history': named('config', { ...page, kind: oneOrMany(HistoryKinds).optional() }),
  'config.list': list({
    state: oneOrMany(ConfigStates).optional(),
    hostname: z.string().min(1).max(63).optional(),
    name_prefix: z.string().min(1).max(128).optional(),
  }),
  'config.current': z.strictObject({ ...common, ...consistency }).refine(needsAggregate, needsAggregateMessage),
} as const;

export type QueryName = keyof typeof queryPayloadSchemas;

/** `<agg>.<action>` of a subject's tokens -> the canonical query name (aliases resolved), if any. */
export function canonicalQuery(aggregate: string, action: string): QueryName | undefined {
  const actions = (querySubjects as Record<string, readonly string[]>)[aggregate];
  if (!actions?.includes(action)) return undefined;
  const name = queryAliases[`${aggregate}.${action}`] ?? `${aggregate}.${action}`;
  return name in queryPayloadSchemas ? (name as QueryName) : undefined;
}
