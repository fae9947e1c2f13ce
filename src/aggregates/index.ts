/**
 * The door of `src/aggregates/`: every aggregate kind at run time — one file per kind with
 * its read model, query runners, workspace files and effect handlers. The service hands
 * these to the shared layers, which never branch on a kind's name.
 */
import type { EffectHandlers } from '../nix/index.js';
import type { KindProjection } from '../projections/kindProjection.js';
import { configEffects, configProjection } from './config.js';
import { flakeEffects, flakeProjection } from './flake.js';
import { moduleEffects, moduleProjection } from './module.js';
import { overlayEffects, overlayProjection } from './overlay.js';
import { packageEffects, packageProjection } from './package.js';

/** Every kind's projection (read model, queries, files), in registry order. */
export const kindProjections = [flakeProjection, packageProjection, moduleProjection, overlayProjection, configProjection] as unknown as readonly KindProjection[];

/** Every effect's handler, from the kinds that own them: the Nix port's dispatch table (an effect without one does not compile). */
export const kindEffects: EffectHandlers = { ...flakeEffects, ...packageEffects, ...moduleEffects, ...overlayEffects, ...configEffects };

/** A flake's history from its stored events, for effects that need its directory (see src/runtime/effectPreparation.ts). */
export { flakeSource } from './flake.js';
