/**
 * Deterministic aggregate IDs (SPEC §3 Addressing): UUIDv5 over a fixed namespace of
 * `"<agg>:<natural key>"`, so every instance computes the same ID.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { registry, type AggregateKind } from '../../machines/index.js';

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

/** Random bytes for 256 ids at a time, from the same generator `crypto.randomUUID` uses. */
const random = Buffer.alloc(16 * 256);
let randomAt = random.length;
/** The 36 characters of the id being written. */
const text = Buffer.alloc(36);
/** The two lowercase hex digits of each byte value, as character codes. */
const HEX = new Uint8Array(512);
for (let b = 0; b < 256; b++) {
  const h = b.toString(16).padStart(2, '0');
  HEX[2 * b] = h.charCodeAt(0);
  HEX[2 * b + 1] = h.charCodeAt(1);
}

/**
 * A fresh random message id: an RFC 4122 version-4 UUID, lowercase, as `crypto.randomUUID()`
 * gives. Written into one buffer and read out as one string: `randomUUID` joins it from
 * twenty pieces (about 600 bytes of garbage), and two are minted per command.
 */
export function newMessageId(): string {
  if (randomAt + 16 > random.length) {
    randomFillSync(random);
    randomAt = 0;
  }
  let out = 0;
  for (let i = 0; i < 16; i++) {
    let b = random[randomAt + i]!;
    if (i === 6) b = (b & 0x0f) | 0x40;
    else if (i === 8) b = (b & 0x3f) | 0x80;
    if (i === 4 || i === 6 || i === 8 || i === 10) text[out++] = 45; // '-'
    text[out++] = HEX[2 * b]!;
    text[out++] = HEX[2 * b + 1]!;
  }
  randomAt += 16;
  return text.toString('latin1', 0, 36);
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

/** The id of the aggregate of `kind` a payload names by its natural key (`{ path }`, `{ name }` …). */
export function idOfKey(kind: AggregateKind, keyFields: Record<string, unknown>, workspace?: string): string {
  return aggregateId(kind, registry[kind].addressing.key(keyFields, { workspace }));
}

/** The id of the flake at `path` (workspace-relative, or absolute inside `workspace`). */
export const flakeId = (path: string, workspace?: string): string => idOfKey('flake', { path }, workspace);
/** The id of the package `flake_ref#attribute`, both normalised. */
export const packageId = (flakeRef: string, attribute: string, workspace?: string): string => idOfKey('package', { flake_ref: flakeRef, attribute }, workspace);
/** The id of the module, overlay or configuration called `name`. */
export const namedId = (aggregate: AggregateKind, name: string): string => idOfKey(aggregate, { name });
