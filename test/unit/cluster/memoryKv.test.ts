/**
 * The in-memory twin of the KV port against the contract, plus what only the twin offers:
 * a connection that can be cut (operations time out on the clock, watch deliveries wait).
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { KvTimeoutError, MemoryKvServer, type KvChange } from '../../../src/cluster/index.js';
import { kvContract } from './kvContract.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

let n = 0;
kvContract('in-memory twin', () => ({
  bucket: () => new MemoryKvServer().connect().open(`T${++n}`, { replicas: 1 }),
  eventually: async (check) => {
    await flush();
    check();
  },
}));

describe('in-memory KV connection cut', () => {
  it('times a request out on the clock while cut, without applying it', async () => {
    const clock = new SimulatedClock();
    const server = new MemoryKvServer({ clock, timeoutMs: 500 });
    const conn = server.connect();
    const kv = await conn.open('B', { replicas: 1 });
    const r = await kv.create('part.0', enc('a'));
    conn.cut();
    const pending = kv.update('part.0', enc('b'), r).catch((e: unknown) => e);
    await flush();
    clock.increment(499);
    await flush();
    clock.increment(1);
    expect(await pending).toBeInstanceOf(KvTimeoutError);
    conn.restore();
    expect((await kv.get('part.0'))?.revision).toBe(r);
  });

  it('applies a write whose answer is lost when cut with applyWrites', async () => {
    const clock = new SimulatedClock();
    const server = new MemoryKvServer({ clock, timeoutMs: 500 });
    const conn = server.connect();
    const other = await server.connect().open('B', { replicas: 1 });
    const kv = await conn.open('B', { replicas: 1 });
    const r = await kv.create('part.0', enc('a'));
    conn.cut({ applyWrites: true });
    const pending = kv.update('part.0', enc('b'), r).catch((e: unknown) => e);
    await flush();
    expect((await other.get('part.0'))?.revision).toBeGreaterThan(r);
    clock.increment(500);
    expect(await pending).toBeInstanceOf(KvTimeoutError);
  });

  it('holds watch deliveries while cut and delivers them in order on restore', async () => {
    const server = new MemoryKvServer();
    const conn = server.connect();
    const writer = await server.connect().open('B', { replicas: 1 });
    const kv = await conn.open('B', { replicas: 1 });
    const seen: KvChange[] = [];
    await kv.watch('>', (c) => seen.push(c));
    conn.cut();
    const r1 = await writer.create('member.a', enc('1'));
    const r2 = await writer.update('member.a', enc('2'), r1);
    await flush();
    expect(seen).toEqual([]);
    conn.restore();
    await flush();
    expect(seen.map((c) => c.revision)).toEqual([r1, r2]);
  });
});
