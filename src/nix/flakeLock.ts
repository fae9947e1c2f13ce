/**
 * Reads a flake.lock (version 7, as nix 2.8 writes it) into the locked state of each root
 * input: its URL, the locked URL, revision, narHash and lastModified.
 */

/** The lock of one input as the events carry it. */
export interface LockedInput {
  url: string;
  locked_url?: string;
  rev?: string;
  nar_hash?: string;
  last_modified?: number;
}

type Attrs = Record<string, unknown>;

interface LockNode {
  inputs?: Record<string, string | string[]>;
  locked?: Attrs;
  original?: Attrs;
  flake?: boolean;
}

interface LockFile {
  nodes: Record<string, LockNode>;
  root: string;
  version: number;
}

function query(attrs: Attrs, skip: string[]): string {
  const parts: string[] = [];
  const keys = Object.keys(attrs).filter((k) => k !== 'type' && !skip.includes(k));
  // nix orders query parameters by name.
  keys.sort();
  for (const key of keys) parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(attrs[key]))}`);
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

/** Formats lock attributes as a flake URL, the way `nix flake metadata` prints them. */
export function attrsToUrl(attrs: Attrs): string {
  const str = (key: string): string => {
    const value = attrs[key];
    return typeof value === 'string' ? value : '';
  };
  switch (attrs.type) {
    case 'path':
      return `path:${str('path')}${query(attrs, ['path'])}`;
    case 'git':
      return `git+${str('url')}${query(attrs, ['url'])}`;
    case 'mercurial':
      return `hg+${str('url')}${query(attrs, ['url'])}`;
    case 'tarball':
    case 'file': {
      const url = str('url');
      return `${attrs.type === 'file' ? 'file+' : ''}${url}${query(attrs, ['url'])}`;
    }
    case 'github':
    case 'gitlab':
    case 'sourcehut': {
      const refOrRev = str('rev') || str('ref');
      const path = [str('owner'), str('repo'), refOrRev].filter((s) => s !== '').join('/');
      return `${attrs.type}:${path}${query(attrs, ['owner', 'repo', 'rev', 'ref'])}`;
    }
    case 'indirect': {
      const path = [str('id'), str('ref'), str('rev')].filter((s) => s !== '').join('/');
      return `flake:${path}${query(attrs, ['id', 'ref', 'rev'])}`;
    }
    default:
      return `${typeof attrs.type === 'string' ? attrs.type : 'unknown'}:${query(attrs, [])}`;
  }
}

/** Parses the text of a flake.lock; throws on JSON that is not a lock file. */
export function parseLockFile(text: string): LockFile {
  const parsed = JSON.parse(text) as Partial<LockFile>;
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.nodes !== 'object' || typeof parsed.root !== 'string') {
    throw new Error('flake.lock has no nodes/root');
  }
  return parsed as LockFile;
}

/** Follows an input reference (a node key, or a `follows` path from the root) to its node. */
function resolveNode(lock: LockFile, ref: string | string[]): LockNode | undefined {
  if (typeof ref === 'string') return lock.nodes[ref];
  let node = lock.nodes[lock.root];
  for (const step of ref) {
    const next = node?.inputs?.[step];
    if (next === undefined) return undefined;
    node = resolveNode(lock, next);
  }
  return node;
}

function toLocked(node: LockNode): LockedInput | undefined {
  if (node.original === undefined) return undefined;
  const out: LockedInput = { url: attrsToUrl(node.original) };
  const locked = node.locked;
  if (locked !== undefined) {
    out.locked_url = attrsToUrl(locked);
    if (typeof locked.rev === 'string') out.rev = locked.rev;
    if (typeof locked.narHash === 'string') out.nar_hash = locked.narHash;
    if (typeof locked.lastModified === 'number') out.last_modified = locked.lastModified;
  }
  return out;
}

/** The locked state of every direct input of the root flake. */
export function lockedRootInputs(text: string): Record<string, LockedInput> {
  const lock = parseLockFile(text);
  const root = lock.nodes[lock.root];
  const result: Record<string, LockedInput> = {};
  for (const [name, ref] of Object.entries(root?.inputs ?? {})) {
    const node = resolveNode(lock, ref);
    const locked = node === undefined ? undefined : toLocked(node);
    if (locked !== undefined) result[name] = locked;
  }
  return result;
}
