/**
 * What every effect operation gets from the port: the workspace, the command lines, the
 * locks, the caller's signal and progress sink, and the confinement helper that throws.
 */
import { resolve } from 'node:path';
import { resolveInWorkspace } from './confine.js';
import { forbidden } from './failure.js';
import type { GuardPolicy, Verdict } from './guards.js';
import type { KeyedRwLock } from './locks.js';
import type { NixCli } from './nixCli.js';
import { EffectError } from '../errors.js';

export interface EffectEnv {
  /** Absolute workspace root. */
  workspace: string;
  cli: NixCli;
  locks: KeyedRwLock;
  /** Default binary cache for package.cache. */
  defaultCacheUrl: string;
  activationEnabled: boolean;
  /** The file whose presence marks a NixOS host. */
  nixosMarker: string;
  nixosRebuildBin: string;
  /** The rules the intake applies, applied again here (a second line). */
  policy: GuardPolicy;
}

/** Throws the refusal of a guard's verdict (its code, its reason). */
export function enforce(verdict: Verdict): void {
  if (!verdict.ok) throw new EffectError(verdict.code, `${verdict.reason}.`);
}

export interface EffectContext {
  signal: AbortSignal;
  onProgress?: (line: string) => void;
}

/** Resolves a workspace-relative path or throws `forbidden` with the reason. */
export function confined(env: EffectEnv, relative: string, what: string): string {
  const result = resolveInWorkspace(env.workspace, relative);
  if (!result.ok) throw forbidden(`${what}: ${result.reason}.`);
  return result.path;
}

/** True when `dir` is the workspace root (whose flake.nix the port generates). */
export function isWorkspaceRoot(env: EffectEnv, dir: string): boolean {
  return resolve(dir) === resolve(env.workspace);
}

/** The progress/signal options for a nix run, from the caller's context. */
export function runContext(ctx: EffectContext): { signal: AbortSignal; onProgress?: (line: string) => void } {
  return ctx.onProgress === undefined ? { signal: ctx.signal } : { signal: ctx.signal, onProgress: ctx.onProgress };
}
