/**
 * The workspace materializer: coalescing per aggregate, one batch at a time, and a flush
 * that returns only once no write runs (the service's stop relies on it).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EffectOutcome, EffectRequest } from '../../../machines/index.js';
import { WorkspaceMaterializer, type BatchPerformer } from '../../../src/runtime/workspaceMaterializer.js';

/** A performer whose batches finish when the test releases them. */
class GatedPerformer implements BatchPerformer {
  readonly batches: EffectRequest[][] = [];
  running = 0;
  maxRunning = 0;
  private gates: Array<() => void> = [];

  performBatch(requests: EffectRequest[]): Promise<EffectOutcome[]> {
    this.batches.push(requests);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    return new Promise((resolve) => {
      this.gates.push(() => {
        this.running--;
        resolve(requests.map((r) => ({ type: 'effect.succeeded', kind: r.kind, result: { file: `modules/${String((r as { name?: unknown }).name)}.nix` } })));
      });
    });
  }

  release(): void {
    const gate = this.gates.shift();
    if (!gate) throw new Error('no batch is waiting');
    gate();
  }
}

const write = (name: string, port: number): EffectRequest => ({ kind: 'module.write', name, module: { options: {}, config: { port }, imports: [] } });

describe('workspace materializer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('coalesces the requests of one aggregate: the newest body is written once and every caller learns the outcome', async () => {
    const performer = new GatedPerformer();
    const m = new WorkspaceMaterializer(performer, { delayMs: 250, maxBatch: 100 });
    const outcomes = [m.schedule(write('a', 1), 'module:a'), m.schedule(write('a', 2), 'module:a'), m.schedule(write('b', 1), 'module:b')];
    await vi.advanceTimersByTimeAsync(250);
    expect(performer.batches).toHaveLength(1);
    expect(performer.batches[0]).toEqual([write('a', 2), write('b', 1)]);
    performer.release();
    const done = await Promise.all(outcomes);
    expect(done.map((o) => o.type)).toEqual(['effect.succeeded', 'effect.succeeded', 'effect.succeeded']);
    expect(m.stats()).toMatchObject({ pending: 0, written: 2, batches: 1 });
  });

  it('flush returns only after the batch in flight and everything pending are written, with one batch at a time', async () => {
    const performer = new GatedPerformer();
    const m = new WorkspaceMaterializer(performer, { delayMs: 10, maxBatch: 100 });
    void m.schedule(write('first', 1), 'module:first');
    await vi.advanceTimersByTimeAsync(10);
    expect(performer.running).toBe(1);
    void m.schedule(write('second', 1), 'module:second'); // pending while the first batch runs
    let flushed = false;
    const flushing = m.flush().then(() => (flushed = true));
    performer.release();
    // The first batch's end would arm the timer; time passes while the second batch runs.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(performer.batches).toHaveLength(2);
    expect(performer.running).toBe(1);
    expect(flushed).toBe(false);
    performer.release();
    await flushing;
    expect(performer.running).toBe(0);
    expect(performer.maxRunning).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(performer.batches).toHaveLength(2); // no empty or extra batch after the flush
  });

  it('waits at least four times the last batch before the next one (rendering stays under ~20 % of the time)', async () => {
    const performer = new GatedPerformer();
    const m = new WorkspaceMaterializer(performer, { delayMs: 10, maxBatch: 100 });
    void m.schedule(write('a', 1), 'module:a');
    await vi.advanceTimersByTimeAsync(10);
    expect(performer.batches).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(100); // the batch takes 100 ms
    void m.schedule(write('b', 1), 'module:b');
    performer.release();
    await vi.advanceTimersByTimeAsync(390);
    expect(performer.batches).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(20);
    expect(performer.batches).toHaveLength(2);
    performer.release();
  });

  it('refuses requests after stop, without calling the performer', async () => {
    const performer = new GatedPerformer();
    const m = new WorkspaceMaterializer(performer, { delayMs: 10, maxBatch: 100 });
    await m.flush();
    m.stop();
    const outcome = await m.schedule(write('late', 1), 'module:late');
    expect(outcome).toMatchObject({ type: 'effect.failed', code: 'unavailable' });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(performer.batches).toHaveLength(0);
  });

  it('answers a request that is not a workspace file effect with a failure', async () => {
    const m = new WorkspaceMaterializer(new GatedPerformer());
    const outcome = await m.schedule({ kind: 'package.build', name: 'x' } as unknown as EffectRequest, 'package:x');
    expect(outcome).toMatchObject({ type: 'effect.failed', code: 'internal' });
  });
});
