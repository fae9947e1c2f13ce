/**
 * Deterministic aggregate IDs (SPEC §3 Addressing): UUIDv5 over a fixed namespace of
 * `"<agg>:<natural key>"`, so every instance computes the same ID.
 */
import { createHash, randomUUID } from 'node:crypto';
import { posix } from 'node:path';

/** The fixed namespace of the Nix domain (a random v4 UUID chosen once; never change it). */
export const NIX_DOMAIN_NAMESPACE = '8a6e4c52-2f0b-4d8e-9c1a-6b5f3e7d2a91';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a syntactically valid UUID string (any version). */
export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}

const namespaceBytes = Buffer.from(NIX_DOMAIN_NAMESPACE.replace(/-/g, ''), 'hex');

/** RFC 4122 version-5 UUID of `name` in `namespace` bytes. */
export function uuidv5(name: string, namespace: Buffer = namespaceBytes): string {
  const hash = createHash('sha1').update(namespace).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const h = hash.toString('hex', 0, 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A fresh random message id. */
export function newMessageId(): string {
  return randomUUID();
}

/** Normalise a workspace-relative flake path so `./a/b/`, `a//b` and `a/b` are one key. */
export function normaliseFlakePath(path: string): string {
  const n = posix.normalize(path.replace(/\\/g, '/')).replace(/^\.\//, '').replace(/\/+$/, '');
  return n === '' ? '.' : n;
}

const idCache = new Map<string, string>();
const ID_CACHE_SIZE = 100_000;

/** The aggregate ID of a natural key (cached: every command of a hot aggregate asks again). */
export function aggregateId(aggregate: string, naturalKey: string): string {
  const name = `${aggregate}:${naturalKey}`;
  let id = idCache.get(name);
  if (id === undefined) {
    id = uuidv5(name);
    if (idCache.size >= ID_CACHE_SIZE) idCache.clear();
    idCache.set(name, id);
  }
  return id;
}

export const flakeId = (path: string): string => aggregateId('flake', normaliseFlakePath(path));
export const packageId = (flakeRef: string, attribute: string): string =>
  aggregateId('package', `${flakeRef.trim()}#${attribute}`);
export const namedId = (aggregate: 'module' | 'overlay' | 'config', name: string): string =>
  aggregateId(aggregate, name);
