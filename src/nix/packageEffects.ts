/**
 * Package effects: `nix build --json` with live build logs, and `nix copy` of the built
 * closure to a binary cache (by default a local `file://` cache in the workspace).
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { resolveOutLink, type ResolvedRef } from './confine.js';
import { confined, enforce, runContext, type EffectContext, type EffectEnv } from './effectEnv.js';
import { forbidden, nixFailed } from './failure.js';
import { checkCacheUrl, checkFlakeRef, checkOutLink } from './guards.js';

export type BuildResult = {
  store_paths: Record<string, string>;
  drv_path: string;
  duration_ms: number;
};

/** One entry of `nix build --json`. */
interface BuiltEntry {
  drvPath?: string;
  outputs?: Record<string, string>;
}

/** The intake's rules again (a second line): a local ref inside the workspace, a remote one only when allowed. */
function resolveRef(env: EffectEnv, flakeRef: string): Extract<ResolvedRef, { ok: true }> {
  const { verdict, resolved } = checkFlakeRef(env.policy, 'flake_ref', flakeRef, { build: true });
  enforce(verdict);
  if (resolved === undefined) throw forbidden(`flake_ref '${flakeRef}' could not be resolved.`);
  return resolved;
}

/** Runs `fn` holding the flake directory shared, so it never sees a half-edited flake.nix. */
function withFlake<T>(env: EffectEnv, resolved: { directory?: string }, fn: () => Promise<T>): Promise<T> {
  return resolved.directory === undefined ? fn() : env.locks.shared(resolved.directory, fn);
}

/** package.build: builds `<flake_ref>#<attribute>` and returns the real store paths. */
export async function buildPackage(
  env: EffectEnv,
  request: { flake_ref: string; attribute: string; output_path?: string },
  ctx: EffectContext,
): Promise<BuildResult> {
  const resolved = resolveRef(env, request.flake_ref);
  const installable = `${resolved.ref}#${request.attribute}`;
  // The lock file is the flake aggregate's business: a build never rewrites it.
  const options = ['build', '--json', '--no-write-lock-file', '--print-build-logs'];
  if (request.output_path !== undefined) {
    enforce(checkOutLink(env.policy, 'output_path', request.output_path));
    const link = resolveOutLink(env.workspace, request.output_path);
    if (!link.ok) throw forbidden(`output_path: ${link.reason}.`);
    const outLink = link.path;
    await mkdir(dirname(outLink), { recursive: true });
    options.push('--out-link', outLink);
  } else {
    options.push('--no-link');
  }
  const run = await withFlake(env, resolved, () =>
    env.cli.nix(options, [installable], {
      ...runContext(ctx),
      what: `nix build ${request.flake_ref}#${request.attribute}`,
      advice: 'the log tail shows why; fix the derivation and build again',
    }),
  );
  let entries: BuiltEntry[];
  try {
    entries = JSON.parse(run.stdout) as BuiltEntry[];
  } catch {
    throw nixFailed(`nix build printed no JSON result (got ${JSON.stringify(run.stdout.slice(0, 200))}); check the nix version.`);
  }
  const first = entries[0];
  if (!Array.isArray(entries) || first?.drvPath === undefined || first.outputs === undefined) {
    throw nixFailed(`nix build returned no store path for ${request.attribute}; is it a derivation?`);
  }
  const store_paths: Record<string, string> = {};
  for (const entry of entries) Object.assign(store_paths, entry.outputs ?? {});
  return { store_paths, drv_path: first.drvPath, duration_ms: run.durationMs };
}

const STORE_PATH = /^\/[^\s]+\/[0-9a-z]{32}-[^\s/]+$/;

/**
 * The cache URL to use: the operator's default (any store), or a command's `file://` cache
 * inside the workspace (the intake's rules again, as a second line).
 */
async function cacheUrl(env: EffectEnv, requested: string | undefined): Promise<string> {
  if (requested !== undefined) enforce(checkCacheUrl(env.policy, 'cache_url', requested));
  const url = requested ?? env.defaultCacheUrl;
  if (!url.startsWith('file://')) return url;
  const path = url.slice('file://'.length).split('?')[0] ?? '';
  const dir = requested === undefined ? path : confined(env, path, 'cache_url');
  await mkdir(dir, { recursive: true });
  return url;
}

/** package.cache: copies the closure of the built paths to the binary cache. */
export async function cachePackage(
  env: EffectEnv,
  request: { flake_ref: string; attribute: string; store_paths: string[]; cache_url?: string },
  ctx: EffectContext,
): Promise<{ cache_url: string; paths: string[] }> {
  const url = await cacheUrl(env, request.cache_url);
  let targets = request.store_paths;
  const bad = targets.find((p) => !STORE_PATH.test(p));
  if (bad !== undefined) throw nixFailed(`'${bad}' is not a store path; build the package first, then cache it.`);
  if (targets.length === 0) {
    // No recorded paths: let nix evaluate (and, if needed, build) the installable.
    const built = await buildPackage(env, { flake_ref: request.flake_ref, attribute: request.attribute }, ctx);
    targets = Object.values(built.store_paths);
  }
  const closureRun = await env.cli.nix(['path-info', '--recursive'], targets, {
    ...runContext(ctx),
    what: 'nix path-info',
    advice: 'the store paths are gone (garbage-collected?); build the package again, then cache it',
  });
  const closure = closureRun.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .sort();
  await env.locks.exclusive(`cache:${url}`, () =>
    env.cli.nix(['copy', '--to', url], targets, {
      ...runContext(ctx),
      what: `nix copy --to ${url}`,
      advice: 'check that the cache URL is writable',
    }),
  );
  return { cache_url: url, paths: closure };
}
