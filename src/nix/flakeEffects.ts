/**
 * Flake effects: write a flake from a template (plus git init/add), add and remove inputs
 * with a relock that is rolled back byte for byte when it fails, update the lock, check.
 */
import { existsSync, lstatSync } from 'node:fs';
import { mkdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { FlakePath } from '../../machines/index.js';
import { isInside, localFlakeRef, workspaceRelative } from './confine.js';
import { confined, enforce, runContext, type EffectContext, type EffectEnv } from './effectEnv.js';
import { forbidden, nixFailed } from './failure.js';
import { checkFlakePath, checkFlakeRef } from './guards.js';
import { declaredInputs, parseFlake } from './flakeSyntax.js';
import { lockedRootInputs, type LockedInput } from './flakeLock.js';
import { addInput, removeInput, type InputSpec } from './inputsEditor.js';
import { renderFlake } from './templates.js';
import { EffectError, FlakeShapeError, InputEditError, NixSyntaxError, RenderError, TemplateError } from '../errors.js';

/**
 * Resolves the flake directory of a command with the intake's rules (a second line): a path
 * (no URL syntax), inside the workspace, not its root, not one of the service's own files.
 */
function flakeDir(env: EffectEnv, path: string): string {
  if (!FlakePath.safeParse(path).success) {
    throw new EffectError(
      'validation',
      `the flake path ${JSON.stringify(path)} is not a plain path (letters, digits, '.', '_', '+', '-', '/').`,
    );
  }
  enforce(checkFlakePath(env.policy, 'path', path));
  return confined(env, path, 'flake path');
}

/** The local flake at `dir` as nix is handed it: `.` or `path:.`, nix running in `dir`. */
function nixDirectory(dir: string): { ref: string; cwd: string } {
  const local = localFlakeRef(dir);
  if (!local.ok) throw forbidden(`${local.reason}.`);
  return { ref: local.ref, cwd: local.cwd };
}

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

async function readIfExists(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch {
    return null;
  }
}

/** Maps editor and template refusals to nix_failed with their own words. */
function editFailure(e: unknown, path: string): unknown {
  if (e instanceof InputEditError || e instanceof TemplateError || e instanceof RenderError) {
    return nixFailed(`${e.message}.`);
  }
  if (e instanceof FlakeShapeError || e instanceof NixSyntaxError) {
    return nixFailed(`${path}/flake.nix could not be edited: ${e.message}. Fix the file by hand, then retry.`);
  }
  return e;
}

/** flake.write: renders the template into `<workspace>/<path>`, then git init + add. */
export async function writeFlake(
  env: EffectEnv,
  request: { path: string; description: string; template: string; inputs: Record<string, string> },
): Promise<{ files: string[] }> {
  const dir = flakeDir(env, request.path);
  const inputs: Record<string, string> = {};
  for (const [name, url] of Object.entries(request.inputs)) inputs[name] = inputUrl(env, dir, url);
  let rendered;
  try {
    rendered = renderFlake({ template: request.template, description: request.description, inputs, flakeDir: dir });
  } catch (e) {
    throw editFailure(e, request.path);
  }
  return env.locks.exclusive(dir, async () => {
    const flakeFile = join(dir, 'flake.nix');
    const [, flakeText] = rendered.files[0] as [string, string];
    if (lstatExists(flakeFile) && !lstatSync(flakeFile).isFile()) {
      throw new EffectError('validation', `${request.path}/flake.nix is a directory or a link, not a file; choose another path.`);
    }
    const existing = await readIfExists(flakeFile);
    if (existing !== null && existing.toString('utf8') !== flakeText) {
      throw nixFailed(`${request.path}/flake.nix already exists with other content; remove it or choose another path.`);
    }
    await mkdir(dir, { recursive: true });
    const written: string[] = [];
    for (const [name, content] of rendered.files) {
      const target = confined(env, join(dir, name), 'template file');
      // Never replace a file the person already has (a .gitignore, a configuration.nix).
      if (name !== 'flake.nix' && lstatExists(target)) continue;
      await writeFile(target, content);
      written.push(name);
    }
    try {
      for (const name of written.filter((n) => n.endsWith('.nix'))) {
        await env.cli.parseCheck(join(dir, name), `${request.path}/${name}`);
      }
      if (!existsSync(join(dir, '.git'))) await env.cli.git(dir, ['init', '-q']);
      await env.cli.git(
        dir,
        ['add'],
        rendered.files.map(([n]) => n),
      );
    } catch (e) {
      for (const name of written) await rm(join(dir, name), { force: true });
      throw e;
    }
    return { files: rendered.files.map(([n]) => workspaceRelative(env.workspace, join(dir, n))) };
  });
}

/**
 * The URL written into flake.nix for an input. Local URLs must stay inside the workspace;
 * a relative `path:` that leaves the flake's directory is made absolute, because nix 2.8
 * cannot lock a relative path outside the flake's own source tree.
 */
export function inputUrl(env: EffectEnv, dir: string, url: string): string {
  const { verdict, resolved } = checkFlakeRef(env.policy, 'input URL', url, { build: false, base: dir });
  enforce(verdict);
  if (resolved?.directory === undefined) return url;
  const hasScheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.test(url);
  // git+file:// and file:// URLs are absolute already (resolveFlakeRef insists).
  if (hasScheme && !url.startsWith('path:')) return url;
  const bare = hasScheme ? url.slice('path:'.length) : url;
  const query = bare.includes('?') ? bare.slice(bare.indexOf('?')) : '';
  const pathPart = query === '' ? bare : bare.slice(0, bare.indexOf('?'));
  if (!isAbsolute(pathPart) && isInside(dir, resolved.directory)) return `path:${pathPart}${query}`;
  return `path:${resolved.directory}${query}`;
}

/** Runs `edit` on flake.nix, checks it parses, relocks; restores flake.nix and flake.lock on any failure. */
async function editAndRelock(
  env: EffectEnv,
  path: string,
  ctx: EffectContext,
  edit: (text: string) => string | null,
  lockArgs: string[],
): Promise<string | null> {
  const dir = flakeDir(env, path);
  return env.locks.exclusive(dir, async () => {
    const flakeFile = join(dir, 'flake.nix');
    const lockFile = join(dir, 'flake.lock');
    const before = await readIfExists(flakeFile);
    if (before === null) throw nixFailed(`there is no flake.nix at ${path}; create the flake first.`);
    const lockBefore = await readIfExists(lockFile);
    let edited: string | null;
    try {
      edited = edit(before.toString('utf8'));
    } catch (e) {
      throw editFailure(e, path);
    }
    if (edited !== null) await writeFile(flakeFile, edited);
    const { ref, cwd } = nixDirectory(dir);
    try {
      await env.cli.parseCheck(flakeFile, `${path}/flake.nix`);
      await env.cli.nix(['flake', 'lock', ...lockArgs], [ref], {
        ...runContext(ctx),
        cwd,
        what: `nix flake lock ${path}`,
        advice: 'check the input URL and that it is reachable offline',
      });
    } catch (e) {
      await writeFile(flakeFile, before);
      if (lockBefore !== null) await writeFile(lockFile, lockBefore);
      else if (existsSync(lockFile)) {
        await unlink(lockFile);
        // nix staged the new lock file; unstage it so the repository is as it was.
        if (existsSync(join(dir, '.git'))) await env.cli.git(dir, ['rm', '-q', '--cached', '--ignore-unmatch'], ['flake.lock']);
      }
      if (e instanceof EffectError) {
        throw new EffectError(e.code, `${e.message} flake.nix and flake.lock were restored to their previous content.`, e.details);
      }
      throw e;
    }
    return readIfExists(lockFile).then((b) => (b === null ? null : b.toString('utf8')));
  });
}

/** flake.add_input: adds the input to flake.nix and locks it. */
export async function addFlakeInput(
  env: EffectEnv,
  request: { path: string } & InputSpec,
  ctx: EffectContext,
): Promise<{ locked?: LockedInput }> {
  const dir = flakeDir(env, request.path);
  const spec: InputSpec = { name: request.name, url: inputUrl(env, dir, request.url) };
  if (request.follows !== undefined) spec.follows = request.follows;
  if (request.flake !== undefined) spec.flake = request.flake;
  const lock = await editAndRelock(env, request.path, ctx, (text) => addInput(text, spec), ['--update-input', request.name]);
  const locked = lock === null ? undefined : lockedRootInputs(lock)[request.name];
  return locked === undefined ? {} : { locked };
}

/** flake.remove_input: removes the input (and its outputs argument) and relocks. */
export async function removeFlakeInput(
  env: EffectEnv,
  request: { path: string; name: string },
  ctx: EffectContext,
): Promise<Record<string, never>> {
  await editAndRelock(env, request.path, ctx, (text) => removeInput(text, request.name), []);
  return {};
}

/** flake.update: `nix flake update`, or `nix flake lock --update-input` per named input. */
export async function updateFlake(
  env: EffectEnv,
  request: { path: string; inputs?: string[] },
  ctx: EffectContext,
): Promise<{ locked: Record<string, LockedInput> }> {
  const dir = flakeDir(env, request.path);
  return env.locks.exclusive(dir, async () => {
    const text = await readIfExists(join(dir, 'flake.nix'));
    if (text === null) throw nixFailed(`there is no flake.nix at ${request.path}; create the flake first.`);
    const names = request.inputs ?? [];
    if (names.length > 0) {
      let declared: string[];
      try {
        declared = declaredInputs(parseFlake(text.toString('utf8')));
      } catch (e) {
        throw editFailure(e, request.path);
      }
      const unknown = names.filter((n) => !declared.includes(n));
      if (unknown.length > 0) {
        throw nixFailed(
          `${request.path}/flake.nix has no input ${unknown.map((n) => `'${n}'`).join(', ')}; its inputs are: ${declared.join(', ') || '(none)'}.`,
        );
      }
    }
    const { ref, cwd } = nixDirectory(dir);
    const options = names.length === 0 ? ['flake', 'update'] : ['flake', 'lock', ...names.flatMap((n) => ['--update-input', n])];
    await env.cli.nix(options, [ref], { ...runContext(ctx), cwd, what: `nix ${options.slice(0, 2).join(' ')} ${request.path}` });
    const lock = await readIfExists(join(dir, 'flake.lock'));
    return { locked: lock === null ? {} : lockedRootInputs(lock.toString('utf8')) };
  });
}

/** flake.check: `nix flake check`, leaving the lock file as it is. */
export async function checkFlake(env: EffectEnv, request: { path: string }, ctx: EffectContext): Promise<{ duration_ms: number }> {
  const dir = flakeDir(env, request.path);
  return env.locks.shared(dir, async () => {
    if (!existsSync(join(dir, 'flake.nix'))) throw nixFailed(`there is no flake.nix at ${request.path}; create the flake first.`);
    const { ref, cwd } = nixDirectory(dir);
    const run = await env.cli.nix(['flake', 'check', '--no-write-lock-file', '-L'], [ref], {
      ...runContext(ctx),
      cwd,
      what: `nix flake check ${request.path}`,
      advice: 'fix the failing output and check again',
    });
    return { duration_ms: run.durationMs };
  });
}
