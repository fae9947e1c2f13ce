/**
 * The KV port: the few operations the cluster protocol needs from a key-value bucket with
 * history 1, whose revisions increase with every write in the bucket. Two implementations
 * are held to one contract suite (test/unit/cluster/kvContract.ts): NATS JetStream KV
 * ({@link ./natsKv.ts}) and an in-memory twin ({@link ./memoryKv.ts}).
 *
 * Keys and filters follow NATS subject rules: dot-separated tokens of `A-Z a-z 0-9 _ - / =`;
 * a filter may use `*` (one token) and `>` (the rest).
 */

/** A live value. */
export interface KvRecord {
  key: string;
  value: Uint8Array;
  /** Increases with every write to the bucket (JetStream: the stream sequence). */
  revision: number;
}

/** One write seen by a watcher. `DEL`/`PURGE` carry an empty value. */
export interface KvChange extends KvRecord {
  operation: 'PUT' | 'DEL' | 'PURGE';
}

/** A running watch. */
export interface KvWatcher {
  /** Stop delivering; `closed` resolves. */
  stop(): void;
  /** Resolves when the watch has ended, by `stop()` or because the server side ended it. */
  readonly closed: Promise<void>;
}

/** One bucket. Every write that names a revision is a compare-and-set. */
export interface ClusterKv {
  readonly bucket: string;
  /** The live value, or undefined when the key is absent or deleted. */
  get(key: string): Promise<KvRecord | undefined>;
  /** Write only when the key is absent or deleted; {@link KvConflictError} otherwise. Returns the new revision. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Write only when the key's last revision is `revision`; {@link KvConflictError} otherwise. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  /** Delete (a tombstone); with `revision`, only when the key is still at it ({@link KvConflictError} otherwise). */
  delete(key: string, revision?: number): Promise<void>;
  /**
   * Deliver the current value of every key matching `filter` (deleted ones as `DEL`), then
   * every later write, in revision order. Resolves once the current values were delivered.
   */
  watch(filter: string, onChange: (change: KvChange) => void): Promise<KvWatcher>;
}

/** Opens (creating if missing) buckets with history 1. */
export interface KvBuckets {
  /** Open or create `name` with `replicas` copies; an existing bucket keeps its settings unless they can be changed. */
  open(name: string, options: { replicas: number }): Promise<ClusterKv>;
}

/** True when a key or filter token list matches (NATS subject rules). */
export function matchesFilter(filter: string, key: string): boolean {
  if (filter === '>') return true;
  const f = filter.split('.');
  const k = key.split('.');
  for (let i = 0; i < f.length; i++) {
    const t = f[i];
    if (t === '>') return k.length > i;
    if (i >= k.length) return false;
    if (t !== '*' && t !== k[i]) return false;
  }
  return f.length === k.length;
}

const KEY_RE = /^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$/;

/** Throws a TypeError naming the key when it is not a valid KV key. */
export function assertKey(key: string): void {
  if (!KEY_RE.test(key)) throw new TypeError(`invalid KV key ${JSON.stringify(key)}: use dot-separated tokens of letters, digits, - / _ =`);
}
