/**
 * The in-memory twin of the KV port, held to the same contract suite as the NATS one. One
 * {@link MemoryKvServer} holds the buckets; each {@link MemoryKvServer.connect} is one
 * instance's connection, which a test can cut (operations wait, then time out on the clock,
 * as requests to an unreachable server do) and restore, to drive fencing in virtual time.
 */
import { realClock, type ClusterClock } from './clock.js';
import { KvConflictError, KvTimeoutError } from './errors.js';
import { assertKey, matchesFilter, type ClusterKv, type KvBuckets, type KvChange, type KvRecord, type KvWatcher } from './kv.js';

interface Bucket {
  name: string;
  replicas: number;
  revision: number;
  entries: Map<string, KvChange>;
  watchers: Set<(change: KvChange) => void>;
}

/** How a cut connection behaves. */
export interface CutOptions {
  /**
   * Writes reach the bucket but their answers are lost (the caller times out not knowing the
   * write happened), as when a connection drops after sending.
   */
  applyWrites?: boolean;
}

/** The buckets every connection shares. */
export class MemoryKvServer {
  readonly buckets = new Map<string, Bucket>();
  constructor(readonly options: { clock?: ClusterClock; timeoutMs?: number } = {}) {}

  /** A new connection (one per instance under test). */
  connect(): MemoryKvConnection {
    return new MemoryKvConnection(this, this.options.clock ?? realClock, this.options.timeoutMs ?? 2_000);
  }

  /** @internal */
  bucket(name: string, replicas: number): Bucket {
    let b = this.buckets.get(name);
    if (!b) {
      b = { name, replicas, revision: 0, entries: new Map(), watchers: new Set() };
      this.buckets.set(name, b);
    }
    return b;
  }
}

type Pending = { run: () => void; timer: unknown };

/** One connection to a {@link MemoryKvServer}. */
export class MemoryKvConnection implements KvBuckets {
  private cutOptions: CutOptions | undefined;
  private readonly pending = new Set<Pending>();
  private readonly held: (() => void)[] = [];
  /** Watches numbered up to this one are stalled. */
  private stalledUpTo = 0;
  private failing: ((key: string) => boolean) | undefined;
  private watchesToFail = 0;
  /** Watches started on this connection. */
  watches = 0;
  /** Operations that reached the buckets through this connection. */
  operations = 0;

  constructor(
    private readonly server: MemoryKvServer,
    private readonly clock: ClusterClock,
    private readonly timeoutMs: number,
  ) {}

  /** True while cut. */
  get isCut(): boolean {
    return this.cutOptions !== undefined;
  }

  /** Cut this connection off: operations wait (and time out), watch deliveries are held back. */
  cut(options: CutOptions = {}): void {
    this.cutOptions = options;
  }

  /**
   * Stall the watches running on this connection (requests still work), as when the server
   * holding a watch's consumer dies; new watches deliver normally. `restore` ends it.
   */
  stallWatches(): void {
    this.stalledUpTo = this.watches;
  }

  /**
   * Writes to keys that match `keys` get no answer (they time out on the clock, unapplied)
   * while everything else works: a fault aimed at one kind of write. `undefined` ends it.
   */
  failWrites(keys: ((key: string) => boolean) | undefined): void {
    this.failing = keys;
  }

  /** The next `n` watches started here get no answer (they time out on the clock), as a stream with no leader yet. */
  failNextWatches(n: number): void {
    this.watchesToFail = n;
  }

  /** @internal A request that gets no answer: it times out on the clock. */
  noAnswer<T>(operation: string, key: string): Promise<T> {
    return new Promise<T>((_, reject) => this.clock.setTimeout(() => reject(new KvTimeoutError(operation, key, this.timeoutMs)), this.timeoutMs));
  }

  /** @internal Should this watch start fail (and count it)? */
  takeWatchFailure(): boolean {
    if (this.watchesToFail <= 0) return false;
    this.watchesToFail--;
    return true;
  }

  /** Reconnect: waiting operations run, held watch deliveries arrive in order. */
  restore(): void {
    this.cutOptions = undefined;
    this.stalledUpTo = 0;
    for (const p of [...this.pending]) {
      this.pending.delete(p);
      this.clock.clearTimeout(p.timer);
      p.run();
    }
    for (const deliver of this.held.splice(0)) deliver();
  }

  open(name: string, options: { replicas: number }): Promise<ClusterKv> {
    return this.call('open', name, false, () => {
      const b = this.server.bucket(name, options.replicas);
      return new MemoryKv(b, this);
    });
  }

  /** @internal Run `fn` now, or when restored (timing out on the clock meanwhile). */
  call<T>(operation: string, key: string, isWrite: boolean, fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const run = (): void => {
        try {
          this.operations++;
          resolve(fn());
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      };
      if (isWrite && this.failing?.(key)) {
        this.clock.setTimeout(() => reject(new KvTimeoutError(operation, key, this.timeoutMs)), this.timeoutMs);
        return;
      }
      if (!this.cutOptions) {
        // Answers arrive asynchronously, as over a network.
        queueMicrotask(run);
        return;
      }
      if (isWrite && this.cutOptions.applyWrites) {
        try {
          fn();
        } catch {
          // the answer is lost either way
        }
      }
      const entry: Pending = {
        run: isWrite && this.cutOptions.applyWrites ? () => reject(new KvTimeoutError(operation, key, this.timeoutMs)) : run,
        timer: undefined,
      };
      entry.timer = this.clock.setTimeout(() => {
        this.pending.delete(entry);
        reject(new KvTimeoutError(operation, key, this.timeoutMs));
      }, this.timeoutMs);
      this.pending.add(entry);
    });
  }

  /** @internal Deliver a watch change, or hold it while cut. */
  deliver(fn: () => void, watch: number): void {
    if (this.cutOptions || watch <= this.stalledUpTo) this.held.push(fn);
    else queueMicrotask(fn);
  }
}

const EMPTY = new Uint8Array(0);

class MemoryKv implements ClusterKv {
  constructor(
    private readonly b: Bucket,
    private readonly conn: MemoryKvConnection,
  ) {}

  get bucket(): string {
    return this.b.name;
  }

  async get(key: string): Promise<KvRecord | undefined> {
    assertKey(key);
    return this.conn.call('get', key, false, () => {
      const e = this.b.entries.get(key);
      if (!e || e.operation !== 'PUT') return undefined;
      return { key, value: e.value.slice(), revision: e.revision };
    });
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    assertKey(key);
    return this.conn.call('create', key, true, () => {
      const e = this.b.entries.get(key);
      if (e && e.operation === 'PUT') throw new KvConflictError(key, 0);
      return this.write(key, value, 'PUT');
    });
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    assertKey(key);
    return this.conn.call('update', key, true, () => {
      const e = this.b.entries.get(key);
      if (!e || e.revision !== revision) throw new KvConflictError(key, revision);
      return this.write(key, value, 'PUT');
    });
  }

  async delete(key: string, revision?: number): Promise<void> {
    assertKey(key);
    return this.conn.call('delete', key, true, () => {
      const e = this.b.entries.get(key);
      if (revision !== undefined && (!e || e.revision !== revision)) throw new KvConflictError(key, revision);
      this.write(key, EMPTY, 'DEL');
    });
  }

  async watch(filter: string, onChange: (change: KvChange) => void): Promise<KvWatcher> {
    if (this.conn.takeWatchFailure()) return this.conn.noAnswer('watch', filter);
    return this.conn.call('watch', filter, false, () => {
      let stopped = false;
      const id = ++this.conn.watches;
      let closeWatch!: () => void;
      const closed = new Promise<void>((resolve) => (closeWatch = resolve));
      const deliver = (c: KvChange): void => {
        if (!stopped) onChange({ ...c, value: c.value.slice() });
      };
      // Current values first, in revision order, synchronously: the promise resolves after them.
      const current = [...this.b.entries.values()].filter((e) => matchesFilter(filter, e.key)).sort((a, b) => a.revision - b.revision);
      for (const e of current) deliver(e);
      const listener = (c: KvChange): void => {
        if (matchesFilter(filter, c.key)) this.conn.deliver(() => deliver(c), id);
      };
      this.b.watchers.add(listener);
      return {
        stop: () => {
          if (stopped) return;
          stopped = true;
          this.b.watchers.delete(listener);
          closeWatch();
        },
        closed,
      };
    });
  }

  private write(key: string, value: Uint8Array, operation: KvChange['operation']): number {
    const revision = ++this.b.revision;
    const change: KvChange = { key, value: value.slice(), revision, operation };
    this.b.entries.set(key, change);
    for (const w of this.b.watchers) w(change);
    return revision;
  }
}
