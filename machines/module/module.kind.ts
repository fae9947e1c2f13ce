/** The module kind: one NixOS module, `modules/<name>.nix`, addressed by its name. */
import type { KindDefinition } from '../_shared/kind.js';
import { byName, namedList } from '../_shared/namedKind.js';
import { ResourceStates } from '../_shared/resourceMachine.js';
import { moduleCommands, moduleFacts } from './module.events.js';
import { MODULE_MACHINE_VERSION, moduleMachine, moduleNaturalKey } from './module.machine.js';

export const moduleKind = {
  kind: 'module',
  machine: moduleMachine,
  version: MODULE_MACHINE_VERSION,
  commands: moduleCommands,
  facts: moduleFacts,
  naturalKey: moduleNaturalKey,
  addressing: byName('module'),
  queries: { get: { shape: 'addressed' }, list: namedList(ResourceStates) },
  files: { type: 'module', write: 'module.write', remove: 'module.delete', body: 'module' },
} satisfies KindDefinition<'module'>;
