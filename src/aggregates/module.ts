/** The module kind at run time: the read model, queries and files it shares with overlays, and its effects. */
import { performWorkspaceFile, type EffectHandlersOf } from '../nix/index.js';
import { resourceProjection } from './resource.js';

export const moduleProjection = resourceProjection('module');

/** The module kind's effects: its file, written and removed through the workspace batch. */
export const moduleEffects: EffectHandlersOf<'module'> = {
  'module.write': performWorkspaceFile,
  'module.delete': performWorkspaceFile,
};
