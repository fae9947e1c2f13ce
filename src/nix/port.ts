/**
 * The Nix port: performs the effects the aggregates request, in the workspace, by running
 * the nix CLI. It never throws; every failure comes back as `effect.failed` with a code and
 * a message that says what to do next.
 */
import { resolve } from 'node:path';
import type { EffectOutcome, EffectRequest } from '../../machines/index.js';
import { activateConfiguration, rollbackConfiguration } from './activation.js';
import type { EffectContext, EffectEnv } from './effectEnv.js';
import { toFailedOutcome } from './failure.js';
import { addFlakeInput, checkFlake, removeFlakeInput, updateFlake, writeFlake } from './flakeEffects.js';
import { KeyedRwLock } from './locks.js';
import { NixCli, type ProbeResult } from './nixCli.js';
import { buildPackage, cachePackage } from './packageEffects.js';
import { warmLauncher } from './launcher/launcher.js';
import { workspaceOp } from './workspaceBatch.js';
import { deleteResource, writeResource } from './workspaceEffects.js';
import { WorkspaceThread } from './workspaceThread.js';

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
  /** Is the nix CLI usable? (cached probe) with the install hint when not. */
  probe(): Promise<ProbeResult>;
  /** Stop the workspace thread (shutdown). */
  close(): Promise<void>;
}

export interface NixPortOptions {
  /** The workspace directory every path is confined to. */
  workspace: string;
  /** The nix binary (default `nix` on the PATH); nix-instantiate and nix-env are looked up next to it. */
  nixBin?: string;
  /** Run nixos-rebuild for config.activate/rollback (only on NixOS hosts). Default false. */
  activationEnabled?: boolean;
  /** Binary cache for package.cache without a cache_url. Default `file://<workspace>/.cache/binary`. */
  defaultCacheUrl?: string;
  /** Environment of the child processes (default process.env); NIX_CONFIG is extended, never replaced. */
  env?: NodeJS.ProcessEnv;
  /** The file that marks a NixOS host. Default `/etc/NIXOS`. */
  nixosMarker?: string;
  /** The nixos-rebuild binary. Default `nixos-rebuild` on the PATH. */
  nixosRebuildBin?: string;
}

type Result = Record<string, unknown>;

/** Runs the operation for one request kind. */
async function dispatch(env: EffectEnv, request: EffectRequest, ctx: EffectContext): Promise<Result> {
  switch (request.kind) {
    case 'flake.write':
      return writeFlake(env, request);
    case 'flake.add_input':
      return addFlakeInput(env, request, ctx);
    case 'flake.remove_input':
      return removeFlakeInput(env, request, ctx);
    case 'flake.update':
      return updateFlake(env, request, ctx);
    case 'flake.check':
      return checkFlake(env, request, ctx);
    case 'package.build':
      return buildPackage(env, request, ctx);
    case 'package.cache':
      return cachePackage(env, request, ctx);
    case 'module.write':
      return writeResource(env, 'module', request.name, request.module);
    case 'module.delete':
      return deleteResource(env, 'module', request.name);
    case 'overlay.write':
      return writeResource(env, 'overlay', request.name, request.overlay);
    case 'overlay.delete':
      return deleteResource(env, 'overlay', request.name);
    case 'config.write':
      return writeResource(env, 'config', request.name, request.configuration);
    case 'config.activate':
      return activateConfiguration(env, request, ctx);
    case 'config.rollback':
      return rollbackConfiguration(env, request, ctx);
    default: {
      const unknown: never = request;
      throw new Error(`no Nix operation for the effect ${JSON.stringify((unknown as { kind?: unknown }).kind)}`);
    }
  }
}

/** Kinds that can answer without nix (they record the activation when they cannot run it). */
const WITHOUT_NIX: ReadonlySet<string> = new Set(['config.activate', 'config.rollback']);

/** Creates the port with its real adapter, the nix CLI. */
export function createNixPort(options: NixPortOptions): NixPort {
  // Start the process launcher while the heap is small: starting it forks this process.
  warmLauncher();
  const workspace = resolve(options.workspace);
  const cli = new NixCli(options.nixBin ?? 'nix', options.env ?? process.env);
  const env: EffectEnv = {
    workspace,
    cli,
    locks: new KeyedRwLock(),
    defaultCacheUrl: options.defaultCacheUrl ?? `file://${resolve(workspace, '.cache/binary')}`,
    activationEnabled: options.activationEnabled ?? false,
    nixosMarker: options.nixosMarker ?? '/etc/NIXOS',
    nixosRebuildBin: options.nixosRebuildBin ?? 'nixos-rebuild',
  };
  const perform = async (request: EffectRequest, ctx: EffectContext): Promise<EffectOutcome> => {
    try {
      if (!WITHOUT_NIX.has(request.kind)) await cli.requireNix();
      const result = await dispatch(env, request, ctx);
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
      if (workspaceOp(request) !== undefined) files.push({ index, request });
      else outcomes[index] = await perform(request, { signal });
    }
    if (files.length === 0) return outcomes;
    // The lock is held here, where activations and builds take it too; the thread does the work.
    const done = await env.locks.exclusive(workspace, () => thread.apply(files.map((f) => f.request)));
    files.forEach((f, i) => (outcomes[f.index] = done[i] as EffectOutcome));
    return outcomes;
  };
  return { probe: () => cli.probe(), perform, performBatch, close: () => thread.close() };
}

