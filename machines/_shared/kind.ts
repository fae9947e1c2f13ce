/**
 * What one aggregate kind declares about itself — the pure part of "the kind is the unit":
 * its machine and contract, how commands and queries address it, the queries it answers,
 * the workspace files it owns and the places its commands name. Shared layers iterate the
 * registry of these and never branch on a kind's name; the runtime part of a kind (read
 * model, query runners, effect handlers) is its file in src/aggregates/.
 */
import type { ZodRawShape, ZodType } from 'zod';
import type { AggregateContext } from './aggregate.js';
import type { EffectKind, EffectRequest } from './protocol.js';
import type { NixFileType } from './workspaceLayout.js';

/** What addressing may know beyond the payload: the workspace root (absolute paths inside it are relative ones). */
export interface AddressingContext {
  workspace?: string | undefined;
}

/** How commands and queries name an aggregate of this kind. */
export interface Addressing {
  /** The id field a payload may give instead of (or with) the natural key: `flake_id`. */
  idField: string;
  /** The fields that make the natural key, all of them needed: `['path']`, `['flake_ref', 'attribute']`. */
  keyFields: readonly string[];
  /** Their schemas, for payloads (of non-creating actions, of queries) that may address by key. */
  keySchemas: Readonly<Record<string, ZodType>>;
  /** The natural key of a payload that holds every key field, normalised (one key per aggregate). */
  key(payload: Readonly<Record<string, unknown>>, ctx: AddressingContext): string;
  /** The aggregate a payload names, in words: `flake at path 'a'`. */
  describe(payload: Readonly<Record<string, unknown>>): string;
  /** The command that makes an aggregate exist: `flake.create`. */
  creator: string;
  /** Actions whose payload must hold the key fields themselves (the id cannot stand in for them). */
  keyRequired: readonly string[];
  /** Write the key fields of a machine event the one way (`path` normalised); drop what the machine does not take. */
  normalise?(action: string, event: Record<string, unknown>, ctx: AddressingContext): void;
}

/**
 * A place a command names, checked at intake before any event (src/nix/guards.ts): a flake
 * directory, an out-link (which may already exist as a symlink: nix replaces it), a flake ref
 * or input URL, or a cache URL.
 */
export interface WorkspacePath {
  /** The text as the command gives it. */
  path: string;
  /** The payload field, named in a refusal (`path`, `output_path`, `inputs.dep` …). */
  field: string;
  kind: 'flakeDir' | 'outLink' | 'flakeRef' | 'cacheUrl';
  /** For a flake ref: it is built (a remote ref then needs the setting that allows remote builds). */
  build?: boolean;
  /** For an input URL: the flake path it is relative to. */
  base?: string;
}

/** One query of a kind: what its payload holds beside identity, `min_sequence` and `timeout_ms`. */
export type QuerySpec =
  /** Names one aggregate (by key or id); `extra` fields beside; `page` for a paged history. */
  | { shape: 'addressed'; extra?: ZodRawShape; page?: boolean }
  /** Lists aggregates: `limit`, `cursor`, `aggregate_id` (for `min_sequence`) and these filters. */
  | { shape: 'list'; filters: ZodRawShape }
  /** Neither: `aggregate_id` (for `min_sequence`) only. */
  | { shape: 'plain' };

/** The workspace file each aggregate of a kind owns, as a projection of its state. */
export interface WorkspaceFiles {
  /** The type of Nix file (its layout and renderer). */
  type: NixFileType;
  /** The effect that writes the file (with its body) and the one that removes it, if any. */
  write: EffectKind;
  remove?: EffectKind;
  /** The command and effect field that holds the body: `module`, `configuration`. */
  body: string;
}

/** One aggregate kind: its machine, its contract, and how the shared layers treat it. */
export interface KindDefinition<K extends string = string> {
  kind: K;
  /* eslint-disable-next-line @typescript-eslint/no-explicit-any -- every machine of the registry has its own types */
  machine: any;
  /** Bumped when states or context change shape (snapshots are keyed by it). */
  version: number;
  /** Action (`create`, `add_input`, …) -> payload schema. */
  commands: Record<string, ZodType>;
  /** Fact name (`flake.input_added`, …) -> payload schema. */
  facts: Record<string, ZodType>;
  /** Facts after which the command still waits for its effect (`package.build_started`). */
  notFinal?: readonly string[];
  /**
   * The aggregate's natural key read from its context, or undefined while the context does not
   * hold it yet (before the first command).
   */
  naturalKey(context: AggregateContext): string | undefined;
  addressing: Addressing;
  /** Query action -> its payload; `aliases` answer like their target (`get_status` -> `status`). */
  queries: Record<string, QuerySpec>;
  queryAliases?: Record<string, string>;
  /** The workspace file each aggregate owns, when the kind renders one. */
  files?: WorkspaceFiles;
  /** The places in the workspace a command's payload names (checked before any event). */
  paths?(action: string, payload: Readonly<Record<string, unknown>>): WorkspacePath[];
}

/** One write (with its body) or removal (without) of a rendered workspace file. */
export interface WorkspaceFileOp {
  type: NixFileType;
  name: string;
  body?: Record<string, unknown>;
}

/** The file a scheduled effect writes, from the kind that owns it: its type, name and body (none for a removal). */
export function workspaceFileOf(files: WorkspaceFiles | undefined, request: EffectRequest): WorkspaceFileOp | undefined {
  if (!files) return undefined;
  const name = (request as { name?: unknown }).name;
  if (typeof name !== 'string') return undefined;
  if (request.kind === files.write) return { type: files.type, name, body: (request as unknown as Record<string, unknown>)[files.body] as Record<string, unknown> };
  if (request.kind === files.remove) return { type: files.type, name };
  return undefined;
}

/** The effect that performs a file op of a kind: the write (with the body under its field) or the removal. */
export function requestOfFileOp(files: WorkspaceFiles, op: WorkspaceFileOp): EffectRequest | undefined {
  if (op.body !== undefined) return { kind: files.write, name: op.name, [files.body]: op.body } as unknown as EffectRequest;
  if (!files.remove) return undefined;
  return { kind: files.remove, name: op.name } as unknown as EffectRequest;
}
