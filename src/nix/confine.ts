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

/**
 * Characters nix keeps as they are when it turns a directory into a `path:` or `git+file:`
 * URL (and reparses it): anything else — `?`, `#`, `%`, white space — would be read as URL
 * syntax or make the URL invalid.
 */
const URL_SAFE_DIRECTORY = /^[A-Za-z0-9._~+=,@/-]+$/;

/** Null when nix can be given `directory` inside a URL, else why not. */
export function urlUnsafeDirectory(directory: string): string | null {
  if (URL_SAFE_DIRECTORY.test(directory)) return null;
  return `the directory ${JSON.stringify(directory)} holds characters nix reads as URL syntax (only letters, digits and ._~+=,@-/ are kept as they are); move the workspace to such a path`;
}

/** True when `directory` is the root of a git repository (nix then sees only what git tracks). */
function isRepositoryRoot(directory: string): boolean {
  return existsSync(join(directory, '.git'));
}

/**
 * How nix is handed a local flake directory: run nix in it and name it `.` (a repository
 * root: git semantics) or `path:.` (any other directory), so the directory's own name is
 * never parsed as a URL. nix rebuilds a `git+file:` URL from a repository's real path, so a
 * repository root must also be {@link urlUnsafeDirectory URL-safe}.
 */
export function localFlakeRef(directory: string): { ok: true; ref: string; cwd: string } | { ok: false; reason: string } {
  if (!isRepositoryRoot(directory)) return { ok: true, ref: 'path:.', cwd: directory };
  const unsafe = urlUnsafeDirectory(directory);
  return unsafe === null ? { ok: true, ref: '.', cwd: directory } : { ok: false, reason: unsafe };
}

export type ResolvedRef =
  | {
      ok: true;
      /** The reference to hand to nix. */
      ref: string;
      /** The local directory, when the reference points into the workspace. */
      directory?: string;
      /** The directory nix reads the flake from, when a `dir` parameter names a subdirectory. */
      flakeDirectory?: string;
    }
  | { ok: false; reason: string; code?: 'validation' };

/** URL schemes that name local paths (`path:`, `file:`, `git+file:`, `hg+file:`, `tarball+file:` …), any letter case. */
const LOCAL_SCHEME = /^(?:path|(?:[a-z0-9.-]+\+)?file):/i;

/** Splits `rest?query` into the path part and the `?query` suffix. */
function splitQuery(text: string): [string, string] {
  const at = text.indexOf('?');
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at)];
}

/** The value of `dir` in a `?query` (percent-decoded as nix decodes it), undefined without one. */
function dirParameter(query: string): string | undefined | null {
  for (const pair of query.slice(1).split('&')) {
    const at = pair.indexOf('=');
    const key = at < 0 ? pair : pair.slice(0, at);
    if (key !== 'dir') continue;
    try {
      return decodeURIComponent(at < 0 ? '' : pair.slice(at + 1));
    } catch {
      return null;
    }
  }
  return undefined;
}

/** Confines an absolute target; `..` inside the reference is fine as long as it stays inside. */
function confineTarget(root: string, target: string, original: string): ResolvedRef {
  if (!isInside(root, target)) return { ok: false, reason: `'${original}' points outside the workspace ${root}` };
  const confined = resolveInWorkspace(root, target);
  if (!confined.ok) return { ok: false, reason: `'${original}': ${confined.reason}` };
  const unsafe = urlUnsafeDirectory(confined.path);
  if (unsafe !== null) return { ok: false, reason: `'${original}': ${unsafe}` };
  return { ok: true, ref: confined.path, directory: confined.path };
}

/** Adds the flake directory a `dir` parameter selects, which must stay inside `directory`. */
function withDirParameter(resolved: ResolvedRef & { ok: true }, query: string, original: string): ResolvedRef {
  const directory = resolved.directory;
  if (directory === undefined) return resolved;
  const dir = dirParameter(query);
  if (dir === null) return { ok: false, reason: `'${original}' has a dir parameter that is not valid percent-encoding`, code: 'validation' };
  if (dir === undefined) return resolved;
  const target = resolve(directory, dir);
  if (isAbsolute(dir) || !isInside(directory, target)) {
    return { ok: false, reason: `'${original}' has dir=${JSON.stringify(dir)}, which leaves ${directory}; dir must name a subdirectory of the flake` };
  }
  return { ...resolved, flakeDirectory: target };
}

/**
 * Resolves a flake reference or input URL. `path:<relative>` and bare relative paths resolve
 * against `base` (default: the workspace root) and must stay inside the workspace, as must
 * absolute `path:`, `git+file:`, `file:`, `hg+file:` and `tarball+file:` URLs (and a `dir`
 * parameter must stay inside the flake); other schemes (github:, https:) pass through
 * unchanged. A bare word is a path when it names an existing directory, else a registry name.
 * A bare path becomes a git flake when it is a repository root. A local path holding `%` is
 * refused: nix versions disagree on decoding it.
 */
export function resolveFlakeRef(workspace: string, flakeRef: string, base?: string): ResolvedRef {
  const root = resolve(workspace);
  const from = base ?? root;
  if (flakeRef.includes('\0')) return { ok: false, reason: 'the reference contains a NUL byte', code: 'validation' };
  const local = LOCAL_SCHEME.exec(flakeRef);
  if (local !== null) {
    const scheme = local[0];
    const [rawPath, query] = splitQuery(flakeRef.slice(scheme.length));
    const pathPart = rawPath.startsWith('//') ? rawPath.slice(2) : rawPath;
    if (pathPart === '' || (scheme.toLowerCase() !== 'path:' && !isAbsolute(pathPart))) {
      return { ok: false, reason: `'${flakeRef}' must name a path inside the workspace` };
    }
    if (pathPart.includes('%')) return { ok: false, reason: `'${flakeRef}' holds '%' in its path; write the path without percent-escapes`, code: 'validation' };
    const confined = confineTarget(root, resolve(from, pathPart), flakeRef);
    if (!confined.ok) return confined;
    const ref = scheme.toLowerCase() === 'path:' ? `${scheme}${confined.ref}${query}` : `${scheme}//${confined.ref}${query}`;
    return withDirParameter({ ok: true, ref, ...(confined.directory !== undefined ? { directory: confined.directory } : {}) }, query, flakeRef);
  }
  const hasScheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.test(flakeRef);
  const [refPath, query] = splitQuery(flakeRef);
  const looksLikePath = flakeRef === '.' || /^(?:\.{1,2}\/|\/)/.test(flakeRef) || (!hasScheme && existsSync(resolve(from, refPath)));
  if (!looksLikePath) return { ok: true, ref: flakeRef };
  if (refPath.includes('%')) return { ok: false, reason: `'${flakeRef}' holds '%' in its path; write the path without percent-escapes`, code: 'validation' };
  const confined = confineTarget(root, resolve(from, refPath), flakeRef);
  if (!confined.ok) return confined;
  const dir = confined.ref;
  const ref = isRepositoryRoot(dir) ? dir : `path:${dir}`;
  return withDirParameter({ ok: true, ref: `${ref}${query}`, directory: dir }, query, flakeRef);
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

/**
 * Where `target` (inside the workspace) really is once symlinks are followed, expressed under
 * the workspace root (so reserved names can be checked on it); null when it cannot be known.
 */
export function realTarget(workspace: string, target: string): string | null {
  const root = resolve(workspace);
  if (!existsSync(root)) return target;
  const real = realPathOfPrefix(target);
  if (real === null) return null;
  const realRoot = realpathSync(root);
  return isInside(realRoot, real) ? join(root, relative(realRoot, real)) : null;
}
