/**
 * The effects of one aggregate. Awaited effects (a build, a lock, an activation) run one
 * after another, after the aggregate's scheduled writes so far (a configuration is written
 * before it is activated), with the aggregate's abort signal; scheduled effects (rendering a
 * file) go to the host, which coalesces them per aggregate. Neither ever rejects: a failure
 * comes back as `effect.failed` with a code and a message.
 */
import type { AggregateKind, EffectOutcome, EffectRequest } from '../../machines/index.js';
import type { Identity } from '../domain/identity.js';
import { DomainError, ensureError } from '../errors.js';
import type { SlotHost } from './slotHost.js';

/**
 * The signal of scheduled effects: the host owns them (it coalesces them and flushes them at
 * shutdown), so they are not aborted per aggregate and need no controller of their own.
 */
const SCHEDULED_SIGNAL = new AbortController().signal;

export class AggregateEffects {
  /** The last awaited effect: the next one starts after it. */
  private chain: Promise<unknown> | undefined;
  private inFlight = 0;
  /** Created with the first awaited effect (most aggregates never run one). */
  private abort: AbortController | undefined;
  private stopped = false;

  constructor(
    private readonly kind: AggregateKind,
    private readonly id: string,
    private readonly host: SlotHost,
  ) {}

  /** True while an awaited effect runs or waits to run. */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  /** Run an awaited effect after the ones before it; resolves with its outcome. */
  run(request: EffectRequest): Promise<EffectOutcome> {
    this.abort ??= new AbortController();
    if (this.stopped) this.abort.abort();
    const ctx = { aggregate: this.kind, id: this.id, signal: this.abort.signal };
    this.inFlight++;
    const run = Promise.all([this.chain, this.host.scheduledSettled?.(this.kind, this.id)])
      .then(() => this.host.runEffect(request, ctx))
      .catch((e: unknown) => failed(request, e));
    this.chain = run;
    void run.finally(() => {
      this.inFlight--;
    });
    return run;
  }

  /**
   * Hand a scheduled effect to the host (`version`: the aggregate version it renders; `cause`:
   * the command it renders for); not counted as busy: the host owns it, so the actor may be
   * passivated meanwhile. Nobody waits for it: a failure is the host's to report.
   */
  schedule(request: EffectRequest, version: number, cause: Identity): void {
    const report = (outcome: EffectOutcome): void => {
      if (outcome.type === 'effect.failed') this.host.onScheduledFailure?.(this.kind, this.id, outcome, cause);
    };
    // A host that does not batch runs it in order with the awaited ones.
    if (!this.host.scheduleEffect) {
      void this.run(request).then(report);
      return;
    }
    try {
      this.host.scheduleEffect(request, { aggregate: this.kind, id: this.id, signal: SCHEDULED_SIGNAL, version }, cause);
    } catch (e) {
      report(failed(request, e));
    }
  }

  /** Abort what runs and refuse what comes (shutdown). */
  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }
}

function failed(request: EffectRequest, e: unknown): EffectOutcome {
  return { type: 'effect.failed', kind: request.kind, code: e instanceof DomainError ? e.code : 'internal', message: ensureError(e).message };
}
