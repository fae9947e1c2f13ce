/**
 * The configuration kind: one NixOS host configuration, `hosts/<name>/configuration.nix`,
 * addressed by its name, activated and rolled back on a NixOS host.
 */
import { z } from 'zod';
import type { KindDefinition } from '../_shared/kind.js';
import { byName, namedList } from '../_shared/namedKind.js';
import { oneOrMany } from '../_shared/querySchemas.js';
import { ConfigStates, HistoryKinds, configCommands, configFacts } from './config.events.js';
import { CONFIG_MACHINE_VERSION, configMachine, configNaturalKey } from './config.machine.js';

const list = namedList(ConfigStates);

export const configKind = {
  kind: 'config',
  machine: configMachine,
  version: CONFIG_MACHINE_VERSION,
  commands: configCommands,
  facts: configFacts,
  naturalKey: configNaturalKey,
  addressing: byName('config'),
  queries: {
    get: { shape: 'addressed' },
    get_history: { shape: 'addressed', page: true, extra: { kind: oneOrMany(HistoryKinds).optional() } },
    list: list.shape === 'list' ? { shape: 'list', filters: { ...list.filters, hostname: z.string().min(1).max(63).optional() } } : list,
    current: { shape: 'plain' },
  },
  queryAliases: { get_current: 'current' },
  files: { type: 'configuration', write: 'config.write', body: 'configuration' },
} satisfies KindDefinition<'config'>;
