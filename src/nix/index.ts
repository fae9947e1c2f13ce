/**
 * The Nix port: the door of src/nix. The runtime imports only this file.
 */
export { createNixPort, type EffectContext, type NixPort, type NixPortOptions } from './port.js';
export { resolveInWorkspace, resolveOutLink, type Confined } from './confine.js';
export { INSTALL_HINT, type ProbeResult } from './nixCli.js';
export type { LockedInput } from './flakeLock.js';
export { TEMPLATE_NAMES } from './templates.js';
