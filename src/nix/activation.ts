/**
 * Activation and rollback of a NixOS configuration. They run only on a NixOS host with
 * activation enabled; elsewhere they report `executed: false` with the reason, and the
 * recorded event is the instruction a host agent acts on.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runProcess } from './process.js';
import { confined, runContext, type EffectContext, type EffectEnv } from './effectEnv.js';
import { urlUnsafeDirectory } from './confine.js';
import { nixFailed } from './failure.js';
import { legacyCommandLine } from './nixCli.js';
import { resourceFile } from './workspaceEffects.js';
import { EffectError } from '../errors.js';

export type ActivationResult = {
  executed: boolean;
  reason?: string;
};

/** Why activation cannot run here, or null when it can. */
function notHere(env: EffectEnv): string | null {
  if (!env.activationEnabled) {
    return 'activation is disabled in the service configuration; the event records the activation for a host agent to perform';
  }
  if (!existsSync(env.nixosMarker)) {
    return `this host is not NixOS (${env.nixosMarker} is missing); the event records the activation for a host agent to perform`;
  }
  return null;
}

/** The system profile NixOS boots from. */
const SYSTEM_PROFILE = '/nix/var/nix/profiles/system';

async function runStep(env: EffectEnv, bin: string, args: string[], ctx: EffectContext, what: string): Promise<void> {
  const { signal, onProgress } = runContext(ctx);
  const run = await runProcess(bin, args, {
    env: env.cli.env,
    signal,
    streamStdout: true,
    ...(onProgress !== undefined ? { onLine: onProgress } : {}),
  });
  if (run.spawnError !== undefined) {
    throw nixFailed(`${what} could not start (${run.spawnError.code ?? run.spawnError.message}); is ${bin} installed?`);
  }
  if (run.aborted) throw nixFailed(`${what} was cancelled; run it again.`, { log_tail: run.tail, duration_ms: run.durationMs });
  if (run.exitCode !== 0) {
    throw new EffectError('nix_failed', `${what} failed (exit ${run.exitCode ?? 'signal'}); the log tail shows why.`, {
      ...(run.exitCode !== null ? { exit_code: run.exitCode } : {}),
      log_tail: run.tail,
      duration_ms: run.durationMs,
    });
  }
}

function requireConfiguration(env: EffectEnv, name: string): void {
  const file = resourceFile('configuration', name);
  if (!existsSync(confined(env, file, 'configuration file'))) {
    throw nixFailed(`${file} is missing; update the configuration to write it again, then activate.`);
  }
}

/** config.activate: `nixos-rebuild <switch|boot|test> --flake <workspace>#<name>`. */
export async function activateConfiguration(
  env: EffectEnv,
  request: { name: string; activation_type: 'switch' | 'boot' | 'test' },
  ctx: EffectContext,
): Promise<ActivationResult> {
  const reason = notHere(env);
  if (reason !== null) return { executed: false, reason };
  requireConfiguration(env, request.name);
  // nixos-rebuild takes no `--`: its one positional is the action, never user text; the flake
  // reference is the value of --flake, and the workspace must not read as a URL.
  const unsafe = urlUnsafeDirectory(env.workspace);
  if (unsafe !== null) throw nixFailed(`${unsafe}.`);
  const args = [...legacyCommandLine([], [request.activation_type]), '--flake', `${env.workspace}#${request.name}`];
  await env.locks.shared(env.workspace, () => runStep(env, env.nixosRebuildBin, args, ctx, `nixos-rebuild ${request.activation_type}`));
  return { executed: true };
}

/**
 * config.rollback: one generation back is `nixos-rebuild switch --rollback`; another target
 * switches the system profile to that generation and activates it (the service's generation
 * numbers are the system profile's when only this service activates the host).
 */
export async function rollbackConfiguration(
  env: EffectEnv,
  request: { name: string; from_generation: number; to_generation: number },
  ctx: EffectContext,
): Promise<ActivationResult> {
  const reason = notHere(env);
  if (reason !== null) return { executed: false, reason };
  if (request.to_generation === request.from_generation - 1) {
    await runStep(env, env.nixosRebuildBin, [...legacyCommandLine([], ['switch']), '--rollback'], ctx, 'nixos-rebuild switch --rollback');
    return { executed: true };
  }
  const nixEnv = env.cli.nixBin.includes('/') ? join(dirname(env.cli.nixBin), 'nix-env') : 'nix-env';
  const generation = String(request.to_generation);
  await runStep(
    env,
    nixEnv,
    // Options and their values only: nix-env reads no positional here.
    legacyCommandLine(['--profile', SYSTEM_PROFILE, '--switch-generation', generation], []),
    ctx,
    `nix-env --switch-generation ${generation}`,
  );
  await runStep(
    env,
    join(SYSTEM_PROFILE, 'bin', 'switch-to-configuration'),
    legacyCommandLine([], ['switch']),
    ctx,
    'switch-to-configuration switch',
  );
  return { executed: true };
}
