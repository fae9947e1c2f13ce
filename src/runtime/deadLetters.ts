/**
 * Dead letters: events the publisher could not store within its retry budget (NATS away).
 * They are kept in a local file (`<workspace>/.deadletter/events.jsonl`, fsynced), the
 * aggregate refuses new commands (`unavailable`) until they are stored, and they are stored
 * — in order, with the aggregate's expected sequence — as soon as the store answers again.
 * A dead letter whose command is already in the store (a retry got there first) is dropped;
 * one the aggregate moved past is discarded with an error log (its command was never
 * answered `ok`, so no answered command loses an event).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { ConflictError, ensureError } from '../errors.js';
import type { AppendRequest, StoredEvent } from '../store/index.js';

/** What flushing needs from the event store and publisher. */
export interface DeadLetterSink {
  append(req: AppendRequest): Promise<{ stream_seq: number }>;
  read(kind: string, id: string): Promise<StoredEvent[]>;
  publishSeed(req: Pick<AppendRequest, 'event' | 'fact'>): void;
}

interface Record {
  key: string;
  at: string;
  request: AppendRequest;
}

export class DeadLetters {
  private readonly byKey = new Map<string, AppendRequest[]>();
  private readonly file: string;
  private flushing: Promise<void> | undefined;
  private stored = 0;
  private discarded = 0;

  constructor(
    dir: string,
    private readonly logger: Logger,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, 'events.jsonl');
    this.load();
  }

  /** Aggregates with dead letters waiting. */
  get size(): number {
    return this.byKey.size;
  }

  stats(): { waiting: number; stored: number; discarded: number } {
    let waiting = 0;
    for (const list of this.byKey.values()) waiting += list.length;
    return { waiting, stored: this.stored, discarded: this.discarded };
  }

  has(kind: string, id: string): boolean {
    return this.byKey.has(`${kind}:${id}`);
  }

  /** Keep events that could not be stored (durably, before the command is answered). */
  add(requests: AppendRequest[]): void {
    for (const r of requests) {
      const key = `${r.event.aggregate_type}:${r.event.aggregate_id}`;
      const list = this.byKey.get(key) ?? [];
      list.push(r);
      this.byKey.set(key, list);
    }
    this.persist();
    this.logger.error(
      { count: requests.length, aggregate_id: requests[0]?.event.aggregate_id, correlation_id: requests[0]?.event.identity.correlation_id, file: this.file },
      'events kept as dead letters until the event store answers again',
    );
  }

  /** Store every dead letter (one aggregate, or all); never throws. */
  flush(sink: DeadLetterSink, only?: { kind: string; id: string }): Promise<void> {
    if (this.byKey.size === 0) return Promise.resolve();
    const run = (this.flushing ?? Promise.resolve()).then(() => this.flushNow(sink, only));
    this.flushing = run.finally(() => {
      if (this.flushing === run) this.flushing = undefined;
    });
    return run;
  }

  private async flushNow(sink: DeadLetterSink, only?: { kind: string; id: string }): Promise<void> {
    const keys = only ? [`${only.kind}:${only.id}`] : [...this.byKey.keys()];
    for (const key of keys) {
      const list = this.byKey.get(key);
      if (!list) continue;
      try {
        let chain: number | undefined;
        while (list.length > 0) {
          const req = list[0]!;
          // Later events of one batch follow the one before them.
          if (chain !== undefined) req.expected_last_seq = chain;
          chain = await this.storeOne(sink, req);
          list.shift();
        }
        this.byKey.delete(key);
      } catch (e) {
        this.logger.warn({ err: ensureError(e).message, aggregate: key, waiting: list.length }, 'dead letters not stored yet; will retry');
      } finally {
        // A flush runs from timers: a file that cannot be written is logged, never thrown (the
        // letters stay in memory and are written with the next change).
        try {
          this.persist();
        } catch (e) {
          this.logger.error({ err: ensureError(e).message, file: this.file }, 'dead-letter file not rewritten; the letters are kept in memory');
        }
      }
    }
  }

  /** Store one dead letter; returns the stream sequence that now ends the aggregate (if known). */
  private async storeOne(sink: DeadLetterSink, req: AppendRequest): Promise<number | undefined> {
    try {
      const { stream_seq } = await sink.append(req);
      sink.publishSeed(req);
      this.stored++;
      this.logger.info({ aggregate_id: req.event.aggregate_id, event_id: req.event.identity.message_id, correlation_id: req.event.identity.correlation_id }, 'dead letter stored and published');
      return stream_seq;
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      const history = await sink.read(req.event.aggregate_type, req.event.aggregate_id);
      const same = history.find((s) => s.command_id === req.command_id && s.event.sequence === req.event.sequence);
      if (same) {
        this.logger.info({ aggregate_id: req.event.aggregate_id, command_id: req.command_id }, 'dead letter already stored by a retry; dropped');
        return same.stream_seq;
      }
      this.discarded++;
      this.logger.error(
        { aggregate_id: req.event.aggregate_id, command_id: req.command_id, correlation_id: req.event.identity.correlation_id, event: req.event },
        'dead letter discarded: the aggregate moved on without it (its command was answered with an error, never ok)',
      );
      return undefined;
    }
  }

  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return;
    }
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as Record;
        const list = this.byKey.get(r.key) ?? [];
        list.push(r.request);
        this.byKey.set(r.key, list);
      } catch (e) {
        this.logger.error({ err: ensureError(e).message, file: this.file }, 'unreadable dead-letter line skipped');
      }
    }
    if (this.byKey.size) this.logger.warn({ aggregates: this.byKey.size, file: this.file }, 'dead letters from a previous run are waiting to be stored');
  }

  /** Rewrite the file with what is waiting (atomically, fsynced). */
  private persist(): void {
    const lines: string[] = [];
    const at = new Date().toISOString();
    for (const [key, list] of this.byKey) for (const request of list) lines.push(JSON.stringify({ key, at, request } satisfies Record));
    const tmp = `${this.file}.tmp`;
    // The directory may have been removed under a running service (a workspace cleaned up).
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileSync(tmp, lines.length ? lines.join('\n') + '\n' : '');
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}
