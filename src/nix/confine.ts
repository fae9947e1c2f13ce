/**
 * Path confinement: every path the service touches resolves inside the workspace. `..`
 * segments, absolute paths outside it and symlinks that lead out of it are refused.
 */
import { existsSync, lstatSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

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

/**
 * Resolves a workspace-relative (or absolute, inside the workspace) path. Refuses `..`
 * segments, absolute paths outside the workspace and symlinks that escape it.
 */
export function resolveInWorkspace(workspace: string, relativePath: string): Confined {
  if (relativePath.includes('\0')) return { ok: false, reason: 'the path contains a NUL byte' };
  const root = resolve(workspace);
  if (relativePath.split(/[/\\]/).includes('..')) {
    return { ok: false, reason: `the path '${relativePath}' contains a '..' segment; give a path inside the workspace` };
  }
  const target = isAbsolute(relativePath) ? resolve(relativePath) : resolve(root, relativePath);
  if (!isInside(root, target)) {
    return { ok: false, reason: `the path '${relativePath}' is outside the workspace ${root}` };
  }
  if (!existsSync(root)) return { ok: true, path: target };
  const realRoot = realpathSync(root);
  const real = realPathOfPrefix(target);
  if (real === null) {
    return { ok: false, reason: `the path '${relativePath}' goes through a dangling symlink` };
  }
  if (!isInside(realRoot, real)) {
    return { ok: false, reason: `the path '${relativePath}' leads through a symlink to ${real}, outside the workspace` };
  }
  return { ok: true, path: target };
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
  | { ok: true; ref: string; /** The local flake directory, when the ref points into the workspace. */ directory?: string }
  | { ok: false; reason: string };

const LOCAL_SCHEMES = ['path:', 'git+file:', 'file:', 'tarball+file:'] as const;

/** Splits `scheme:rest?query` into its path part and the `?query` suffix. */
function splitQuery(text: string): [string, string] {
  const at = text.indexOf('?');
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at)];
}

/**
 * Resolves a flake reference from a command. `path:<relative>` and bare paths resolve inside
 * the workspace; `path:`, `git+file:` and `file:` URLs with absolute paths must stay inside it;
 * other schemes (github:, https:, registry names) pass through unchanged.
 */
export function resolveFlakeRef(workspace: string, flakeRef: string, base?: string): ResolvedRef {
  const root = resolve(workspace);
  const from = base ?? root;
  for (const scheme of LOCAL_SCHEMES) {
    if (!flakeRef.startsWith(scheme)) continue;
    const [rawPath, query] = splitQuery(flakeRef.slice(scheme.length));
    const pathPart = rawPath.startsWith('//') ? rawPath.slice(2) : rawPath;
    if (pathPart === '' || (scheme !== 'path:' && !isAbsolute(pathPart))) {
      return { ok: false, reason: `'${flakeRef}' must name an absolute path or a path: inside the workspace` };
    }
    const relativeToRoot = isAbsolute(pathPart) ? pathPart : relative(root, resolve(from, pathPart)) || '.';
    if (!isAbsolute(pathPart) && pathPart.split('/').includes('..') && base !== undefined) {
      // A relative input of a flake may climb out of the flake, never out of the workspace.
      const target = resolve(from, pathPart);
      if (!isInside(root, target)) return { ok: false, reason: `'${flakeRef}' points outside the workspace ${root}` };
      const confined = resolveInWorkspace(root, target);
      if (!confined.ok) return confined;
      return { ok: true, ref: `${scheme}${target}${query}`, directory: target };
    }
    const confined = resolveInWorkspace(root, relativeToRoot);
    if (!confined.ok) return confined;
    const ref = scheme === 'path:' ? `path:${confined.path}${query}` : `${scheme}//${confined.path}${query}`;
    return { ok: true, ref, directory: confined.path };
  }
  const bare = /^(?:\.{0,2}\/|\/)/.test(flakeRef) || (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(flakeRef) && existsSync(join(from, flakeRef, 'flake.nix')));
  if (bare || flakeRef === '.') {
    const confined = resolveInWorkspace(root, isAbsolute(flakeRef) ? flakeRef : relative(root, resolve(from, flakeRef)) || '.');
    if (!confined.ok) return confined;
    return { ok: true, ref: localFlakeRef(confined.path), directory: confined.path };
  }
  return { ok: true, ref: flakeRef };
}
