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
import type { EventLog, StateStore } from '../store/index.js';
import { backoff, every, type Clock, type TimerHandle } from '../time/clock.js';
import type { EventPublisher } from './eventPublisher.js';

/** Waits between attempts to publish again after a reconnect (the stream may be electing a leader). */
const REPLAY_BACKOFF = backoff({ initialMs: 250, maxMs: 4_000 });

export class SeedRelay {
  private saved = 0;
  private stopTicking: (() => void) | undefined;
  /**
   * The stream sequence after which a republish is owed (the checkpoint at the earliest drop not
   * yet made good). It survives further drops: a second outage before the first one's replay
   * finished keeps the older mark, so nothing of the first outage is skipped.
   */
  private owed: number | undefined;
  private connected = true;
  /** Bumped on every drop: a replay that ran across a drop does not settle the debt. */
  private drops = 0;
  private replay: TimerHandle;
  private republished = 0;
  private stopped = false;

  constructor(
    private readonly log: EventLog,
    private readonly state: StateStore,
    private readonly publisher: EventPublisher,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly options: { checkpointEveryMs: number; reconnectGraceMs: number } = { checkpointEveryMs: 1_000, reconnectGraceMs: 1_000 },
  ) {}

  /** Catch up after the last checkpoint, then keep the checkpoint current. */
  async start(): Promise<void> {
    const checkpoint = await this.state.loadCheckpoint();
    this.saved = checkpoint;
    const last = await this.republish(checkpoint, 'start');
    this.publisher.watermark.acked(last);
    await this.save();
    this.stopTicking = every(this.clock, this.options.checkpointEveryMs, () => {
      this.save().catch((e: unknown) => this.logger.warn({ err: ensureError(e).message }, 'relay checkpoint not saved'));
    });
  }

  /** The connection dropped: remember what was surely published before (the earliest such mark still owed). */
  connectionLost(): void {
    this.connected = false;
    this.drops++;
    const mark = this.publisher.watermark.committed;
    if (this.owed === undefined || mark < this.owed) this.owed = mark;
    if (this.replay !== undefined) this.clock.clearTimeout(this.replay);
    this.replay = undefined;
  }

  /** The connection is back: after the grace period, publish again what came since the earliest drop owed. */
  connectionRestored(): void {
    this.connected = true;
    if (this.owed === undefined) return;
    if (this.replay !== undefined) this.clock.clearTimeout(this.replay);
    this.scheduleReplay(this.options.reconnectGraceMs, 1);
  }

  /**
   * Publish again from the owed mark after `ms`; when the stream cannot be read yet (a replicated
   * stream electing a new leader after a NATS node died answers nothing for seconds), try again
   * with back-off until it can. A drop meanwhile cancels the attempt; the next restore replays
   * from the same mark. The debt is settled only by a replay that ran without a drop.
   */
  private scheduleReplay(ms: number, attempt: number): void {
    this.replay = this.clock.setTimeout(() => {
      this.replay = undefined;
      const from = this.owed;
      if (from === undefined || !this.connected) return;
      const drops = this.drops;
      this.republish(from, 'reconnect').then(
        () => {
          if (this.drops === drops && this.owed === from) this.owed = undefined;
        },
        (e: unknown) => {
          if (this.stopped || !this.connected || this.drops !== drops || this.replay !== undefined) return;
          const wait = REPLAY_BACKOFF.delay(attempt);
          this.logger.warn({ err: ensureError(e).message, attempt, retry_in_ms: Math.round(wait) }, 'republishing after reconnect failed; trying again');
          this.scheduleReplay(wait, attempt + 1);
        },
      );
    }, ms);
  }

  stats(): { checkpoint: number; republished: number } {
    return { checkpoint: this.saved, republished: this.republished };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopTicking?.();
    if (this.replay !== undefined) this.clock.clearTimeout(this.replay);
    await this.save().catch((e: unknown) => this.logger.warn({ err: ensureError(e).message }, 'final relay checkpoint not saved'));
  }

  private async republish(after: number, why: 'start' | 'reconnect'): Promise<number> {
    let count = 0;
    let last = after;
    for await (const batch of this.log.readAll(after)) {
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
