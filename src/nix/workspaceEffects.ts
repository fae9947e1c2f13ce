/**
 * Module, overlay and configuration files of the workspace. Writes and deletes (one, or a
 * batch), the regeneration of the workspace flake.nix and the git staging run under one
 * exclusive lock of the workspace root, because they share that flake and that git index.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { resolveAllInWorkspace, type Confined } from './confine.js';
import { confined, type EffectEnv } from './effectEnv.js';
import { forbidden, nixFailed } from './failure.js';
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

/** One write (with its body) or delete (without) of a module, overlay or configuration file. */
export interface WorkspaceOp {
  kind: ResourceKind;
  name: string;
  body?: Record<string, unknown>;
}

export type WorkspaceOpResult = { ok: true; file: string } | { ok: false; error: unknown };

interface Prepared {
  index: number;
  file: string;
  target: string;
  text?: string;
}

/** Finds which of the files do not parse: one run for all, then one per file only when that fails. */
async function unparsable(env: EffectEnv, items: Prepared[]): Promise<Map<string, unknown>> {
  const bad = new Map<string, unknown>();
  try {
    await env.cli.parseCheck(
      items.map((p) => p.target),
      items.length === 1 ? (items[0] as Prepared).file : `${items.length} workspace files`,
    );
  } catch (e) {
    if (items.length === 1) bad.set((items[0] as Prepared).target, e);
    else {
      for (const p of items) await env.cli.parseCheck(p.target, p.file).catch((one: unknown) => bad.set(p.target, one));
    }
  }
  return bad;
}

/**
 * Applies writes and deletes together: every file is written, all are parse-checked in one
 * `nix-instantiate` run, the workspace flake is regenerated and git is staged once. A file
 * that does not parse is restored and fails alone; if the workspace flake cannot be
 * regenerated, every file is restored and every operation fails.
 */
export async function applyWorkspaceOps(env: EffectEnv, ops: WorkspaceOp[]): Promise<WorkspaceOpResult[]> {
  const results: WorkspaceOpResult[] = new Array<WorkspaceOpResult>(ops.length);
  const byTarget = new Map<string, Prepared>();
  const followers = new Map<string, number[]>();
  // Confinement of every file first, with promises: a batch of thousands of files must not
  // block the event loop with synchronous lstat/realpath calls.
  const files = ops.map((op, index) => {
    try {
      return resourceFile(op.kind, op.name);
    } catch (e) {
      results[index] = { ok: false, error: e };
      return undefined;
    }
  });
  const listed = files.filter((f): f is string => f !== undefined);
  const checked = new Map(listed.map((f, i) => [f, i]));
  const confinement = await resolveAllInWorkspace(env.workspace, listed);
  ops.forEach((op, index) => {
    const file = files[index];
    if (file === undefined) return;
    try {
      const c = confinement[checked.get(file) as number] as Confined;
      if (!c.ok) throw forbidden(`${op.kind} file: ${c.reason}.`);
      const target = c.path;
      const prepared: Prepared = { index, file, target };
      if (op.body !== undefined) prepared.text = render(op.kind, op.name, op.body);
      // Several operations on one file: the last one is written, the others share its outcome.
      const earlier = byTarget.get(target);
      if (earlier !== undefined) followers.set(target, [...(followers.get(target) ?? []), earlier.index]);
      byTarget.set(target, prepared);
    } catch (e) {
      results[index] = { ok: false, error: e };
    }
  });
  const items = [...byTarget.values()];
  await env.locks.exclusive(env.workspace, async () => {
    const previous = new Map<string, Buffer | null>();
    const dirs = new Set(items.filter((p) => p.text !== undefined).map((p) => dirname(p.target)));
    for (const dir of dirs) await mkdir(dir, { recursive: true });
    // Distinct files (one per target), so they can be read and written side by side.
    await Promise.all(
      items.map(async (p) => {
        previous.set(p.target, await readIfExists(p.target));
        if (p.text !== undefined) await writeFile(p.target, p.text);
        else await rm(p.target, { force: true });
      }),
    );
    const bad = await unparsable(
      env,
      items.filter((p) => p.text !== undefined),
    );
    const good = items.filter((p) => !bad.has(p.target));
    for (const p of items) {
      const error = bad.get(p.target);
      if (error === undefined) continue;
      await restore(p.target, previous.get(p.target) ?? null);
      results[p.index] = { ok: false, error };
    }
    try {
      if (good.length > 0) {
        await regenerate(env, {
          add: good.filter((p) => p.text !== undefined).map((p) => p.file),
          remove: good.filter((p) => p.text === undefined).map((p) => p.file),
        });
      }
    } catch (e) {
      for (const p of good) {
        await restore(p.target, previous.get(p.target) ?? null);
        results[p.index] = { ok: false, error: e };
      }
      return;
    }
    for (const p of good) {
      results[p.index] = { ok: true, file: p.file };
      // A configuration's directory goes with its last file.
      if (p.text === undefined && p.file.startsWith('hosts/')) await rmdir(dirname(p.target)).catch(() => undefined);
    }
  });
  for (const [target, indexes] of followers) {
    const winner = byTarget.get(target);
    const outcome = winner === undefined ? undefined : results[winner.index];
    for (const index of indexes) if (outcome !== undefined) results[index] = outcome;
  }
  return results;
}

/** Applies one operation; throws its failure. */
async function applyOne(env: EffectEnv, op: WorkspaceOp): Promise<{ file: string }> {
  const [result] = await applyWorkspaceOps(env, [op]);
  if (result === undefined) throw new Error('no result for the workspace operation');
  if (!result.ok) throw result.error;
  return { file: result.file };
}

/** module.write / overlay.write / config.write: renders, checks and stages the file. */
export function writeResource(env: EffectEnv, kind: ResourceKind, name: string, body: Record<string, unknown>): Promise<{ file: string }> {
  return applyOne(env, { kind, name, body });
}

/** module.delete / overlay.delete: removes the file and drops it from the workspace flake. */
export function deleteResource(env: EffectEnv, kind: ResourceKind, name: string): Promise<{ file: string }> {
  return applyOne(env, { kind, name });
}
