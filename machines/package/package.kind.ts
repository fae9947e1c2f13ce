/**
 * The package kind: one attribute of one flake, addressed by `flake_ref#attribute` (both
 * normalised). Its commands name the flake ref, an out-link and a cache URL.
 */
import type { KindDefinition, WorkspacePath } from '../_shared/kind.js';
import { normaliseAttribute, normaliseFlakeRef } from '../_shared/naturalKeys.js';
import { FilterText, oneOrMany } from '../_shared/querySchemas.js';
import { FlakeUrl } from '../_shared/schemas.js';
import { AttributePath, PackageStates, packageCommands, packageFacts } from './package.events.js';
import { PACKAGE_MACHINE_VERSION, packageMachine, packageNaturalKey } from './package.machine.js';

const page = { page: true } as const;

export const packageKind = {
  kind: 'package',
  machine: packageMachine,
  version: PACKAGE_MACHINE_VERSION,
  commands: packageCommands,
  facts: packageFacts,
  notFinal: ['package.build_started'],
  naturalKey: packageNaturalKey,
  addressing: {
    idField: 'package_id',
    keyFields: ['flake_ref', 'attribute'],
    keySchemas: { flake_ref: FlakeUrl, attribute: AttributePath },
    key: (p, ctx) => `${normaliseFlakeRef(String(p['flake_ref']), ctx.workspace)}#${normaliseAttribute(String(p['attribute']))}`,
    describe: (p) => (typeof p['flake_ref'] === 'string' ? `package ${p['flake_ref']}#${String(p['attribute'])}` : `package ${String(p['package_id'])}`),
    creator: 'package.build',
    keyRequired: ['build'],
    normalise: (_action, event, ctx) => {
      if (typeof event['flake_ref'] === 'string') event['flake_ref'] = normaliseFlakeRef(event['flake_ref'], ctx.workspace);
      if (typeof event['attribute'] === 'string') event['attribute'] = normaliseAttribute(event['attribute']);
    },
  },
  queries: {
    get: { shape: 'addressed' },
    status: { shape: 'addressed', ...page },
    list: { shape: 'list', filters: { state: oneOrMany(PackageStates).optional(), flake_ref: FilterText.optional() } },
  },
  queryAliases: { get_status: 'status' },
  paths: (action, p) => {
    const out: WorkspacePath[] = [];
    if (typeof p['flake_ref'] === 'string') out.push({ kind: 'flakeRef', field: 'flake_ref', path: p['flake_ref'], build: action === 'build' });
    if (typeof p['output_path'] === 'string') out.push({ kind: 'outLink', field: 'output_path', path: p['output_path'] });
    if (typeof p['cache_url'] === 'string') out.push({ kind: 'cacheUrl', field: 'cache_url', path: p['cache_url'] });
    return out;
  },
} satisfies KindDefinition<'package'>;
