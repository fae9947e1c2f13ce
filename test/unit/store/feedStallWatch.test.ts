/** The stall watch of an event feed: only a feed behind a stored event that delivers nothing is stalled. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FeedStallWatch } from '../../../src/store/feedStallWatch.js';

describe('FeedStallWatch', () => {
  const stalls: Array<{ delivered: number; stored: number }> = [];
  let watch: FeedStallWatch;
  beforeEach(() => {
    vi.useFakeTimers();
    stalls.length = 0;
    watch = new FeedStallWatch(10, 1_000, ({ delivered, stored }) => stalls.push({ delivered, stored }));
  });
  afterEach(() => {
    watch.stop();
    vi.useRealTimers();
  });

  it('reports a feed that delivers nothing while behind a stored event, and again while it stays stalled', () => {
    watch.storedUpTo(12);
    vi.advanceTimersByTime(999);
    expect(stalls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(stalls).toEqual([{ delivered: 10, stored: 12 }]);
    vi.advanceTimersByTime(1_000);
    expect(stalls).toHaveLength(2);
    watch.deliveredUpTo(12);
    vi.advanceTimersByTime(5_000);
    expect(stalls).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('leaves alone a feed that lags but moves, and one that caught up', () => {
    watch.storedUpTo(20);
    for (let seq = 11; seq <= 14; seq++) {
      watch.deliveredUpTo(seq);
      vi.advanceTimersByTime(1_000);
    }
    expect(stalls).toEqual([]);
    watch.deliveredUpTo(20);
    vi.advanceTimersByTime(3_000);
    expect(stalls).toEqual([]);
    expect(watch.behind).toBe(false);
  });

  it('arms nothing for events already delivered (an acknowledgement that comes after the feed) and nothing once stopped', () => {
    watch.deliveredUpTo(15);
    watch.storedUpTo(15);
    expect(vi.getTimerCount()).toBe(0);
    watch.stop();
    watch.storedUpTo(30);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5_000);
    expect(stalls).toEqual([]);
  });

  it('keeps one timer however many events are stored while behind', () => {
    for (let seq = 11; seq <= 1_000; seq++) watch.storedUpTo(seq);
    expect(vi.getTimerCount()).toBe(1);
  });
});
