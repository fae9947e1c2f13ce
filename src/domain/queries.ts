/** The query subjects of SPEC §2, per aggregate; aliases answer like their target. */
export const querySubjects = {
  flake: ['get', 'list', 'get_inputs'],
  package: ['get', 'list', 'status', 'get_status'],
  module: ['get', 'list'],
  overlay: ['get', 'list'],
  config: ['get', 'list', 'current', 'get_current', 'get_history'],
} as const;

/** Alias → canonical action. */
export const queryAliases: Record<string, string> = {
  'package.get_status': 'package.status',
  'config.get_current': 'config.current',
};

/** Every `<agg>.<action>` query pair. */
export function allQueries(): Array<{ aggregate: string; action: string }> {
  return Object.entries(querySubjects).flatMap(([aggregate, actions]) => actions.map((action) => ({ aggregate, action })));
}
