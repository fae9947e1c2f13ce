/**
 * The read-model records as queries return them (snake_case, wire form), and the stored
 * event as the projections receive it. Every record carries `version` (the aggregate's
 * sequence after the last event applied) and RFC 3339 times taken from the events.
 */
import { ConfigStates, HistoryKinds, PackageStates, ResourceStates, type LockedInput } from '../../machines/index.js';

export { ConfigStates, HistoryKinds, PackageStates, ResourceStates };
import type { DomainEvent } from '../domain/events.js';

/** A stored event, in stream order. */
export interface FeedEvent {
  /** `<agg>.<past>` */
  fact: string;
  event: DomainEvent;
  /** JetStream stream sequence. */
  stream_seq: number;
}

/** How many build, history and generation entries one record keeps (memory stays bounded). */
export const HISTORY_LIMIT = 200;

export interface FlakeInputView {
  url: string;
  follows?: Record<string, string>;
  flake?: boolean;
  locked?: LockedInput;
}

export interface OutcomeView {
  ok: boolean;
  at: string;
  /** The aggregate version of the event that recorded it. */
  sequence: number;
  duration_ms?: number;
  exit_code?: number;
  message?: string;
  log_tail?: string[];
  /** For an update: the inputs it relocked. */
  inputs?: string[];
}

export interface FlakeView {
  flake_id: string;
  path: string;
  description: string;
  template: string;
  inputs: Record<string, FlakeInputView>;
  files: string[];
  last_update: OutcomeView | null;
  last_check: OutcomeView | null;
  version: number;
  created_at: string;
  updated_at: string;
}

export type PackageState = (typeof PackageStates)[number];

/** One build of a package, from `build_started` to `built` or `build_failed`. */
export interface BuildView {
  /** 1 for the package's first build. */
  build: number;
  outcome: 'running' | 'built' | 'failed';
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  output_path?: string;
  store_paths?: Record<string, string>;
  drv_path?: string;
  exit_code?: number;
  message?: string;
  log_tail?: string[];
}

export interface CacheView {
  ok: boolean;
  at: string;
  cache_url: string | null;
  paths?: string[];
  message?: string;
  exit_code?: number;
}

export interface PackageView {
  package_id: string;
  flake_ref: string;
  attribute: string;
  state: PackageState;
  output_path: string | null;
  /** Outputs of the last successful build. */
  store_paths: Record<string, string>;
  drv_path: string | null;
  /** Successful builds. */
  builds: number;
  /** Failed builds. */
  failures: number;
  last_build: BuildView | null;
  /** The last copy to a binary cache, successful or not. */
  last_cache: CacheView | null;
  version: number;
  created_at: string;
  updated_at: string;
}

/** What `package.status` adds: the build statistics, over every build ever recorded. */
export interface BuildStats {
  total: number;
  succeeded: number;
  failed: number;
  running: boolean;
  consecutive_failures: number;
  duration_ms: { last: number | null; average: number | null; min: number | null; max: number | null };
  last_success_at: string | null;
  last_failure_at: string | null;
}

export type ResourceState = (typeof ResourceStates)[number];

/** A module or an overlay. The body field is `module` or `overlay`, the ID field `<kind>_id`. */
export interface ResourceView {
  id: string;
  name: string;
  state: ResourceState;
  /** The current body; null once deleted. */
  body: Record<string, unknown> | null;
  file: string | null;
  /** How many times it was created (a delete then a create starts a new incarnation). */
  incarnation: number;
  version: number;
  /** When the current incarnation was created. */
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export type ConfigState = (typeof ConfigStates)[number];

export interface ActivationView {
  activation_type: 'switch' | 'boot' | 'test';
  generation: number;
  executed: boolean;
  reason?: string;
  at: string;
}

export interface ConfigView {
  config_id: string;
  name: string;
  state: ConfigState;
  configuration: Record<string, unknown>;
  file: string;
  /** The generation this configuration runs (last switched or rolled back to); null before the first switch. */
  current_generation: number | null;
  /** The highest generation so far. */
  last_generation: number;
  /** Successful activations so far. */
  activations: number;
  last_activation: ActivationView | null;
  version: number;
  created_at: string;
  updated_at: string;
}

export type HistoryKind = (typeof HistoryKinds)[number];

/** One entry of `config.get_history`. */
export interface HistoryEntry {
  /** 1 for the configuration's first entry. */
  entry: number;
  kind: HistoryKind;
  at: string;
  /** The aggregate version of the event. */
  sequence: number;
  activation_type?: 'switch' | 'boot' | 'test';
  generation?: number;
  from_generation?: number;
  to_generation?: number;
  executed?: boolean;
  reason?: string;
  message?: string;
  exit_code?: number;
  log_tail?: string[];
}

/** The configuration that is current: last switched to (or rolled back to). */
export interface CurrentConfig {
  config_id: string;
  generation: number;
  /** How it became current. */
  via: 'switch' | 'rollback';
  since: string;
  executed: boolean;
}
