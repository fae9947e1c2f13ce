/**
 * The rules for every place a command names, asked the same way by the command intake
 * (before any event) and by the effects (a second line): flake paths, out-links, flake refs
 * and input URLs, cache URLs. Each answer is `ok`, or a refusal with its reply code
 * (`forbidden` for a place the service does not allow, `validation` for a value that cannot
 * work) and a reason that names the field.
 */
import { statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isInside, realTarget, resolveFlakeRef, resolveInWorkspace, resolveOutLink, type ResolvedRef } from './confine.js';
import { DEFAULT_BINARY_CACHE_DIR, RESERVED_SUMMARY, reservedReason } from './reserved.js';

/** What the rules depend on. */
export interface GuardPolicy {
  /** Absolute workspace root. */
  workspace: string;
  /** The operator's binary cache (trusted: any store URL); a `file://` one inside the workspace is reserved. */
  defaultCacheUrl: string;
  /** May `package.build` build flakes from outside the workspace (remote refs)? */
  allowRemoteBuilds: boolean;
}

export type Verdict = { ok: true } | { ok: false; code: 'forbidden' | 'validation'; reason: string };

const OK: Verdict = { ok: true };
const forbid = (reason: string): Verdict => ({ ok: false, code: 'forbidden', reason });
const invalid = (reason: string): Verdict => ({ ok: false, code: 'validation', reason });

/** The policy's settings that name them, for messages. */
export const REMOTE_BUILDS_SETTING = 'nix.allowRemoteBuilds (NIX_ALLOW_REMOTE_BUILDS=true)';

/** The path nix uses for a `file://` store URL (the text after `file://`, up to `?`). */
function fileStorePath(url: string): string {
  return url.slice('file://'.length).split('?')[0] ?? '';
}

/** The default cache's directory when it is a `file://` cache inside the workspace. */
export function defaultCacheDirectory(policy: GuardPolicy): string | undefined {
  if (!policy.defaultCacheUrl.startsWith('file://')) return undefined;
  let path = fileStorePath(policy.defaultCacheUrl);
  try {
    path = decodeURIComponent(path);
  } catch {
    // not percent-encoded: nix takes the text as it is
  }
  return isAbsolute(path) && isInside(policy.workspace, resolve(path)) ? resolve(path) : undefined;
}

/** The reserved-name rule on the place and on where its symlinks lead. */
function reserved(policy: GuardPolicy, field: string, value: string, absolute: string): Verdict {
  const cache = defaultCacheDirectory(policy);
  const extra = cache === undefined ? [] : [cache];
  const real = realTarget(policy.workspace, absolute) ?? absolute;
  const why = reservedReason(policy.workspace, absolute, extra) ?? reservedReason(policy.workspace, real, extra);
  if (why === null) return OK;
  return forbid(`${field} '${value}' names one of the service's own files: ${why}; the service reserves ${RESERVED_SUMMARY}`);
}

/** ENOTDIR before the file system says it: an existing part of the path that is not a directory. */
function throughAFile(field: string, value: string, absolute: string, workspace: string): Verdict {
  for (let dir = dirname(absolute); isInside(workspace, dir); dir = dirname(dir)) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(dir).isDirectory();
    } catch {
      if (dir === workspace) break;
      continue;
    }
    if (!isDirectory) return invalid(`${field} '${value}' goes through ${dir}, which is a file, not a directory; choose another path`);
    break;
  }
  return OK;
}

/** A flake directory (`path` of flake.*): inside the workspace, not its root, not reserved, not through a file. */
export function checkFlakePath(policy: GuardPolicy, field: string, path: string): Verdict {
  const confined = resolveInWorkspace(policy.workspace, path);
  if (!confined.ok) return forbid(`${field}: ${confined.reason}`);
  if (confined.path === resolve(policy.workspace)) {
    return forbid(
      `${field} '${path}' is the workspace root, whose flake the service generates from modules, overlays and configurations; give the flake a subdirectory path`,
    );
  }
  const rule = reserved(policy, field, path, confined.path);
  if (!rule.ok) return rule;
  const file = throughAFile(field, path, confined.path, resolve(policy.workspace));
  if (!file.ok) return file;
  try {
    if (!statSync(confined.path).isDirectory()) return invalid(`${field} '${path}' is a file, not a directory; choose another path`);
  } catch {
    // not there yet: flake.create makes it
  }
  return OK;
}

/** An out-link (`output_path`): its parent inside the workspace, not reserved, not through a file. */
export function checkOutLink(policy: GuardPolicy, field: string, path: string): Verdict {
  const link = resolveOutLink(policy.workspace, path);
  if (!link.ok) return forbid(`${field}: ${link.reason}`);
  const rule = reserved(policy, field, path, link.path);
  if (!rule.ok) return rule;
  return throughAFile(field, path, link.path, resolve(policy.workspace));
}

/**
 * A flake ref (`flake_ref`) or input URL (`url`, `inputs.<name>`): a local one must resolve
 * inside the workspace, outside the reserved names (its `dir` too); for a build (`build`) a
 * remote one needs {@link GuardPolicy.allowRemoteBuilds}. `base` is the directory relative
 * refs start from (an input's flake), default the workspace root.
 */
export function checkFlakeRef(
  policy: GuardPolicy,
  field: string,
  ref: string,
  options: { build: boolean; base?: string },
): { verdict: Verdict; resolved?: ResolvedRef & { ok: true } } {
  const resolved = resolveFlakeRef(policy.workspace, ref, options.base);
  if (!resolved.ok) {
    return { verdict: resolved.code === 'validation' ? invalid(`${field} ${resolved.reason}`) : forbid(`${field} ${resolved.reason}`) };
  }
  if (resolved.directory === undefined) {
    if (options.build && !policy.allowRemoteBuilds) {
      return {
        verdict: forbid(
          `${field} '${ref}' is not a flake inside the workspace; a build runs the code of the flake it builds, so this service builds only workspace flakes (set ${REMOTE_BUILDS_SETTING} to allow remote flakes)`,
        ),
      };
    }
    return { verdict: OK, resolved };
  }
  for (const place of [resolved.directory, resolved.flakeDirectory]) {
    if (place === undefined) continue;
    const rule = reserved(policy, field, ref, place);
    if (!rule.ok) return { verdict: rule };
  }
  return { verdict: OK, resolved };
}

/** Store parameters a command may set on its `file://` cache (none names a file elsewhere). */
const CACHE_PARAMETERS: ReadonlySet<string> = new Set([
  'compression',
  'parallel-compression',
  'write-nar-listing',
  'index-debug-info',
  'want-mass-query',
  'priority',
]);

/**
 * A `cache_url` from a command: a `file:///absolute` cache inside the workspace, outside the
 * reserved names and not the workspace root (or the default cache itself), with only harmless
 * store parameters. Every other store — `local?root=`, a bare path, `daemon`, `ssh://`,
 * `s3://`, `http(s)://` — is refused: the service cannot confine it.
 */
export function checkCacheUrl(policy: GuardPolicy, field: string, url: string): Verdict {
  if (!url.startsWith('file://')) {
    return forbid(
      `${field} '${url}' is not a file:// cache inside the workspace; a command may only name file:///<workspace>/<dir> caches (other stores are the operator's: set nix.binaryCacheUrl / NIX_BINARY_CACHE_URL, and omit ${field} to use it)`,
    );
  }
  const path = fileStorePath(url);
  if (!path.startsWith('/'))
    return forbid(
      `${field} '${url}' must name an absolute path (file:///…); nix would resolve '${path}' against its own working directory`,
    );
  if (path.includes('%')) return invalid(`${field} '${url}' holds '%'; nix does not decode it, write the path plainly`);
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  for (const pair of query === '' ? [] : query.split('&')) {
    const key = pair.split('=')[0] ?? '';
    if (!CACHE_PARAMETERS.has(key)) {
      return forbid(`${field} '${url}' sets the store parameter '${key}'; a command may set only ${[...CACHE_PARAMETERS].join(', ')}`);
    }
  }
  const confined = resolveInWorkspace(policy.workspace, path);
  if (!confined.ok) return forbid(`${field}: ${confined.reason}`);
  if (confined.path === resolve(policy.workspace)) return forbid(`${field} '${url}' is the workspace root; name a directory inside it`);
  const cache = defaultCacheDirectory(policy);
  if (cache !== undefined && confined.path === cache) return OK;
  const rule = reserved(policy, field, url, confined.path);
  if (!rule.ok) return rule;
  const file = throughAFile(field, url, confined.path, resolve(policy.workspace));
  if (!file.ok) return file;
  try {
    if (!statSync(confined.path).isDirectory()) return invalid(`${field} '${url}' is a file, not a directory; choose another path`);
  } catch {
    // not there yet: package.cache makes it
  }
  return OK;
}

/** `file://<workspace>/.binary-cache`: the default cache when nothing else is configured. */
export function defaultCacheUrlFor(workspace: string): string {
  return `file://${resolve(workspace, DEFAULT_BINARY_CACHE_DIR)}`;
}
