/**
 * Path confinement: every path the service touches resolves inside the workspace. `..`
 * segments, absolute paths outside it and symlinks that lead out of it are refused.
 */
import { existsSync, lstatSync, realpathSync } from 'node:fs';
import { lstat, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

export type Confined = { ok: true; path: string } | { ok: false; reason: string };

/** True when `child` is `parent` or lies below it (both absolute, normalised). */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** The real path of `target`, following symlinks of its existing prefix; null for a dangling link. */
function realPathOfPrefix(target: string): string | null {
  let existing = target;
  const rest: string[] = [];
  for (;;) {
    let present = false;
    try {
      lstatSync(existing);
      present = true;
    } catch {
      present = false;
    }
    if (present) break;
    const parent = resolve(existing, '..');
    if (parent === existing) break;
    rest.unshift(existing.slice(parent.length).replace(/^[/\\]/, ''));
    existing = parent;
  }
  try {
    return join(realpathSync(existing), ...rest);
  } catch {
    return null;
  }
}

/** The checks that need no file system: NUL bytes, `..` segments, a target outside the root. */
function lexicalTarget(root: string, relativePath: string): Confined {
  if (relativePath.includes('\0')) return { ok: false, reason: 'the path contains a NUL byte' };
  if (relativePath.split(/[/\\]/).includes('..')) {
    return {
      ok: false,
      reason: `the path '${relativePath}' contains a '..' segment; give a path inside the workspace`,
    };
  }
  const target = isAbsolute(relativePath) ? resolve(relativePath) : resolve(root, relativePath);
  if (!isInside(root, target)) {
    return { ok: false, reason: `the path '${relativePath}' is outside the workspace ${root}` };
  }
  return { ok: true, path: target };
}

/**
 * Resolves a workspace-relative (or absolute, inside the workspace) path. Refuses `..`
 * segments, absolute paths outside the workspace and symlinks that escape it.
 */
export function resolveInWorkspace(workspace: string, relativePath: string): Confined {
  const root = resolve(workspace);
  const lexical = lexicalTarget(root, relativePath);
  if (!lexical.ok) return lexical;
  const target = lexical.path;
  if (!existsSync(root)) return { ok: true, path: target };
  const realRoot = realpathSync(root);
  const real = realPathOfPrefix(target);
  if (real === null) {
    return { ok: false, reason: `the path '${relativePath}' goes through a dangling symlink` };
  }
  if (!isInside(realRoot, real)) {
    return {
      ok: false,
      reason: `the path '${relativePath}' leads through a symlink to ${real}, outside the workspace`,
    };
  }
  return { ok: true, path: target };
}

/**
 * {@link resolveInWorkspace} for many files at once, without blocking the event loop: the
 * real path of each directory is looked up once, then each file only needs an `lstat` (and a
 * `realpath` when it is a symlink). Same answers, same reasons.
 */
export async function resolveAllInWorkspace(workspace: string, relativePaths: readonly string[]): Promise<Confined[]> {
  const root = resolve(workspace);
  const realRoot = await realpath(root).catch(() => null);
  const dirs = new Map<string, Promise<string | null>>();
  const realDir = (dir: string): Promise<string | null> => {
    let known = dirs.get(dir);
    if (!known) {
      known = realPathOfPrefixAsync(dir);
      dirs.set(dir, known);
    }
    return known;
  };
  return Promise.all(
    relativePaths.map(async (relativePath): Promise<Confined> => {
      const lexical = lexicalTarget(root, relativePath);
      if (!lexical.ok || realRoot === null) return lexical;
      const target = lexical.path;
      let real: string | null;
      const stat = await lstat(target).catch(() => null);
      if (stat?.isSymbolicLink()) real = await realpath(target).catch(() => null);
      else {
        const dir = await realDir(dirname(target));
        real = dir === null ? null : join(dir, target.slice(dirname(target).length + 1));
      }
      if (real === null) return { ok: false, reason: `the path '${relativePath}' goes through a dangling symlink` };
      if (!isInside(realRoot, real)) {
        return { ok: false, reason: `the path '${relativePath}' leads through a symlink to ${real}, outside the workspace` };
      }
      return { ok: true, path: target };
    }),
  );
}

/** {@link realPathOfPrefix} with promises. */
async function realPathOfPrefixAsync(target: string): Promise<string | null> {
  let existing = target;
  const rest: string[] = [];
  while (!(await lstat(existing).then(() => true, () => false))) {
    const parent = resolve(existing, '..');
    if (parent === existing) break;
    rest.unshift(existing.slice(parent.length).replace(/^[/\\]/, ''));
    existing = parent;
  }
  try {
    return join(await realpath(existing), ...rest);
  } catch {
    return null;
  }
}

/** The path of `absolute` relative to the workspace, with forward slashes ('.' for the root). */
export function workspaceRelative(workspace: string, absolute: string): string {
  const rel = relative(resolve(workspace), absolute).split(sep).join('/');
  return rel === '' ? '.' : rel;
}

/** How nix should address a local flake directory: git semantics when it is a repository root. */
export function localFlakeRef(directory: string): string {
  return existsSync(join(directory, '.git')) ? directory : `path:${directory}`;
}

export type ResolvedRef =
  | {
      ok: true;
      /** The reference to hand to nix. */
      ref: string;
      /** The local directory, when the reference points into the workspace. */
      directory?: string;
    }
  | { ok: false; reason: string };

/** URL schemes that name local paths, and so are confined to the workspace. */
const LOCAL_SCHEMES = ['path:', 'git+file:', 'file:', 'tarball+file:'] as const;

/** Splits `rest?query` into the path part and the `?query` suffix. */
function splitQuery(text: string): [string, string] {
  const at = text.indexOf('?');
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at)];
}

/** Confines an absolute target; `..` inside the reference is fine as long as it stays inside. */
function confineTarget(root: string, target: string, original: string): ResolvedRef {
  if (!isInside(root, target)) return { ok: false, reason: `'${original}' points outside the workspace ${root}` };
  const confined = resolveInWorkspace(root, target);
  if (!confined.ok) return { ok: false, reason: `'${original}': ${confined.reason}` };
  return { ok: true, ref: confined.path, directory: confined.path };
}

/**
 * Resolves a flake reference or input URL. `path:<relative>` and bare relative paths resolve
 * against `base` (default: the workspace root) and must stay inside the workspace, as must
 * absolute `path:`, `git+file:` and `file:` URLs; other schemes (github:, https:) pass through
 * unchanged. A bare word is a path when it names an existing directory, else a registry name.
 * A bare path becomes a git flake when it is a repository root.
 */
export function resolveFlakeRef(workspace: string, flakeRef: string, base?: string): ResolvedRef {
  const root = resolve(workspace);
  const from = base ?? root;
  if (flakeRef.includes('\0')) return { ok: false, reason: 'the reference contains a NUL byte' };
  for (const scheme of LOCAL_SCHEMES) {
    if (!flakeRef.startsWith(scheme)) continue;
    const [rawPath, query] = splitQuery(flakeRef.slice(scheme.length));
    const pathPart = rawPath.startsWith('//') ? rawPath.slice(2) : rawPath;
    if (pathPart === '' || (scheme !== 'path:' && !isAbsolute(pathPart))) {
      return { ok: false, reason: `'${flakeRef}' must name a path inside the workspace` };
    }
    const confined = confineTarget(root, resolve(from, pathPart), flakeRef);
    if (!confined.ok) return confined;
    const ref = scheme === 'path:' ? `path:${confined.ref}${query}` : `${scheme}//${confined.ref}${query}`;
    return { ok: true, ref, ...(confined.directory !== undefined ? { directory: confined.directory } : {}) };
  }
  const hasScheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.test(flakeRef);
  const [refPath, query] = splitQuery(flakeRef);
  const looksLikePath = flakeRef === '.' || /^(?:\.{1,2}\/|\/)/.test(flakeRef) || (!hasScheme && existsSync(resolve(from, refPath)));
  if (!looksLikePath) return { ok: true, ref: flakeRef };
  const confined = confineTarget(root, resolve(from, refPath), flakeRef);
  if (!confined.ok) return confined;
  const dir = confined.ref;
  return { ok: true, ref: `${localFlakeRef(dir)}${query}`, directory: dir };
}

/**
 * Confines an out-link path (`nix build --out-link`): its directory must resolve inside the
 * workspace, but the link itself may already exist and point into /nix/store — nix
 * replaces the link, it never writes through it — so only its parent is resolved.
 */
export function resolveOutLink(workspace: string, relativePath: string): Confined {
  const trimmed = relativePath.replace(/[/\\]+$/, '');
  const parts = trimmed.split(/[/\\]/);
  const leaf = parts.at(-1) ?? '';
  if (leaf === '' || leaf === '.' || leaf === '..') {
    return { ok: false, reason: `the out-link '${relativePath}' must name a file, not a directory` };
  }
  const parent = parts.length > 1 ? parts.slice(0, -1).join('/') || '/' : '.';
  const dir = resolveInWorkspace(workspace, parent);
  if (!dir.ok) return dir;
  const target = join(dir.path, leaf);
  if (existsSync(target) && !lstatSync(target).isSymbolicLink()) {
    return { ok: false, reason: `the out-link '${relativePath}' exists and is not a symlink; choose another path` };
  }
  return { ok: true, path: target };
}
