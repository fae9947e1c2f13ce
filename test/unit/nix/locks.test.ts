import { describe, expect, it } from 'vitest';
import { KeyedRwLock } from '../../../src/nix/locks.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('keyed reader/writer lock', () => {
  it('lets readers of a key share and makes a writer wait for them', async () => {
    const lock = new KeyedRwLock();
    const order: string[] = [];
    const gate = deferred();
    const r1 = lock.shared('k', async () => {
      order.push('r1 start');
      await gate.promise;
      order.push('r1 end');
    });
    const r2 = lock.shared('k', () => {
      order.push('r2');
      return Promise.resolve();
    });
    const w = lock.exclusive('k', () => {
      order.push('w');
      return Promise.resolve();
    });
    await r2;
    expect(order).toEqual(['r1 start', 'r2']);
    gate.resolve();
    await Promise.all([r1, w]);
    expect(order).toEqual(['r1 start', 'r2', 'r1 end', 'w']);
  });

  it('serializes writers and keeps readers that come after a waiting writer behind it', async () => {
    const lock = new KeyedRwLock();
    const order: string[] = [];
    const gate = deferred();
    const started = deferred();
    const w1 = lock.exclusive('k', async () => {
      order.push('w1');
      started.resolve();
      await gate.promise;
    });
    const r = lock.shared('k', () => {
      order.push('r');
      return Promise.resolve();
    });
    const w2 = lock.exclusive('k', () => {
      order.push('w2');
      return Promise.resolve();
    });
    await started.promise;
    expect(order).toEqual(['w1']);
    gate.resolve();
    await Promise.all([w1, r, w2]);
    expect(order).toEqual(['w1', 'r', 'w2']);
  });

  it('keeps different keys independent and releases after a failure', async () => {
    const lock = new KeyedRwLock();
    const gate = deferred();
    const held = lock.exclusive('a', () => gate.promise);
    await expect(lock.exclusive('b', () => Promise.resolve('free'))).resolves.toBe('free');
    gate.resolve();
    await held;
    await expect(lock.exclusive('a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(lock.exclusive('a', () => Promise.resolve('again'))).resolves.toBe('again');
  });
});
