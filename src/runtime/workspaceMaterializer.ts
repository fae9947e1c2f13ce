/**
 * Renders module, overlay and configuration files as a projection of their facts, without
 * holding any command's reply. Requests are coalesced per file (only the newest body of a
 * file is written) and flushed in batches, so a burst of ten thousand updates costs a few
 * `nix-instantiate --parse` runs instead of ten thousand.
 *
 * The files are a projection of the stream (SPEC §11): on start the service hands it what the
 * read models say every file should be ({@link WorkspaceMaterializer.catchUp}), so files a
 * crash lost are written again; a write that fails is retried with back-off until it is
 * written or a newer one replaces it. Versions keep a catch-up from writing older content
 * than a live command already scheduled.
 */
import { workspaceFileEffects, type EffectOutcome, type EffectRequest } from '../../machines/index.js';
import type { Identity } from '../domain/identity.js';
import { ensureError } from '../errors.js';

/** What the materializer needs from the Nix port. */
export interface BatchPerformer {
  /** Perform several workspace writes/deletes together; one outcome per request, in order. */
  performBatch(requests: EffectRequest[], signal: AbortSignal): Promise<EffectOutcome[]>;
}

interface Pending {
  request: EffectRequest;
  /** The aggregate version the request reflects, when known. */
  version: number | undefined;
  /** Callers of `schedule` and `settled` (none on the command path: `post` keeps no closure). */
  waiters: Array<(outcome: EffectOutcome) => void> | undefined;
  /** The commands whose facts asked for this file (`post`): a failed write names them. */
  causes: Identity[] | undefined;
  /** Failed attempts so far (0 for a fresh request). */
  attempts: number;
}

/** Told once per failed write, with the commands that asked for it since the last write. */
export type MaterializerFailure = (key: string, outcome: Extract<EffectOutcome, { type: 'effect.failed' }>, causes: readonly Identity[]) => void;

/** What health says about the workspace files. */
export interface MaterializerStats {
  pending: number;
  written: number;
  batches: number;
  /** Files whose last write failed and that are being retried. */
  failing: number;
  last_error: string | null;
  /** The start-up catch-up: files it looked at, and whether it is done. */
  catch_up: { files: number; done: boolean } | null;
}

/** Back-off of a failing write: 0.5 s, 1 s, 2 s … at most 30 s. */
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 30_000;

export class WorkspaceMaterializer {
  private pending = new Map<string, Pending>();
  /** Failed writes waiting for their next attempt (not counted as pending by `settled`). */
  private readonly retrying = new Map<string, Pending & { at: number }>();
  private retryTimer: NodeJS.Timeout | undefined;
  /**
   * Until the start-up catch-up has been handed its files: the newest version scheduled per
   * key, so the catch-up (from read models that may lag) never writes older content.
   */
  private versions: Map<string, number> | undefined = new Map();
  private lastError: string | null = null;
  private caughtUp: MaterializerStats['catch_up'] = null;
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
    private readonly onFailure?: MaterializerFailure,
  ) {}

  private readonly inFlight = new Map<string, Promise<void>>();

  /**
   * Queue a write or delete of one aggregate's file (`key` names the aggregate: its requests
   * coalesce; `version` is the aggregate version it reflects); resolves with the outcome of
   * the first write that covered it (a failed write is retried all the same).
   */
  schedule(request: EffectRequest, key: string, version?: number): Promise<EffectOutcome> {
    const refused = this.refusal(request);
    if (refused) return Promise.resolve(refused);
    return new Promise((resolve) => this.enqueue(key, request, version, resolve, undefined));
  }

  /**
   * The command path's `schedule`: nothing waits for the write, so no promise or closure is
   * kept per command (they lived as long as a batch, long enough to be promoted); a failed
   * write is told to `onFailure` once, with every command that asked for it.
   */
  post(request: EffectRequest, key: string, version: number, cause: Identity): void {
    const refused = this.refusal(request);
    if (refused) this.onFailure?.(key, refused, [cause]);
    else this.enqueue(key, request, version, undefined, cause);
  }

  private refusal(request: EffectRequest): Extract<EffectOutcome, { type: 'effect.failed' }> | undefined {
    if (!workspaceFileEffects.has(request.kind)) {
      return { type: 'effect.failed', kind: request.kind, code: 'internal', message: `${request.kind} is not a workspace file effect` };
    }
    if (this.stopped) {
      return { type: 'effect.failed', kind: request.kind, code: 'unavailable', message: 'the service is stopping; the file is rendered on the next start' };
    }
    return undefined;
  }

  /**
   * Catch the workspace up to what the stream says (on start, once the read models have
   * read it): every file is written again unless a newer version was scheduled meanwhile. The
   * port leaves files that already hold the right content untouched, so this is cheap when
   * nothing was lost.
   */
  catchUp(files: ReadonlyArray<{ key: string; version: number; request: EffectRequest }>): void {
    const versions = this.versions;
    this.versions = undefined;
    if (this.stopped) return;
    let queued = 0;
    for (const f of files) {
      const known = versions?.get(f.key) ?? this.pending.get(f.key)?.version;
      if (known !== undefined && known >= f.version) continue;
      this.enqueue(f.key, f.request, f.version, undefined, undefined);
      this.catchingUp.add(f.key);
      queued++;
    }
    this.caughtUp = { files: files.length, done: queued === 0 };
  }

  /** Keys the catch-up queued that are not written yet: it is done when none is left. */
  private readonly catchingUp = new Set<string>();

  private markWritten(key: string): void {
    if (!this.catchingUp.delete(key) || this.catchingUp.size > 0 || !this.caughtUp) return;
    this.caughtUp.done = true;
  }

  private enqueue(key: string, request: EffectRequest, version: number | undefined, waiter: ((o: EffectOutcome) => void) | undefined, cause: Identity | undefined): void {
    if (version !== undefined && this.versions) this.versions.set(key, Math.max(version, this.versions.get(key) ?? 0));
    const retry = this.retrying.get(key);
    if (retry && (version === undefined || retry.version === undefined || version >= retry.version)) this.retrying.delete(key);
    const existing = this.pending.get(key);
    if (existing) {
      // The newest body wins; earlier callers learn its outcome.
      if (version === undefined || existing.version === undefined || version >= existing.version) {
        existing.request = request;
        existing.version = version;
        existing.attempts = 0;
      }
      if (waiter) (existing.waiters ??= []).push(waiter);
      if (cause) (existing.causes ??= []).push(cause);
    } else {
      this.pending.set(key, { request, version, waiters: waiter && [waiter], causes: cause && [cause], attempts: 0 });
    }
    this.arm();
  }

  /** Resolves when nothing is pending or being written for `key`. */
  async settled(key: string): Promise<void> {
    for (;;) {
      const pending = this.pending.get(key);
      const flying = this.inFlight.get(key);
      if (!pending && !flying) return;
      if (pending) await new Promise<void>((r) => (pending.waiters ??= []).push(() => r()));
      else await flying;
    }
  }

  stats(): MaterializerStats {
    return {
      pending: this.pending.size,
      written: this.written,
      batches: this.batches,
      failing: this.retrying.size,
      last_error: this.lastError,
      catch_up: this.caughtUp && { ...this.caughtUp },
    };
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
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.retrying.clear();
  }

  /** A failed write goes back in line after its back-off, unless a newer one replaced it. */
  private retryLater(key: string, p: Pending, message: string): void {
    this.lastError = message;
    if (this.stopped || this.pending.has(key)) return;
    const attempts = p.attempts + 1;
    const at = Date.now() + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (attempts - 1));
    this.retrying.set(key, { request: p.request, version: p.version, waiters: undefined, causes: undefined, attempts, at });
    this.armRetry();
  }

  private armRetry(): void {
    if (this.retryTimer || this.retrying.size === 0 || this.stopped) return;
    let next = Number.POSITIVE_INFINITY;
    for (const r of this.retrying.values()) next = Math.min(next, r.at);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      const now = Date.now();
      for (const [key, r] of this.retrying) {
        if (r.at > now) continue;
        this.retrying.delete(key);
        if (!this.pending.has(key)) this.pending.set(key, { request: r.request, version: r.version, waiters: undefined, causes: undefined, attempts: r.attempts });
      }
      this.arm();
      this.armRetry();
    }, Math.max(0, next - Date.now()));
    this.retryTimer.unref?.();
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
        const outcome: EffectOutcome = outcomes[i] ?? { type: 'effect.failed', kind: p.request.kind, code: 'internal', message: 'no outcome for this request' };
        if (outcome.type === 'effect.failed') {
          this.retryLater(keys[i]!, p, outcome.message);
          if (p.causes) this.onFailure?.(keys[i]!, outcome, p.causes);
        } else this.markWritten(keys[i]!);
        if (p.waiters) for (const w of p.waiters) w(outcome);
      });
      if (this.retrying.size === 0) this.lastError = null;
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
