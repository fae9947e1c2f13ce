/**
 * What performs one kind of effect: the runtime part of an aggregate kind (each
 * src/aggregates/<kind>.ts lists the handlers of its effects). The port looks the handler up
 * by the request's kind; it knows no kind by name.
 */
import type { EffectKind, EffectRequest } from '../../machines/index.js';
import type { EffectContext, EffectEnv } from './effectEnv.js';

/** What an effect returns on success (the `result` of `effect.succeeded`). */
export type EffectResultData = Record<string, unknown>;

/** Performs one effect of kind `K`; throws an EffectError (src/errors.ts) for an expected failure. */
export type EffectRun<K extends EffectKind> = (env: EffectEnv, request: Extract<EffectRequest, { kind: K }>, ctx: EffectContext) => Promise<EffectResultData>;

/**
 * What an effect needs besides its run. `needsNix: false`: it can answer without the nix CLI (an
 * activation that records itself when it cannot run); otherwise nix is checked first.
 * `worksIn`: the local flake directory (workspace-relative) it works in, which an instance that
 * lacks it writes from the flake's stored events first (SPEC §9: workspaces are per instance).
 * `readsWorkspace`: it reads files other aggregates own (an activation reads modules and
 * overlays): with several instances the whole workspace is caught up first.
 */
export interface EffectNeeds<K extends EffectKind> {
  needsNix?: boolean;
  worksIn?: (env: EffectEnv, request: Extract<EffectRequest, { kind: K }>) => string | undefined;
  readsWorkspace?: boolean;
}

/** The handler of one kind of effect: its run, or the run with what it needs. */
export type EffectHandler<K extends EffectKind> = EffectRun<K> | ({ run: EffectRun<K> } & EffectNeeds<K>);

/** One handler for every effect: the port's dispatch table (a missing effect is a type error). */
export type EffectHandlers = { readonly [K in EffectKind]: EffectHandler<K> };

/** The handlers of the effects whose kind starts with `<prefix>.` (one aggregate kind's), all of them. */
export type EffectHandlersOf<P extends string> = { readonly [K in Extract<EffectKind, `${P}.${string}`>]: EffectHandler<K> };

/** The run of a handler and what it needs (nix unless it says otherwise). */
export function handlerParts<K extends EffectKind>(handler: EffectHandler<K>): { run: EffectRun<K>; needsNix: boolean; worksIn?: EffectNeeds<K>['worksIn']; readsWorkspace: boolean } {
  if (typeof handler === 'function') return { run: handler, needsNix: true, readsWorkspace: false };
  return { run: handler.run, needsNix: handler.needsNix ?? true, worksIn: handler.worksIn, readsWorkspace: handler.readsWorkspace ?? false };
}
