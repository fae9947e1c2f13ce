import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadlines } from '../../../src/runtime/deadlines.js';

describe('deadlines', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('fires each wait once its time has passed, within the resolution, and never a cleared one', async () => {
    const d = new Deadlines(1_000, 100);
    const fired: string[] = [];
    d.add(() => fired.push('a'));
    const b = d.add(() => fired.push('b'));
    await vi.advanceTimersByTimeAsync(500);
    d.add(() => fired.push('c'));
    b.clear();
    await vi.advanceTimersByTimeAsync(499);
    expect(fired).toEqual([]);
    await vi.advanceTimersByTimeAsync(101);
    expect(fired).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(500);
    expect(fired).toEqual(['a', 'c']);
    expect(d.size).toBe(0);
  });

  it('keeps no timer while nothing waits', async () => {
    const d = new Deadlines(200, 50);
    d.add(() => undefined).clear();
    await vi.advanceTimersByTimeAsync(50);
    expect(vi.getTimerCount()).toBe(0);
    d.add(() => undefined);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(250);
    expect(vi.getTimerCount()).toBe(0);
  });
});
