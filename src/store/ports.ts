/**
 * The ports of the store layer: what the runtime and the projections need from the event
 * log, the state store and the seed subjects, and nothing about how. Each has a NATS
 * implementation (JetStream, KV, core publish) and an in-memory twin; one contract suite
 * (test/support/storeContract.ts) holds both to the same behaviour, so the runtime core is
 * unit-tested without a server and integration tests use the real one.
 */
import type { DomainEvent } from '../domain/events.js';

/** An event as read back from the log. */
export interface StoredEvent {
  event: DomainEvent;
  /** `<agg>.<past>` */
  fact: string;
  /** The command whose handling produced it ('' when the reader did not need it). */
  command_id: string;
  /** The log's sequence (JetStream stream sequence): increases over the whole log. */
  stream_seq: number;
}

/** One event to append, with what the append expects. */
export interface AppendRequest {
  event: DomainEvent;
  fact: string;
  command_id: string;
  /** Log sequence of the aggregate's last stored event, 0 for none: another writer since is a conflict. */
  expected_last_seq: number;
  /** Dedup key: an append with a key already stored within the window is not stored again. */
  msg_id: string;
}

/** What an append did. `duplicate`: the key was stored already — as this very event (anything else is a conflict). */
export interface Appended {
  stream_seq: number;
  duplicate: boolean;
}

/** Options of {@link EventLog.follow}: every stored event after `afterSeq`, then each new one, in log order. */
export interface FollowOptions {
  afterSeq: number;
  /** Each stored event, in order. Must not throw (a throw is logged and the event skipped). */
  onEvent(stored: StoredEvent): void;
  /** A message that is not a domain event: its sequence, so readers can move past it. */
  onUnreadable(streamSeq: number, reason: string): void;
  /** Everything the log held has been delivered. */
  onIdle(): void;
  /** Whether `onIdle` is still wanted (checking costs time on every message). */
  wantsIdle(): boolean;
  /** The fact of an event without reading its headers, when known (cheaper). */
  factOf?(event: DomainEvent): string | undefined;
  /** Messages per pull (default 1,000). */
  batch?: number;
}

/** A running {@link EventLog.follow}. */
export interface Following {
  /** The log's last sequence when following started: reading up to it is catching up. */
  readonly target: number;
  stop(): Promise<void>;
}

/**
 * The event log: one history per aggregate, appended to with the expected last sequence
 * (optimistic concurrency) and a dedup key, read back by aggregate or as a whole, followed
 * live. Appends throw `ConflictError` (another writer, or another event under the dedup
 * key) or a transient error (the log did not answer): the caller retries those.
 */
export interface EventLog {
  append(req: AppendRequest, body?: Uint8Array): Promise<Appended>;
  /** One aggregate's history after log sequence `afterSeq`, in order. */
  read(kind: string, id: string, afterSeq?: number): Promise<StoredEvent[]>;
  /** Log sequence of the aggregate's last event, 0 when it has none. */
  lastSequence(kind: string, id: string): Promise<number>;
  /** Every event after `afterSeq`, in batches. */
  readAll(afterSeq?: number, batchSize?: number): AsyncGenerator<StoredEvent[]>;
  /** Log sequence of the last event in the whole log, 0 when empty. */
  tail(): Promise<number>;
  follow(options: FollowOptions): Promise<Following>;
}

/** A stored aggregate snapshot, tagged with the machine version it was taken with. */
export interface AggregateSnapshot {
  kind: string;
  id: string;
  machine_version: number;
  /** Log sequence of the last event folded into this snapshot. */
  stream_seq: number;
  version: number;
  /** XState's persisted snapshot. */
  persisted: unknown;
  /** Finished commands (the ledger), so retries stay exactly-once past the dedup window. */
  ledger: unknown[];
  taken_at: string;
}

/** Service state beside the log: aggregate snapshots and the seed relay's checkpoint. */
export interface StateStore {
  loadSnapshot(kind: string, id: string): Promise<AggregateSnapshot | undefined>;
  saveSnapshot(snapshot: AggregateSnapshot): Promise<void>;
  loadCheckpoint(): Promise<number>;
  saveCheckpoint(seq: number): Promise<void>;
}

/** The seed subjects: each stored event published on `P.event.<fact>` with the seed headers (at most once). */
export interface SeedPublisher {
  /** Publish one stored event (`body`: its JSON bytes when already encoded). Never throws. */
  publish(event: DomainEvent, fact: string, body?: Uint8Array): void;
  /** Events published so far. */
  readonly published: number;
}
