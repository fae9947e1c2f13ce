/**
 * The flake kind: one flake directory of the workspace, addressed by its path (normalised:
 * one directory, one aggregate). Its commands name the flake directory and input URLs.
 */
import { z } from 'zod';
import type { KindDefinition, WorkspacePath } from '../_shared/kind.js';
import { normaliseFlakePath } from '../_shared/naturalKeys.js';
import { FilterText, } from '../_shared/querySchemas.js';
import { FlakePath } from '../_shared/schemas.js';
import { FlakeTemplate, flakeCommands, flakeFacts } from './flake.events.js';
import { FLAKE_MACHINE_VERSION, flakeMachine, flakeNaturalKey } from './flake.machine.js';

export const flakeKind = {
  kind: 'flake',
  machine: flakeMachine,
  version: FLAKE_MACHINE_VERSION,
  commands: flakeCommands,
  facts: flakeFacts,
  naturalKey: flakeNaturalKey,
  addressing: {
    idField: 'flake_id',
    keyFields: ['path'],
    keySchemas: { path: FlakePath },
    key: (p, ctx) => normaliseFlakePath(String(p['path']), ctx.workspace),
    describe: (p) => (typeof p['path'] === 'string' ? `flake at path '${p['path']}'` : `flake ${String(p['flake_id'])}`),
    creator: 'flake.create',
    keyRequired: ['create'],
    normalise: (action, event, ctx) => {
      if (typeof event['path'] === 'string') event['path'] = normaliseFlakePath(event['path'], ctx.workspace);
      // Only a create carries the path into the machine: the others address by it.
      if (action !== 'create') delete event['path'];
    },
  },
  queries: {
    get: { shape: 'addressed' },
    get_inputs: { shape: 'addressed' },
    list: {
      shape: 'list',
      filters: {
        input_url: FilterText.optional(),
        template: FlakeTemplate.optional(),
        path_prefix: z.string().min(1, 'must not be empty').max(1024).optional(),
      },
    },
  },
  paths: (_action, p) => {
    const path = typeof p['path'] === 'string' ? p['path'] : undefined;
    const out: WorkspacePath[] = path === undefined ? [] : [{ kind: 'flakeDir', field: 'path', path }];
    // Input URLs: relative ones start at the flake (unknown when only flake_id is given: the effect checks those).
    const base = path === undefined ? {} : { base: path };
    if (typeof p['url'] === 'string') out.push({ kind: 'flakeRef', field: 'url', path: p['url'], ...base });
    const inputs = p['inputs'];
    if (typeof inputs === 'object' && inputs !== null && !Array.isArray(inputs)) {
      for (const [name, url] of Object.entries(inputs)) {
        if (typeof url === 'string') out.push({ kind: 'flakeRef', field: `inputs.${name}`, path: url, ...base });
      }
    }
    return out;
  },
} satisfies KindDefinition<'flake'>;
