/**
 * The KV port on NATS JetStream KV (`@nats-io/kv`), for nats-server 2.9: compare-and-set is
 * the `Nats-Expected-Last-Subject-Sequence` header (what `create`/`update` send), history is 1,
 * and there is no per-key TTL (liveness is judged by the cluster layer, not by expiry).
 */
import { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { ensureError } from '../errors.js';
import { ClusterConfigError, KvConflictError } from './errors.js';
import { assertKey, type ClusterKv, type KvBuckets, type KvChange, type KvRecord, type KvWatcher } from './kv.js';
import { SETUP_ATTEMPT_MS, ensureReplicas, explainReplicaError, isReplicaRefusal, untilAnswered } from './replicas.js';

/** Options of {@link natsKvBuckets}. */
export interface NatsKvOptions {
  /** How long one KV request may wait for its answer (default 2000 ms). */
  timeoutMs?: number;
  /** How long `watch` may wait for the current values (default 10 s). */
  watchReadyMs?: number;
  /** How long creating or changing the bucket may take (default 15 s). */
  adminTimeoutMs?: number;
}

/**
 * The connection to use: a fixed one, or a function returning the current one (pass
 * `() => supervisor.connection` when the connection can be replaced after it closed).
 */
export type NatsConnectionSource = NatsConnection | (() => NatsConnection | undefined);

/** Buckets on the connection's JetStream (file storage, history 1). */
export function natsKvBuckets(source: NatsConnectionSource, options: NatsKvOptions = {}): KvBuckets {
  const timeout = options.timeoutMs ?? 2_000;
  const current = (): NatsConnection => {
    const nc = typeof source === 'function' ? source() : source;
    if (!nc || nc.isClosed()) throw new Error('no open NATS connection (it is being re-established)');
    return nc;
  };
  return {
    async open(name, { replicas }) {
      const nc = current();
      // Creating an R3 stream can take seconds on a cluster that is settling; the protocol's
      // requests must answer within a heartbeat.
      const adminTimeout = Math.max(timeout, options.adminTimeoutMs ?? 15_000);
      const jsm = await jetstreamManager(nc, { timeout: adminTimeout });
      try {
        const kvm = new Kvm(jetstream(nc, { timeout: SETUP_ATTEMPT_MS }));
        await untilAnswered(
          () =>
            kvm.create(name, {
              history: 1,
              replicas,
              storage: 'file' as never,
              description: 'cim-domain-nix cluster membership and partition leases',
            }),
          adminTimeout,
        );
      } catch (e) {
        if (isReplicaRefusal(e)) throw explainReplicaError(e, `KV_${name}`, replicas);
        throw new Error(
          `could not open KV bucket ${name} (${ensureError(e).message}); is JetStream enabled and does the cluster have a meta leader?`,
          {
            cause: e,
          },
        );
      }
      // An existing bucket keeps its settings on create: bring its replicas to the setting.
      await ensureReplicas(jsm, `KV_${name}`, replicas);
      const bound = new Bound(name, current, timeout, adminTimeout);
      // Requests of a bucket just created may go unanswered until its stream has a leader:
      // asked again (bounded) rather than failing the start on one heartbeat-long timeout.
      const status = await untilAnswered(async () => (await bound.get()).kv.status(), adminTimeout);
      if (status.history !== 1) {
        throw new ClusterConfigError(
          `KV bucket ${name} keeps ${status.history} revisions per key; the cluster protocol needs history 1. ` +
            `Delete it (\`nats kv rm ${name}\`, with every instance stopped) and start again.`,
        );
      }
      return new NatsKv(name, bound, options.watchReadyMs ?? 10_000);
    },
  };
}

/** The bucket bound to the current connection (bound again when the connection is replaced). */
class Bound {
  private cached: { nc: NatsConnection; kv: KV; jsm: JetStreamManager } | undefined;
  constructor(
    private readonly name: string,
    private readonly current: () => NatsConnection,
    private readonly timeout: number,
    private readonly adminTimeout: number,
  ) {}

  async get(): Promise<{ kv: KV; jsm: JetStreamManager }> {
    const nc = this.current();
    if (this.cached?.nc !== nc) {
      const jsm = await jetstreamManager(nc, { timeout: this.adminTimeout });
      const kv = await new Kvm(jetstream(nc, { timeout: this.timeout })).open(this.name);
      this.cached = { nc, kv, jsm };
    }
    return this.cached;
  }
}

const isConflict = (e: unknown): boolean =>
  e instanceof JetStreamApiError &&
  (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);

class NatsKv implements ClusterKv {
  constructor(
    readonly bucket: string,
    private readonly bound: Bound,
    private readonly watchReadyMs: number,
  ) {}

  async get(key: string): Promise<KvRecord | undefined> {
    assertKey(key);
    const { kv } = await this.bound.get();
    const e = await kv.get(key);
    if (!e || e.operation !== 'PUT') return undefined;
    return { key, value: e.value, revision: e.revision };
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    assertKey(key);
    try {
      const { kv } = await this.bound.get();
      return await kv.create(key, value);
    } catch (e) {
      if (isConflict(e)) throw new KvConflictError(key, 0, { cause: e });
      throw ensureError(e);
    }
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    assertKey(key);
    try {
      const { kv } = await this.bound.get();
      return await kv.update(key, value, revision);
    } catch (e) {
      if (isConflict(e)) throw new KvConflictError(key, revision, { cause: e });
      throw ensureError(e);
    }
  }

  async delete(key: string, revision?: number): Promise<void> {
    assertKey(key);
    try {
      const { kv } = await this.bound.get();
      await kv.delete(key, revision !== undefined ? { previousSeq: revision } : {});
    } catch (e) {
      if (isConflict(e)) throw new KvConflictError(key, revision ?? 0, { cause: e });
      throw ensureError(e);
    }
  }

  async watch(filter: string, onChange: (change: KvChange) => void): Promise<KvWatcher> {
    // How many keys exist now: none means the watch is current as soon as it runs.
    const { kv, jsm } = await this.bound.get();
    const info = await jsm.streams.info(`KV_${this.bucket}`, { subjects_filter: `$KV.${this.bucket}.${filter}` });
    const existing = Object.keys(info.state.subjects ?? {}).length;
    const iter = await kv.watch({ key: filter });
    let resolveReady!: () => void;
    const ready = new Promise<void>((resolve) => (resolveReady = resolve));
    if (existing === 0) resolveReady();
    const closed = (async () => {
      try {
        for await (const e of iter) {
          const change: KvChange = {
            key: e.key,
            value: e.operation === 'PUT' ? e.value : new Uint8Array(0),
            revision: e.revision,
            operation: e.operation,
          };
          onChange(change);
          // The last of the current values has nothing pending behind it.
          if (e.delta === 0) resolveReady();
        }
      } finally {
        resolveReady();
      }
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.watchReadyMs);
      timer.unref();
    });
    const outcome = await Promise.race([ready.then(() => 'ready' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      iter.stop();
      throw new Error(`KV watch of ${this.bucket} ${filter} did not deliver the current values within ${this.watchReadyMs} ms`);
    }
    return {
      stop: () => iter.stop(),
      closed: closed.catch(() => undefined),
    };
  }
}
