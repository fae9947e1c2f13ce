/**
 * This instance's membership: its member record, rewritten every heartbeat by compare-and-set
 * on its own last revision, and the watch that feeds its {@link ClusterView}. The watch is
 * checked against the instance's own heartbeats: an acknowledged heartbeat that does not come
 * back through it within the grace means the watch is stale, and it is restarted.
 */
import { KvConflictError } from './errors.js';
import type { ClusterKv, KvWatcher } from './kv.js';
import { encodeRecord, memberKey, type MemberRecord } from './records.js';
import type { EngineSettings } from './types.js';
import type { ClusterStats } from './types.js';
import { ClusterView } from './view.js';
import { ensureError } from '../errors.js';

/** What membership asks of the engine. */
export interface MembershipHost {
  readonly leaving: boolean;
  readonly stopped: boolean;
  /** Partitions served now (announced in the member record). */
  ownedPartitions(): number[];
  /** The view changed (`own-lease`: only an echo of this instance's own renewal). */
  viewChanged(what: 'member' | 'part' | 'own-lease'): void;
}

export type MembershipCounters = Pick<ClusterStats, 'heartbeats' | 'heartbeat_failures' | 'watch_restarts' | 'members_removed'>;

/** Attempts at the first watch before the start fails (each bounded by the KV watch's own bound). */
const START_WATCH_ATTEMPTS = 4;

export class Membership {
  readonly view: ClusterView;
  readonly counters: MembershipCounters = { heartbeats: 0, heartbeat_failures: 0, watch_restarts: 0, members_removed: 0 };
  /** How long the view trusts itself after its own last echo. */
  readonly echoGraceMs: number;
  private revision = 0;
  private lane: Promise<void> = Promise.resolve();
  private beat = 0;
  private watcher: KvWatcher | undefined;
  private watchGen = 0;
  private watchBroken = false;
  private restarting = false;
  private pendingEcho: { revision: number; at: number } | undefined;
  private readonly removing = new Set<string>();

  constructor(
    private readonly kv: ClusterKv,
    private readonly s: EngineSettings,
    private readonly host: MembershipHost,
  ) {
    this.echoGraceMs = s.heartbeatMs + Math.ceil(s.leaseMs / 3);
    this.view = new ClusterView(s.instanceId, s.incarnation, s.partitions, this.echoGraceMs, s.clock.now());
  }

  /** Write this instance's member record (serialised; compare-and-set on its own last revision). */
  announce(): Promise<void> {
    this.lane = this.lane.then(() => this.write());
    return this.lane;
  }

  private async write(): Promise<void> {
    if (this.host.stopped) return;
    const record: MemberRecord = {
      id: this.s.instanceId,
      host: this.s.host,
      version: this.s.version,
      started_at: this.s.startedAt,
      incarnation: this.s.incarnation,
      lease_ms: this.s.leaseMs,
      partitions: this.host.ownedPartitions(),
      leaving: this.host.leaving,
      beat: ++this.beat,
      ...(this.s.progress ? { progress: this.s.progress() } : {}),
    };
    const key = memberKey(this.s.instanceId);
    const value = encodeRecord(record);
    try {
      let rev: number;
      try {
        rev = this.revision === 0 ? await this.kv.create(key, value) : await this.kv.update(key, value, this.revision);
      } catch (e) {
        if (!(e instanceof KvConflictError)) throw e;
        // Removed by another instance (it thought us gone), or the id is used twice.
        const cur = await this.kv.get(key);
        const other = cur ? incarnationOf(cur.value) : undefined;
        if (other !== undefined && other !== this.s.incarnation) {
          this.s.logger.error(
            { instance: this.s.instanceId, other },
            'another running instance uses this instance id: give every instance its own id',
          );
        }
        rev = cur ? await this.kv.update(key, value, cur.revision) : await this.kv.create(key, value);
      }
      if (this.host.stopped) return;
      this.revision = rev;
      this.counters.heartbeats++;
      if (!this.pendingEcho && this.view.ownRevision < rev) this.pendingEcho = { revision: rev, at: this.s.clock.now() };
    } catch (e) {
      this.counters.heartbeat_failures++;
      this.s.logger.debug({ err: ensureError(e).message }, 'heartbeat failed');
    }
  }

  /** Remove this instance's key (leaving): compare-and-set on its last revision. */
  async withdraw(): Promise<void> {
    await this.lane;
    try {
      if (this.revision > 0) await this.kv.delete(memberKey(this.s.instanceId), this.revision);
    } catch (e) {
      this.s.logger.debug({ err: ensureError(e).message }, 'could not remove the member key; the others remove it later');
    }
  }

  /** Remove a departed member's key, unless it wrote since (compare-and-set on what we saw). */
  remove(id: string, revision: number): void {
    if (this.removing.has(id)) return;
    this.removing.add(id);
    this.kv
      .delete(memberKey(id), revision)
      .then(() => {
        this.counters.members_removed++;
        this.s.logger.info({ member: id }, 'removed a departed member from the bucket');
      })
      .catch(() => undefined)
      .finally(() => this.removing.delete(id));
  }

  /** Restart the watch when this instance's own acknowledged heartbeat does not come back. */
  watchdog(): void {
    const now = this.s.clock.now();
    if (this.pendingEcho && this.view.ownRevision >= this.pendingEcho.revision) this.pendingEcho = undefined;
    const stale = this.pendingEcho !== undefined && now - this.pendingEcho.at > this.echoGraceMs;
    if (stale || this.watchBroken) void this.restartWatch(stale ? 'own heartbeats stopped coming back' : 'the watch ended');
  }

  /**
   * The first watch, at start: a bucket that another instance has just created may have no
   * stream leader yet (a replicated stream elects one in seconds, longer on a loaded machine),
   * and then the watch delivers nothing within its bound. Tried again a few times before the
   * start fails.
   */
  async startFirstWatch(attempts = START_WATCH_ATTEMPTS): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.startWatch();
      } catch (e) {
        if (attempt >= attempts || this.host.stopped) throw e;
        this.counters.watch_restarts++;
        this.s.logger.warn({ err: ensureError(e).message, attempt, of: attempts }, 'the cluster watch did not start; trying again');
      }
    }
  }

  async startWatch(): Promise<void> {
    const gen = ++this.watchGen;
    const w = await this.kv.watch('>', (c) => {
      if (gen !== this.watchGen || this.host.stopped) return;
      const what = this.view.apply(c, this.s.clock.now());
      if (what) this.host.viewChanged(what);
    });
    if (this.host.stopped || gen !== this.watchGen) {
      w.stop();
      return;
    }
    this.watcher = w;
    this.watchBroken = false;
    void w.closed.then(() => {
      if (gen === this.watchGen && !this.host.stopped) {
        this.watchBroken = true;
        void this.restartWatch('the watch ended');
      }
    });
  }

  private async restartWatch(why: string): Promise<void> {
    if (this.restarting || this.host.stopped) return;
    this.restarting = true;
    this.counters.watch_restarts++;
    this.s.logger.warn({ why }, 'restarting the cluster watch');
    const old = this.watcher;
    this.watcher = undefined;
    this.watchGen++;
    old?.stop();
    this.pendingEcho = undefined;
    try {
      await this.startWatch();
    } catch (e) {
      this.watchBroken = true;
      this.s.logger.warn({ err: ensureError(e).message }, 'could not restart the cluster watch; retrying on the next heartbeat');
    } finally {
      this.restarting = false;
    }
  }

  stopWatch(): void {
    this.watchGen++;
    this.watcher?.stop();
    this.watcher = undefined;
  }
}

/** The incarnation of whatever is stored, without trusting its shape. */
function incarnationOf(bytes: Uint8Array): string | undefined {
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(bytes));
    const inc = typeof v === 'object' && v !== null ? (v as { incarnation?: unknown }).incarnation : undefined;
    return typeof inc === 'string' ? inc : undefined;
  } catch {
    return undefined;
  }
}
