/**
 * Notices an event feed that stopped delivering while the stream holds more.
 *
 * The service knows the stream sequence of every event it stored itself (the append's
 * acknowledgement). When the feed has not delivered up to it and delivered nothing at all
 * for `stallMs`, the feed is stalled — whatever the cause: a pull the server ended with a
 * status nats.js only answers after two missed heartbeats, a consumer lost without a
 * status — and `onStall` reopens it. A feed that lags but moves is not stalled. One timer
 * at most, armed only while the feed is behind; nothing per event but two comparisons.
 */
export class FeedStallWatch {
  /** The highest stream sequence known to be stored. */
  private stored = 0;
  /** The last stream sequence delivered. */
  private delivered: number;
  /** What was delivered when the timer was armed: progress since then is not a stall. */
  private deliveredAtArm = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    afterSeq: number,
    private readonly stallMs: number,
    private readonly onStall: (stall: { delivered: number; stored: number; ms: number }) => void,
  ) {
    this.delivered = afterSeq;
  }

  /** An event with this stream sequence was stored (by this process). */
  storedUpTo(seq: number): void {
    if (seq <= this.stored) return;
    this.stored = seq;
    if (seq > this.delivered && this.timer === undefined && !this.stopped) this.arm();
  }

  /** The feed delivered this stream sequence. */
  deliveredUpTo(seq: number): void {
    if (seq > this.delivered) this.delivered = seq;
  }

  /** Whether the feed is behind what is known to be stored. */
  get behind(): boolean {
    return this.delivered < this.stored;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.deliveredAtArm = this.delivered;
    this.timer = setTimeout(() => this.fire(), this.stallMs);
    // A stalled feed must not keep a stopping process alive.
    this.timer.unref?.();
  }

  private fire(): void {
    this.timer = undefined;
    if (this.stopped || !this.behind) return;
    if (this.delivered === this.deliveredAtArm) {
      this.onStall({ delivered: this.delivered, stored: this.stored, ms: this.stallMs });
    }
    // Still behind: watch again (a reopen that does not help is noticed once more).
    if (!this.stopped) this.arm();
  }
}
