/**
 * The service's own files in the workspace, which no command may name as an out-link, a
 * flake, a flake ref, an input or a cache: any `.git` (the workspace's repository and every
 * flake's), `.nats`, `.deadletter`, `.cim`, the binary cache, the generated root flake and
 * the directories the service renders into. Names are compared without regard to letter
 * case, so a workspace on a case-insensitive file system (where `.GIT` is `.git`) is
 * protected too; on a case-sensitive one this refuses a few harmless names as well.
 */
import { relative, sep } from 'node:path';
import { nixFileLayouts, nixFileTypes } from '../../machines/index.js';
import { isInside } from './confine.js';

/** The default binary cache of `package.cache`, relative to the workspace (config and port share it). */
export const DEFAULT_BINARY_CACHE_DIR = '.binary-cache';

/** Names reserved wherever they appear: git reads them from any repository's work tree. */
const ANYWHERE: ReadonlyMap<string, string> = new Map([
  ['.git', "a git repository's own files"],
  ['.gitmodules', 'git submodule configuration'],
  ['.gitattributes', 'git attributes (filters run by git)'],
]);

/** Names reserved at the workspace root. */
const AT_ROOT: ReadonlyMap<string, string> = new Map([
  ['.nats', "the embedded NATS server's JetStream store"],
  ['.deadletter', 'events waiting to be stored'],
  ['.cim', "the service's workspace state"],
  [DEFAULT_BINARY_CACHE_DIR, 'the default binary cache'],
  // The directories the service renders into (modules/, overlays/, hosts/), from the workspace layout.
  ...nixFileTypes.map((type): [string, string] => [nixFileLayouts[type].dir, `where ${type} files are rendered`]),
  ['flake.nix', 'the workspace flake generated from modules, overlays and configurations'],
  ['flake.lock', 'the lock file of the workspace flake'],
]);

/** The reserved names, for messages. */
export const RESERVED_SUMMARY = `any .git (also .gitmodules, .gitattributes), and at the workspace root .nats, .deadletter, .cim, the binary cache, ${nixFileTypes
  .map((type) => `${nixFileLayouts[type].dir}/`)
  .join(', ')}, flake.nix and flake.lock`;

/**
 * Why `absolute` (a path inside `workspace`) is one of the service's own files, or null.
 * `extra` are further reserved directories (a configured binary cache inside the workspace).
 */
export function reservedReason(workspace: string, absolute: string, extra: readonly string[] = []): string | null {
  const rel = relative(workspace, absolute);
  const segments = rel.split(sep).filter((s) => s !== '' && s !== '.');
  for (const segment of segments) {
    const what = ANYWHERE.get(segment.toLowerCase());
    if (what !== undefined) return `it is inside ${segment} (${what})`;
  }
  const first = segments[0];
  const what = first === undefined ? undefined : AT_ROOT.get(first.toLowerCase());
  if (first !== undefined && what !== undefined) return `it is inside ${first} at the workspace root (${what})`;
  const lower = absolute.toLowerCase();
  for (const dir of extra) {
    if (isInside(dir.toLowerCase(), lower)) return 'it is inside the binary cache the service uses';
  }
  return null;
}
