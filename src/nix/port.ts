/**
 * The Nix port: performs the effects the aggregates request, in the workspace, by running
 * the nix CLI. It never throws; every failure comes back as `effect.failed` with a code and
 * a message that says what to do next.
 */
import { resolve } from 'node:path';
import { workspaceFileOfRequest, type EffectKind, type EffectOutcome, type EffectRequest, type ErrorCode } from '../../machines/index.js';
import type { EffectContext, EffectEnv } from './effectEnv.js';
import { handlerParts, type EffectHandler, type EffectHandlers, type EffectResultData } from './effectHandler.js';
import { toFailedOutcome } from './failure.js';
import { materializeFlake, type FlakeSource, type MaterializedFlake } from './flakeMaterialize.js';
import { KeyedRwLock } from './locks.js';
import { NixCli, type ProbeResult } from './nixCli.js';
import { defaultCacheUrlFor } from './guards.js';
import { warmLauncher } from './launcher/launcher.js';
import { checkRenderable } from './renderCheck.js';
import { WorkspaceThread } from './workspaceThread.js';
import type { EffectError } from '../errors.js';

export type { EffectContext } from './effectEnv.js';

export interface NixPort {
  /** Performs one effect; never throws: failures come back as effect.failed with code nix_failed | forbidden | internal. */
  perform(request: EffectRequest, ctx: EffectContext): Promise<EffectOutcome>;
  /**
   * Performs many effects; module/overlay/config writes and deletes go together (one parse
   * run, one workspace flake regeneration, one git staging). One outcome per request, in
   * order; other kinds run one after another. Never throws.
   */
  performBatch(requests: EffectRequest[], signal: AbortSignal): Promise<EffectOutcome[]>;
  /**
   * Why the file a module/overlay/config request would write cannot be rendered (or parsed,
   * for raw Nix), before its fact is recorded; `undefined` when it can, or writes no file.
   */
  check(request: EffectRequest): Refusal | undefined | Promise<Refusal | undefined>;
  /**
   * Before an effect that works in a local flake (a build, a cache copy, a flake edit, lock or
   * check): when this workspace has no flake.nix there, write the flake from its history
   * (`source`: its stored events) and relock it offline (src/nix/flakeMaterialize.ts). Never
   * throws: a failure comes back with `reason` (the effect then fails on its own terms).
   */
  materializeFlake(request: EffectRequest, source: FlakeSource, ctx: EffectContext): Promise<MaterializedFlake>;
  /** Does the effect read files other aggregates own (its handler's `readsWorkspace`)? */
  readsWorkspace(request: EffectRequest): boolean;
  /** Is the nix CLI usable? (cached probe) with the install hint when not. */
  probe(): Promise<ProbeResult>;
  /** Stop the workspace thread (shutdown). */
  close(): Promise<void>;
}

export interface NixPortOptions {
  /** The workspace directory every path is confined to. */
  workspace: string;
  /** The handler of every effect, from the aggregate kinds (src/aggregates: `kindEffects`). */
  handlers: EffectHandlers;
  /** The nix binary (default `nix` on the PATH); nix-instantiate and nix-env are looked up next to it. */
  nixBin?: string;
  /** Run nixos-rebuild for config.activate/rollback (only on NixOS hosts). Default false. */
  activationEnabled?: boolean;
  /** Binary cache for package.cache without a cache_url. Default `file://<workspace>/.binary-cache` (as the configuration's). */
  defaultCacheUrl?: string;
  /** May package.build build flakes from outside the workspace? Default false (see docs/security.md). */
  allowRemoteBuilds?: boolean;
  /** Environment of the child processes (default process.env); NIX_CONFIG is extended, never replaced. */
  env?: NodeJS.ProcessEnv;
  /** The file that marks a NixOS host. Default `/etc/NIXOS`. */
  nixosMarker?: string;
  /** The nixos-rebuild binary. Default `nixos-rebuild` on the PATH. */
  nixosRebuildBin?: string;
}

/** A request the port refuses before anything happens: the reply's code, message and details. */
export interface Refusal {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** Creates the port with its real adapter, the nix CLI. */
export function createNixPort(options: NixPortOptions): NixPort {
  // Start the process launcher while the heap is small: starting it forks this process.
  warmLauncher();
  const workspace = resolve(options.workspace);
  const allowRemoteBuilds = options.allowRemoteBuilds ?? false;
  // Remote flakes are sandboxed where the host can, unless the operator's nix.conf decides.
  const cli = new NixCli(options.nixBin ?? 'nix', options.env ?? process.env, { sandboxByDefault: allowRemoteBuilds });
  const defaultCacheUrl = options.defaultCacheUrl ?? defaultCacheUrlFor(workspace);
  const env: EffectEnv = {
    workspace,
    cli,
    locks: new KeyedRwLock(),
    policy: { workspace, defaultCacheUrl, allowRemoteBuilds },
    defaultCacheUrl,
    activationEnabled: options.activationEnabled ?? false,
    nixosMarker: options.nixosMarker ?? '/etc/NIXOS',
    nixosRebuildBin: options.nixosRebuildBin ?? 'nixos-rebuild',
  };
  // The handler of the request's kind (a correlated union TypeScript cannot follow: the table's type pairs them).
  const handlerOf = (request: EffectRequest): ReturnType<typeof handlerParts<EffectKind>> => {
    const handler = Object.hasOwn(options.handlers, request.kind) ? (options.handlers[request.kind] as EffectHandler<EffectKind>) : undefined;
    if (handler === undefined) throw new Error(`no Nix operation for the effect ${JSON.stringify(request.kind)}`);
    return handlerParts(handler);
  };
  const perform = async (request: EffectRequest, ctx: EffectContext): Promise<EffectOutcome> => {
    try {
      const { run, needsNix } = handlerOf(request);
      if (needsNix) await cli.requireNix();
      const result: EffectResultData = await run(env, request, ctx);
      return { type: 'effect.succeeded', kind: request.kind, result };
    } catch (e) {
      return toFailedOutcome(request.kind, e);
    }
  };
  const thread = new WorkspaceThread({ workspace, nixBin: options.nixBin ?? 'nix', env: { ...(options.env ?? process.env) } });
  const performBatch = async (requests: EffectRequest[], signal: AbortSignal): Promise<EffectOutcome[]> => {
    const outcomes: EffectOutcome[] = new Array<EffectOutcome>(requests.length);
    const files: { index: number; request: EffectRequest }[] = [];
    for (const [index, request] of requests.entries()) {
      if (workspaceFileOfRequest(request) !== undefined) files.push({ index, request });
      else outcomes[index] = await perform(request, { signal });
    }
    if (files.length === 0) return outcomes;
    // The lock is held here, where activations and builds take it too; the thread does the work.
    const done = await env.locks.exclusive(workspace, () => thread.apply(files.map((f) => f.request)));
    files.forEach((f, i) => (outcomes[f.index] = done[i] as EffectOutcome));
    return outcomes;
  };
  const refusal = (refused: EffectError | undefined): Refusal | undefined => {
    if (refused === undefined) return undefined;
    const details: Record<string, unknown> = { ...refused.details };
    return Object.keys(details).length > 0 ? { code: refused.code, message: refused.message, details } : { code: refused.code, message: refused.message };
  };
  const check = (request: EffectRequest): Refusal | undefined | Promise<Refusal | undefined> => {
    const checked = checkRenderable(cli, request);
    return checked instanceof Promise ? checked.then(refusal) : refusal(checked);
  };
  const materializing = new Map<string, Promise<MaterializedFlake>>();
  const materialize = async (request: EffectRequest, source: FlakeSource, ctx: EffectContext): Promise<MaterializedFlake> => {
    try {
      const path = handlerOf(request).worksIn?.(env, request);
      return path === undefined ? { written: false } : await materializeFlake(env, path, source, ctx, materializing);
    } catch (e) {
      return { written: false, reason: toFailedOutcome(request.kind, e).message };
    }
  };
  const readsWorkspace = (request: EffectRequest): boolean => {
    try {
      return handlerOf(request).readsWorkspace;
    } catch {
      return false;
    }
  };
  return { probe: () => cli.probe(), perform, performBatch, check, materializeFlake: materialize, readsWorkspace, close: () => thread.close() };
}

