/**
 * The in-memory twin of the JetStream event log: the same contract (per-aggregate
 * histories, expected-last-sequence conflicts, a dedup window that never passes another
 * event off as this one, reads, follow), held to it by the same contract suite. The runtime
 * core's unit tests run on it in virtual time; `available = false` makes it fail as a log
 * that does not answer.
 */
import { ConflictError, UnavailableError } from '../errors.js';
import { systemClock, type Clock } from '../time/clock.js';
import type { Appended, AppendRequest, EventLog, FollowOptions, Following, StoredEvent } from './ports.js';

interface Follower {
  next: number;
  options: FollowOptions;
  stopped: boolean;
}

const utf8 = new TextDecoder();

export class MemoryEventLog implements EventLog {
  private readonly all: StoredEvent[] = [];
  private readonly histories = new Map<string, StoredEvent[]>();
  private readonly dedup = new Map<string, { seq: number; at: number }>();
  private readonly followers = new Set<Follower>();
  /** While false, every operation fails as a log that does not answer does (a transient error). */
  available = true;
  /** Appends so far (attempts that reached the log, duplicates included). */
  appends = 0;
  /** Called before each append is checked: a test plays another writer here. */
  beforeAppend: ((req: AppendRequest) => void) | undefined;

  constructor(
    private readonly clock: Clock = systemClock,
    private readonly duplicateWindowMs = 120_000,
  ) {}

  append(req: AppendRequest, body?: Uint8Array): Promise<Appended> {
    return this.answer(() => {
      this.appends++;
      this.beforeAppend?.(req);
      const { event } = req;
      const seen = this.dedup.get(req.msg_id);
      if (seen && this.clock.now() - seen.at < this.duplicateWindowMs) {
        const stored = this.all[seen.seq - 1]!;
        if (stored.event.identity.message_id !== event.identity.message_id) {
          throw new ConflictError(
            `the store already holds another event under the dedup key ${req.msg_id} (stream sequence ${seen.seq}); reload ${event.aggregate_type} ${event.aggregate_id} and decide again`,
            { duplicate_of: seen.seq, msg_id: req.msg_id },
          );
        }
        return { stream_seq: seen.seq, duplicate: true };
      }
      const key = `${event.aggregate_type}.${event.aggregate_id}`;
      const history = this.histories.get(key) ?? [];
      const last = history.at(-1)?.stream_seq ?? 0;
      if (last !== req.expected_last_seq) {
        // This very event stored by an earlier attempt whose key the store no longer knows.
        const mine = history.at(-1);
        if (mine && mine.event.identity.message_id === event.identity.message_id) return { stream_seq: mine.stream_seq, duplicate: true };
        throw new ConflictError(`${event.aggregate_type} ${event.aggregate_id} was changed by another writer; reload and retry`, {
          expected_last_seq: req.expected_last_seq,
        });
      }
      // What is stored is the bytes: a copy, never the caller's object.
      const copy = JSON.parse(body ? utf8.decode(body) : JSON.stringify(event)) as StoredEvent['event'];
      const stored: StoredEvent = { event: copy, fact: req.fact, command_id: req.command_id, stream_seq: this.all.length + 1 };
      this.all.push(stored);
      history.push(stored);
      this.histories.set(key, history);
      this.dedup.set(req.msg_id, { seq: stored.stream_seq, at: this.clock.now() });
      for (const f of this.followers) this.pump(f);
      return { stream_seq: stored.stream_seq, duplicate: false };
    });
  }

  read(kind: string, id: string, afterSeq = 0): Promise<StoredEvent[]> {
    return this.answer(() => (this.histories.get(`${kind}.${id}`) ?? []).filter((s) => s.stream_seq > afterSeq));
  }

  lastSequence(kind: string, id: string): Promise<number> {
    return this.answer(() => this.histories.get(`${kind}.${id}`)?.at(-1)?.stream_seq ?? 0);
  }

  tail(): Promise<number> {
    return Promise.resolve(this.all.length);
  }

  async *readAll(afterSeq = 0, batchSize = 1000): AsyncGenerator<StoredEvent[]> {
    const last = await this.answer(() => this.all.length);
    for (let from = afterSeq; from < last; from += batchSize) yield this.all.slice(from, Math.min(last, from + batchSize));
  }

  follow(options: FollowOptions): Promise<Following> {
    return this.answer(() => {
      const follower: Follower = { next: options.afterSeq + 1, options, stopped: false };
      this.followers.add(follower);
      queueMicrotask(() => this.pump(follower));
      return {
        target: this.all.length,
        stop: () => {
          follower.stopped = true;
          this.followers.delete(follower);
          return Promise.resolve();
        },
      };
    });
  }

  /** Everything stored, in order (for tests). */
  get events(): readonly StoredEvent[] {
    return this.all;
  }

  /** Deliver what a follower has not seen yet, in order, asynchronously as a consumer would. */
  private pump(f: Follower): void {
    queueMicrotask(() => {
      if (f.stopped) return;
      let delivered = false;
      while (f.next <= this.all.length && !f.stopped) {
        const stored = this.all[f.next - 1]!;
        f.next++;
        delivered = true;
        try {
          f.options.onEvent({ ...stored, command_id: f.options.factOf?.(stored.event) !== undefined ? '' : stored.command_id });
        } catch (e) {
          f.options.onUnreadable(stored.stream_seq, e instanceof Error ? e.message : String(e));
        }
      }
      if ((delivered || f.next > this.all.length) && f.options.wantsIdle()) f.options.onIdle();
    });
  }

  private answer<T>(fn: () => T): Promise<T> {
    if (!this.available) return Promise.reject(new UnavailableError('the event log does not answer (in-memory twin made unavailable)'));
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }
}
