/**
 * Module, overlay and configuration files of the workspace. Each write or delete, the
 * regeneration of the workspace flake.nix and the git staging run under one exclusive lock of
 * the workspace root, because they share that flake and that git index.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { confined, type EffectEnv } from './effectEnv.js';
import { nixFailed } from './failure.js';
import { RenderError } from './nixValue.js';
import {
  renderConfiguration,
  renderModule,
  renderOverlay,
  renderWorkspaceFlake,
  RESOURCE_NAME,
  type WorkspaceContents,
} from './workspaceRenderers.js';

export type ResourceKind = 'module' | 'overlay' | 'config';

/** The workspace-relative file of a resource. */
export function resourceFile(kind: ResourceKind, name: string): string {
  if (!RESOURCE_NAME.test(name)) throw nixFailed(`'${name}' is not a valid ${kind} name.`);
  if (kind === 'module') return `modules/${name}.nix`;
  if (kind === 'overlay') return `overlays/${name}.nix`;
  return `hosts/${name}/configuration.nix`;
}

function render(kind: ResourceKind, name: string, body: Record<string, unknown>): string {
  try {
    if (kind === 'module') return renderModule(name, body);
    if (kind === 'overlay') return renderOverlay(name, body);
    return renderConfiguration(name, body);
  } catch (e) {
    if (e instanceof RenderError) throw nixFailed(`the ${kind} '${name}' cannot be written as Nix: ${e.message}.`);
    throw e;
  }
}

async function names(dir: string, suffix: string): Promise<string[]> {
  try {
    const entries = await readdir(dir);
    return entries
      .filter((e) => e.endsWith(suffix))
      .map((e) => (suffix === '' ? e : e.slice(0, -suffix.length)))
      .filter((n) => RESOURCE_NAME.test(n))
      .sort();
  } catch {
    return [];
  }
}

async function scan(env: EffectEnv): Promise<WorkspaceContents> {
  const hostDirs = await names(join(env.workspace, 'hosts'), '');
  const hosts = hostDirs.filter((h) => existsSync(join(env.workspace, 'hosts', h, 'configuration.nix')));
  return {
    modules: await names(join(env.workspace, 'modules'), '.nix'),
    overlays: await names(join(env.workspace, 'overlays'), '.nix'),
    hosts,
  };
}

async function readIfExists(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch {
    return null;
  }
}

async function restore(path: string, previous: Buffer | null): Promise<void> {
  if (previous !== null) await writeFile(path, previous);
  else await rm(path, { force: true });
}

/** Rewrites <workspace>/flake.nix from what is on disk; checks it parses; stages it. */
async function regenerate(env: EffectEnv, changed: { add: string[]; remove: string[] }): Promise<void> {
  const flakeFile = confined(env, 'flake.nix', 'workspace flake');
  const previous = await readIfExists(flakeFile);
  await writeFile(flakeFile, renderWorkspaceFlake(await scan(env)));
  try {
    await env.cli.parseCheck(flakeFile, 'flake.nix');
    // nix sees only files git knows about; stage exactly ours (subflakes have their own repositories).
    if (!existsSync(join(env.workspace, '.git'))) await env.cli.git(env.workspace, ['init', '-q']);
    if (changed.remove.length > 0) {
      await env.cli.git(env.workspace, ['rm', '-q', '--cached', '--ignore-unmatch', '--', ...changed.remove]);
    }
    await env.cli.git(env.workspace, ['add', '--', 'flake.nix', ...changed.add]);
  } catch (e) {
    await restore(flakeFile, previous);
    throw e;
  }
}

/** module.write / overlay.write / config.write: renders, checks and stages the file. */
export async function writeResource(
  env: EffectEnv,
  kind: ResourceKind,
  name: string,
  body: Record<string, unknown>,
): Promise<{ file: string }> {
  const file = resourceFile(kind, name);
  const text = render(kind, name, body);
  return env.locks.exclusive(env.workspace, async () => {
    const target = confined(env, file, `${kind} file`);
    const previous = await readIfExists(target);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, text);
    try {
      await env.cli.parseCheck(target, file);
      await regenerate(env, { add: [file], remove: [] });
    } catch (e) {
      await restore(target, previous);
      throw e;
    }
    return { file };
  });
}

/** module.delete / overlay.delete: removes the file and drops it from the workspace flake. */
export async function deleteResource(env: EffectEnv, kind: ResourceKind, name: string): Promise<{ file: string }> {
  const file = resourceFile(kind, name);
  return env.locks.exclusive(env.workspace, async () => {
    const target = confined(env, file, `${kind} file`);
    const previous = await readIfExists(target);
    if (previous !== null) await unlink(target);
    try {
      await regenerate(env, { add: [], remove: [file] });
    } catch (e) {
      await restore(target, previous);
      throw e;
    }
    if (kind === 'config') await rmdir(dirname(target)).catch(() => undefined);
    return { file };
  });
}
