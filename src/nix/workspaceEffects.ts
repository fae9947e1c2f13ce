/**
 * Module, overlay and configuration files of the workspace. Writes and deletes (one, or a
 * batch), the regeneration of the workspace flake.nix and the git staging run under one
 * exclusive lock of the workspace root, because they share that flake and that git index.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { nixFileLayouts, nixFileTypes, workspaceFileOfRequest, type EffectRequest, type NixFileType, type WorkspaceFileOp } from '../../machines/index.js';
import { resolveAllInWorkspace, type Confined } from './confine.js';
import { confined, type EffectEnv } from './effectEnv.js';
import { RenderError } from '../errors.js';
import { forbidden, nixFailed } from './failure.js';
import { fileRenderers, renderWorkspaceFlake, RESOURCE_NAME, type WorkspaceContents } from './workspaceRenderers.js';

/** The workspace-relative file of the resource `name` of a type (from its layout); throws when the name cannot be a file name. */
export function resourceFile(type: NixFileType, name: string): string {
  if (!RESOURCE_NAME.test(name)) throw nixFailed(`'${name}' is not a valid ${type} name.`);
  return nixFileLayouts[type].path(name);
}

/** The text of a resource's file; throws {@link RenderError} (or a `forbidden` EffectError) when it cannot be written. */
export function renderResource(type: NixFileType, name: string, body: Record<string, unknown>): string {
  return fileRenderers[type](name, body);
}

function render(type: NixFileType, name: string, body: Record<string, unknown>): string {
  try {
    return renderResource(type, name, body);
  } catch (e) {
    if (e instanceof RenderError) throw nixFailed(`the ${type} '${name}' cannot be written as Nix: ${e.message}.`);
    throw e;
  }
}

/** The names of the files of one type in the workspace, sorted (entries of its directory that are ours and hold their file). */
async function names(env: EffectEnv, type: NixFileType): Promise<string[]> {
  const layout = nixFileLayouts[type];
  try {
    const entries = await readdir(join(env.workspace, layout.dir), { withFileTypes: true });
    const found: string[] = [];
    for (const entry of entries) {
      const name = layout.nameOf(entry.name, entry.isDirectory());
      if (name === undefined || !RESOURCE_NAME.test(name)) continue;
      // A file inside the entry (a configuration's directory) must be there too.
      const file = layout.path(name);
      if (file !== `${layout.dir}/${entry.name}` && !existsSync(join(env.workspace, file))) continue;
      found.push(name);
    }
    return found.sort();
  } catch {
    return [];
  }
}

async function scan(env: EffectEnv): Promise<WorkspaceContents> {
  const contents = {} as Record<NixFileType, string[]>;
  for (const type of nixFileTypes) contents[type] = await names(env, type);
  return contents;
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

/**
 * Rewrites <workspace>/flake.nix from what is on disk (when it differs); checks it parses;
 * stages it with the files of the batch (also those already as they should be: a crash may
 * have come between writing a file and staging it).
 */
async function regenerate(env: EffectEnv, changed: { add: string[]; remove: string[] }): Promise<void> {
  const flakeFile = confined(env, 'flake.nix', 'workspace flake');
  const previous = await readIfExists(flakeFile);
  const text = renderWorkspaceFlake(await scan(env));
  const same = previous !== null && previous.toString('utf8') === text;
  if (!same) await writeFile(flakeFile, text);
  try {
    if (!same) await env.cli.parseCheck(flakeFile, 'flake.nix');
    // nix sees only files git knows about; stage exactly ours (subflakes have their own repositories).
    if (!existsSync(join(env.workspace, '.git'))) await env.cli.git(env.workspace, ['init', '-q']);
    if (changed.remove.length > 0) {
      await env.cli.git(env.workspace, ['rm', '-q', '--cached', '--ignore-unmatch'], changed.remove);
    }
    await env.cli.git(env.workspace, ['add'], ['flake.nix', ...changed.add]);
  } catch (e) {
    await restore(flakeFile, previous);
    throw e;
  }
}

export type WorkspaceOpResult = { ok: true; file: string } | { ok: false; error: unknown };

interface Prepared {
  index: number;
  type: NixFileType;
  file: string;
  target: string;
  text?: string;
  /** The file already holds `text` (or is already gone): nothing to write or parse. */
  unchanged?: boolean;
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
export async function applyWorkspaceOps(env: EffectEnv, ops: readonly WorkspaceFileOp[]): Promise<WorkspaceOpResult[]> {
  const results: WorkspaceOpResult[] = new Array<WorkspaceOpResult>(ops.length);
  const byTarget = new Map<string, Prepared>();
  const followers = new Map<string, number[]>();
  // Confinement of every file first, with promises: a batch of thousands of files must not
  // block the event loop with synchronous lstat/realpath calls.
  const files = ops.map((op, index) => {
    try {
      return resourceFile(op.type, op.name);
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
      if (!c.ok) throw forbidden(`${op.type} file: ${c.reason}.`);
      const target = c.path;
      const prepared: Prepared = { index, type: op.type, file, target };
      if (op.body !== undefined) prepared.text = render(op.type, op.name, op.body);
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
        const before = await readIfExists(p.target);
        previous.set(p.target, before);
        // A file that already holds its content (the start-up catch-up, mostly) is left alone.
        p.unchanged = p.text !== undefined ? before !== null && before.toString('utf8') === p.text : before === null;
        if (p.unchanged) return;
        if (p.text !== undefined) await writeFile(p.target, p.text);
        else await rm(p.target, { force: true });
      }),
    );
    const bad = await unparsable(
      env,
      items.filter((p) => p.text !== undefined && !p.unchanged),
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
      // A file in a directory of its own (a configuration's) takes the directory with it.
      if (p.text === undefined && dirname(p.file) !== nixFileLayouts[p.type].dir) await rmdir(dirname(p.target)).catch(() => undefined);
    }
  });
  for (const [target, indexes] of followers) {
    const winner = byTarget.get(target);
    const outcome = winner === undefined ? undefined : results[winner.index];
    for (const index of indexes) if (outcome !== undefined) results[index] = outcome;
  }
  return results;
}

/**
 * Writes or removes the workspace file of one request (module.write, overlay.delete, …: any
 * effect a kind declares in its `files`): renders, checks and stages it, or removes it and
 * drops it from the workspace flake. The effect handler of every such effect.
 */
export async function performWorkspaceFile(env: EffectEnv, request: EffectRequest): Promise<{ file: string }> {
  const op = workspaceFileOfRequest(request);
  if (op === undefined) throw new Error(`${request.kind} writes no workspace file`);
  const [result] = await applyWorkspaceOps(env, [op]);
  if (result === undefined) throw new Error('no result for the workspace operation');
  if (!result.ok) throw result.error;
  return { file: result.file };
}
