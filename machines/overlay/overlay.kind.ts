/** The overlay kind: one nixpkgs overlay, `overlays/<name>.nix`, addressed by its name. */
import type { KindDefinition } from '../_shared/kind.js';
import { byName, namedList } from '../_shared/namedKind.js';
import { ResourceStates } from '../_shared/resourceMachine.js';
import { overlayCommands, overlayFacts } from './overlay.events.js';
import { OVERLAY_MACHINE_VERSION, overlayMachine, overlayNaturalKey } from './overlay.machine.js';

export const overlayKind = {
  kind: 'overlay',
  machine: overlayMachine,
  version: OVERLAY_MACHINE_VERSION,
  commands: overlayCommands,
  facts: overlayFacts,
  naturalKey: overlayNaturalKey,
  addressing: byName('overlay'),
  queries: { get: { shape: 'addressed' }, list: namedList(ResourceStates) },
  files: { type: 'overlay', write: 'overlay.write', remove: 'overlay.delete', body: 'overlay' },
} satisfies KindDefinition<'overlay'>;
