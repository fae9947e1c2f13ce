/**
 * The names of the aggregate kinds: a leaf module (no machines, no schemas), so the inspector
 * page and the wire schemas can name the kinds without loading them. `machines/index.ts`
 * refuses to load when this list and the registry differ.
 */
export const AGGREGATE_KINDS = ['flake', 'package', 'module', 'overlay', 'config'] as const;

/** One aggregate kind; also the subject token and the machine id. */
export type AggregateKindName = (typeof AGGREGATE_KINDS)[number];
