/**
 * Keeps the seed subjects gapless. Core NATS delivers at most once, so two moments can
 * lose a publication: a crash between storing and publishing, and subscribers that were
 * cut off with us during an outage. The relay republishes from the store in both cases:
 * at start, everything after the last checkpoint; after a reconnection (and a grace period
 * for subscribers to come back), everything stored since the checkpoint taken when the
 * connection dropped. Subscribers may see a duplicate (drop it by `X-Event-ID`), never a gap.
 */
import type { Logger } from 'pino';
import { ensureError } from '../errors.js';
import type { EventPublisher } from './eventPublisher.js';
import type { EventStore } from './eventStore.js';
import type { StateStore } from './stateStore.js';

export class SeedRelay {
  private saved = 0;
  private timer: NodeJS.Timeout | undefined;
  private lostAt: number | undefined;
  private replay: NodeJS.Timeout | undefined;
  private republished = 0;

  constructor(
    private readonly store: EventStore,
    private readonly state: StateStore,
    private readonly publisher: EventPublisher,
    private readonly logger: Logger,
    private readonly options: { checkpointEveryMs: number; reconnectGraceMs: number } = { checkpointEveryMs: 1_000, reconnectGraceMs: 1_000 },
  ) {}

  /** Catch up after the last checkpoint, then keep the checkpoint current. */
  async start(): Promise<void> {
    const checkpoint = await this.state.loadCheckpoint();
    this.saved = checkpoint;
    const last = await this.republish(checkpoint, 'start');
    this.publisher.watermark.acked(last);
    await this.save();
    this.timer = setInterval(() => {
      this.save().catch((e: unknown) => this.logger.warn({ err: ensureError(e).message }, 'relay checkpoint not saved'));
    }, this.options.checkpointEveryMs);
    this.timer.unref();
  }

  /** The connection dropped: remember what was surely published before. */
  connectionLost(): void {
    if (this.lostAt === undefined) this.lostAt = this.publisher.watermark.committed;
    if (this.replay) clearTimeout(this.replay);
    this.replay = undefined;
  }

  /** The connection is back: after the grace period, publish again what came since the drop. */
  connectionRestored(): void {
    const from = this.lostAt;
    this.lostAt = undefined;
    if (from === undefined) return;
    if (this.replay) clearTimeout(this.replay);
    this.replay = setTimeout(() => {
      this.replay = undefined;
      this.republish(from, 'reconnect').catch((e: unknown) => this.logger.warn({ err: ensureError(e).message }, 'republishing after reconnect failed'));
    }, this.options.reconnectGraceMs);
    this.replay.unref();
  }

  stats(): { checkpoint: number; republished: number } {
    return { checkpoint: this.saved, republished: this.republished };
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.replay) clearTimeout(this.replay);
    await this.save().catch((e: unknown) => this.logger.warn({ err: ensureError(e).message }, 'final relay checkpoint not saved'));
  }

  private async republish(after: number, why: 'start' | 'reconnect'): Promise<number> {
    let count = 0;
    let last = after;
    for await (const batch of this.store.readAll(after)) {
      for (const stored of batch) {
        this.publisher.publishSeed({ event: stored.event, fact: stored.fact });
        last = stored.stream_seq;
        count++;
      }
    }
    this.republished += count;
    if (count > 0) {
      this.logger.info(
        { republished: count, from: after + 1, to: last, why },
        why === 'start'
          ? 'published events a previous run had stored but maybe not published'
          : 'published again the events stored around an outage, for subscribers that were cut off',
      );
    }
    return last;
  }

  private async save(): Promise<void> {
    this.publisher.watermark.tick();
    const c = this.publisher.watermark.committed;
    if (c > this.saved) {
      await this.state.saveCheckpoint(c);
      this.saved = c;
    }
  }
}
