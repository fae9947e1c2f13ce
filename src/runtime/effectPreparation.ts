/**
 * What an effect needs in this instance's workspace before it runs (SPEC §9: workspaces are per
 * instance). An effect that works in a local flake (its handler's `worksIn`: a build, a cache
 * copy, a flake edit) may need one created through another instance, or whose owner this
 * instance just became: when the directory is missing, the Nix port writes it from the flake's
 * stored events and relocks it offline. An effect that reads files other aggregates own (its
 * handler's `readsWorkspace`: an activation) gets the whole workspace caught up from the read
 * models first when several instances serve the deployment.
 */
import type { Logger } from 'pino';
import type { EffectRequest } from '../../machines/index.js';
import type { FlakeSource, MaterializedFlake, EffectContext as NixEffectContext } from '../nix/index.js';

export interface EffectPreparationDeps {
  /** The Nix port's `materializeFlake` (nothing to do for an effect that works in no flake). */
  materializeFlake(request: EffectRequest, source: FlakeSource, ctx: NixEffectContext): Promise<MaterializedFlake>;
  /** The Nix port's `readsWorkspace`. */
  readsWorkspace(request: EffectRequest): boolean;
  /** A flake's history from its stored events (`flakeSource` of src/aggregates/flake.ts). */
  flakeSource: FlakeSource;
  /** True while more than one instance serves the deployment (files may have been written elsewhere). */
  shared(): boolean;
  /** Catch every workspace file up with the read models and wait until written. */
  catchUpAll?(): Promise<void>;
  logger: Logger;
}

export class EffectPreparation {
  /** Flakes written from their events, and failures to do so (the effect then fails on its own terms). */
  readonly counts = { flakes_materialized: 0, flake_failures: 0, activation_catch_ups: 0 };

  constructor(private readonly deps: EffectPreparationDeps) {}

  /** Run before the effect `request`; never throws. */
  async before(request: EffectRequest, ctx: NixEffectContext): Promise<void> {
    if (this.deps.readsWorkspace(request)) {
      if (this.deps.shared() && this.deps.catchUpAll) {
        this.counts.activation_catch_ups++;
        await this.deps.catchUpAll();
      }
      return;
    }
    const done = await this.deps.materializeFlake(request, this.deps.flakeSource, { signal: ctx.signal });
    if (done.written) {
      this.counts.flakes_materialized++;
      this.deps.logger.info({ path: done.path, effect: request.kind }, 'flake written from its events into this instance’s workspace');
    } else if (done.reason !== undefined) {
      this.counts.flake_failures++;
      this.deps.logger.warn({ path: done.path, effect: request.kind, reason: done.reason }, 'the flake this effect needs is not in the workspace and could not be written from its events');
    }
  }
}
