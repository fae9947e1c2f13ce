/**
 * Renders module, overlay and configuration files as a projection of their facts, without
 * holding any command's reply. Requests are coalesced per file (only the newest body of a
 * file is written) and flushed in batches, so a burst of ten thousand updates costs a few
 * `nix-instantiate --parse` runs instead of ten thousand.
 */
import type { EffectOutcome, EffectRequest } from '../../machines/index.js';
import { ensureError } from '../errors.js';

/** What the materializer needs from the Nix port. */
export interface BatchPerformer {
  /** Perform several workspace writes/deletes together; one outcome per request, in order. */
  performBatch(requests: EffectRequest[], signal: AbortSignal): Promise<EffectOutcome[]>;
}

interface Pending {
  request: EffectRequest;
  waiters: Array<(outcome: EffectOutcome) => void>;
}

const WORKSPACE_KINDS: ReadonlySet<string> = new Set(['module.write', 'module.delete', 'overlay.write', 'overlay.delete', 'config.write']);

export class WorkspaceMaterializer {
  private pending = new Map<string, Pending>();
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private written = 0;
  private batches = 0;
  private stopped = false;
  /** How long the last batch took (ms): the next one waits at least four times that. */
  private lastBatchMs = 0;

  constructor(
    private readonly performer: BatchPerformer,
    // A batch costs a few subprocess launches, and each launch blocks the event loop for
    // milliseconds: batches are at most a few per second, so the command path stays smooth.
    private readonly options: { delayMs: number; maxBatch: number } = { delayMs: 250, maxBatch: 2000 },
  ) {}

  private readonly inFlight = new Map<string, Promise<void>>();

  /**
   * Queue a write or delete of one aggregate's file (`key` names the aggregate: its requests
   * coalesce); resolves with the outcome of the write that covered it.
   */
  schedule(request: EffectRequest, key: string): Promise<EffectOutcome> {
    if (!WORKSPACE_KINDS.has(request.kind)) {
      return Promise.resolve({ type: 'effect.failed', kind: request.kind, code: 'internal', message: `${request.kind} is not a workspace file effect` });
    }
    if (this.stopped) {
      return Promise.resolve({ type: 'effect.failed', kind: request.kind, code: 'unavailable', message: 'the service is stopping; the file is rendered on the next start' });
    }
    return new Promise((resolve) => {
      const existing = this.pending.get(key);
      if (existing) {
        existing.request = request; // the newest body wins; earlier callers learn its outcome
        existing.waiters.push(resolve);
      } else {
        this.pending.set(key, { request, waiters: [resolve] });
      }
      this.arm();
    });
  }

  /** Resolves when nothing is pending or being written for `key`. */
  async settled(key: string): Promise<void> {
    for (;;) {
      const pending = this.pending.get(key);
      const flying = this.inFlight.get(key);
      if (!pending && !flying) return;
      if (pending) await new Promise<void>((r) => pending.waiters.push(() => r()));
      else await flying;
    }
  }

  stats(): { pending: number; written: number; batches: number } {
    return { pending: this.pending.size, written: this.written, batches: this.batches };
  }

  /**
   * Write everything pending now and wait for the batch in flight: when this resolves, no
   * write of this materializer runs. Later requests still work (until `stop`).
   */
  async flush(): Promise<void> {
    for (;;) {
      this.disarm();
      if (this.flushing) await this.flushing;
      else if (this.pending.size > 0) await this.runBatch();
      else return;
    }
  }

  /** Refuse new requests; call after `flush` (a batch in flight is aborted where it can be). */
  stop(): void {
    this.stopped = true;
    this.abort.abort();
    this.disarm();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.timer || this.flushing || this.stopped) return;
    // Rendering runs at most ~20 % of the time: under a burst, batches grow (files coalesce
    // per aggregate) instead of coming more often, so the nix and git runs stay off the CPU
    // the commands need.
    const delay = Math.max(this.options.delayMs, this.lastBatchMs * 4);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.flushing) void this.runBatch();
    }, delay);
  }

  /** Runs one batch; at most one runs at a time (`flushing` is that batch). */
  private runBatch(): Promise<void> {
    if (this.flushing) return this.flushing;
    const batch: Pending[] = [];
    const keys: string[] = [];
    for (const [key, p] of this.pending) {
      batch.push(p);
      keys.push(key);
      this.pending.delete(key);
      if (batch.length >= this.options.maxBatch) break;
    }
    const run = (async () => {
      if (batch.length === 0) return;
      const started = performance.now();
      let outcomes: EffectOutcome[];
      try {
        outcomes = await this.performer.performBatch(
          batch.map((p) => p.request),
          this.abort.signal,
        );
      } catch (e) {
        const message = ensureError(e).message;
        outcomes = batch.map((p) => ({ type: 'effect.failed', kind: p.request.kind, code: 'internal', message }));
      }
      this.batches++;
      this.written += batch.length;
      this.lastBatchMs = performance.now() - started;
      batch.forEach((p, i) => {
        const outcome = outcomes[i] ?? { type: 'effect.failed', kind: p.request.kind, code: 'internal', message: 'no outcome for this request' };
        for (const w of p.waiters) w(outcome);
      });
    })();
    const done = run.then(() => undefined);
    for (const key of keys) this.inFlight.set(key, done);
    this.flushing = run.finally(() => {
      for (const key of keys) if (this.inFlight.get(key) === done) this.inFlight.delete(key);
      this.flushing = undefined;
      if (this.pending.size > 0) this.arm();
    });
    return this.flushing;
  }
}

/** A performer for ports without a batch operation: one request after another. */
export function sequentialPerformer(perform: (request: EffectRequest, signal: AbortSignal) => Promise<EffectOutcome>): BatchPerformer {
  return {
    async performBatch(requests, signal) {
      const out: EffectOutcome[] = [];
      for (const r of requests) out.push(await perform(r, signal));
      return out;
    },
  };
}
