/** The addressing and queries shared by the kinds named by a `name` (module, overlay, configuration). */
import type { Addressing, QuerySpec } from './kind.js';
import { NamePrefix, oneOrMany } from './querySchemas.js';
import { ResourceName } from './schemas.js';

/** Addressing by `name`, or `<kind>_id`. */
export function byName(kind: string): Addressing {
  return {
    idField: `${kind}_id`,
    keyFields: ['name'],
    keySchemas: { name: ResourceName },
    key: (p) => String(p['name']),
    describe: (p) => (typeof p['name'] === 'string' ? `${kind} '${p['name']}'` : `${kind} ${String(p[`${kind}_id`])}`),
    creator: `${kind}.create`,
    keyRequired: ['create'],
  };
}

/** A list filtered by state (default per kind) and name prefix. */
export function namedList<const S extends readonly [string, ...string[]]>(states: S): QuerySpec {
  return { shape: 'list', filters: { state: oneOrMany(states).optional(), name_prefix: NamePrefix.optional() } };
}
