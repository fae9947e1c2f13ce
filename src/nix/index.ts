/**
 * The Nix port: the door of src/nix. The runtime and the aggregate kinds import only this file.
 */
export { createNixPort, type EffectContext, type NixPort, type NixPortOptions, type Refusal } from './port.js';
export type { EffectHandler, EffectHandlers, EffectHandlersOf, EffectResultData, EffectRun } from './effectHandler.js';
// The operations behind the effects, for the aggregate kinds' handler tables (src/aggregates).
export { activateConfiguration, rollbackConfiguration } from './activation.js';
export { addFlakeInput, checkFlake, removeFlakeInput, updateFlake, writeFlake } from './flakeEffects.js';
export { buildPackage, cachePackage } from './packageEffects.js';
export { performWorkspaceFile } from './workspaceEffects.js';
export { flakeDirectoryOfRef, type FlakeHistoryStep, type FlakeSource, type MaterializedFlake } from './flakeMaterialize.js';
export { resolveInWorkspace, resolveOutLink, type Confined } from './confine.js';
export { checkCacheUrl, checkFlakePath, checkFlakeRef, checkOutLink, defaultCacheUrlFor, type GuardPolicy, type Verdict } from './guards.js';
export { DEFAULT_BINARY_CACHE_DIR } from './reserved.js';
export { INSTALL_HINT, type ProbeResult } from './nixCli.js';
export type { LockedInput } from './flakeLock.js';
export { TEMPLATE_NAMES } from './templates.js';
