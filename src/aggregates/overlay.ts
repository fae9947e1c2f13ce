/** The overlay kind at run time: the read model, queries and files it shares with modules, and its effects. */
import { performWorkspaceFile, type EffectHandlersOf } from '../nix/index.js';
import { resourceProjection } from './resource.js';

export const overlayProjection = resourceProjection('overlay');

/** The overlay kind's effects: its file, written and removed through the workspace batch. */
export const overlayEffects: EffectHandlersOf<'overlay'> = {
  'overlay.write': performWorkspaceFile,
  'overlay.delete': performWorkspaceFile,
};
