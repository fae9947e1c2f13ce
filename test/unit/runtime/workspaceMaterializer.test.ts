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

  /** Names whose writes fail (as a full disk or a blocked path would). */
  readonly failing = new Set<string>();

  performBatch(requests: EffectRequest[]): Promise<EffectOutcome[]> {
    this.batches.push(requests);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    return new Promise((resolve) => {
      this.gates.push(() => {
        this.running--;
        resolve(
          requests.map((r): EffectOutcome => {
            const name = String((r as { name?: unknown }).name);
            return this.failing.has(name)
              ? { type: 'effect.failed', kind: r.kind, code: 'nix_failed', message: `cannot write ${name}` }
              : { type: 'effect.succeeded', kind: r.kind, result: { file: `modules/${name}.nix` } };
          }),
        );
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

  it('catches up from what the stream says, never over a newer version scheduled meanwhile', async () => {
    const performer = new GatedPerformer();
    const m = new WorkspaceMaterializer(performer, { delayMs: 10, maxBatch: 100 });
    void m.schedule(write('live', 5), 'module:live', 5); // a command decided version 5 before the read models caught up
    m.catchUp([
      { key: 'module:live', version: 4, request: write('live', 4) },
      { key: 'module:lost', version: 2, request: write('lost', 2) },
    ]);
    await vi.advanceTimersByTimeAsync(10);
    expect(performer.batches[0]).toEqual([write('live', 5), write('lost', 2)]);
    performer.release();
    await m.flush();
    expect(m.stats().catch_up).toEqual({ files: 2, done: true });
    // After the catch-up, versions are no longer tracked: the newest request simply wins.
    void m.schedule(write('live', 6), 'module:live');
    await vi.advanceTimersByTimeAsync(10);
    performer.release();
    await m.flush();
  });

  it('retries a failed write with back-off until it lands; a newer request replaces the retry', async () => {
    const performer = new GatedPerformer();
    const m = new WorkspaceMaterializer(performer, { delayMs: 10, maxBatch: 100 });
    performer.failing.add('a');
    const first = m.schedule(write('a', 1), 'module:a', 1);
    await vi.advanceTimersByTimeAsync(10);
    performer.release();
    expect(await first).toMatchObject({ type: 'effect.failed' });
    expect(m.stats()).toMatchObject({ failing: 1, last_error: 'cannot write a' });
    await m.settled('module:a'); // a failing write does not hold back what waits for the file
    await vi.advanceTimersByTimeAsync(499);
    expect(performer.batches).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(11); // first retry after 0.5 s (and the batch delay)
    expect(performer.batches).toHaveLength(2);
    performer.release();
    await vi.advanceTimersByTimeAsync(990); // the second after 1 s more
    expect(performer.batches).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(30);
    expect(performer.batches).toHaveLength(3);
    performer.failing.delete('a');
    performer.release();
    await m.flush();
    expect(m.stats()).toMatchObject({ failing: 0, last_error: null });
    // A newer write replaces a retry instead of racing it.
    performer.failing.add('b');
    void m.schedule(write('b', 1), 'module:b', 1);
    await vi.advanceTimersByTimeAsync(200); // past the batch delay (four times the last batch)
    performer.release();
    await m.flush();
    performer.failing.delete('b');
    void m.schedule(write('b', 2), 'module:b', 2);
    await vi.advanceTimersByTimeAsync(1_000); // the last batch was held ~190 ms: the next waits four times that
    performer.release();
    await m.flush();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(performer.batches.at(-1)).toEqual([write('b', 2)]);
    expect(m.stats().failing).toBe(0);
  });

  it('answers a request that is not a workspace file effect with a failure', async () => {
    const m = new WorkspaceMaterializer(new GatedPerformer());
    const outcome = await m.schedule({ kind: 'package.build', name: 'x' } as unknown as EffectRequest, 'package:x');
    expect(outcome).toMatchObject({ type: 'effect.failed', code: 'internal' });
  });

  it('posts from the command path: coalesced like schedule, and a failed write is told once with every command that asked for it', async () => {
    const performer = new GatedPerformer();
    const failures: Array<{ key: string; code: string; causes: string[] }> = [];
    const m = new WorkspaceMaterializer(performer, { delayMs: 10, maxBatch: 100 }, (key, outcome, causes) =>
      failures.push({ key, code: outcome.code, causes: causes.map((c) => c.message_id) }),
    );
    const cause = (n: number) => ({ message_id: `m${n}`, correlation_id: `c${n}`, causation_id: `m${n}` });
    performer.failing.add('a');
    m.post(write('a', 1), 'module:a', 1, cause(1));
    m.post(write('a', 2), 'module:a', 2, cause(2));
    m.post(write('b', 1), 'module:b', 1, cause(3));
    await vi.advanceTimersByTimeAsync(10);
    expect(performer.batches[0]).toEqual([write('a', 2), write('b', 1)]);
    performer.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(failures).toEqual([{ key: 'module:a', code: 'nix_failed', causes: ['m1', 'm2'] }]);
    // The retry that then lands tells nobody again.
    performer.failing.delete('a');
    await vi.advanceTimersByTimeAsync(600);
    performer.release();
    await m.flush();
    expect(performer.batches.at(-1)).toEqual([write('a', 2)]);
    expect(failures).toHaveLength(1);
    // Refused at once: not a file effect, or after stop.
    m.post({ kind: 'package.build', name: 'x' } as unknown as EffectRequest, 'package:x', 1, cause(4));
    m.stop();
    m.post(write('late', 1), 'module:late', 1, cause(5));
    expect(failures.slice(1)).toEqual([
      { key: 'package:x', code: 'internal', causes: ['m4'] },
      { key: 'module:late', code: 'unavailable', causes: ['m5'] },
    ]);
    expect(performer.batches).toHaveLength(2);
  });
});
