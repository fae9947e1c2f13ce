/**
 * The contract of the cluster KV port, run against every implementation: the in-memory twin
 * (unit project, test/unit/cluster/memoryKv.test.ts) and NATS JetStream KV on a real
 * nats-server (int project, test/int/cluster/natsKv.test.ts). What the cluster protocol
 * relies on is here and nowhere else: create only when absent, compare-and-set on the
 * revision, revisions that grow, and a watch that first delivers what exists.
 */
import { describe, expect, it } from 'vitest';
import { KvConflictError, type ClusterKv, type KvChange } from '../../../src/cluster/index.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

export interface KvContractTarget {
  /** A fresh, empty bucket (its own name) for one test. */
  bucket(): Promise<ClusterKv>;
  /** Wait until `check` passes (the NATS watch delivers asynchronously). */
  eventually(check: () => void): Promise<void>;
}

export function kvContract(name: string, target: () => KvContractTarget): void {
  describe(`KV port contract: ${name}`, () => {
    it('reads nothing for a key that was never written', async () => {
      const kv = await target().bucket();
      expect(await kv.get('part.0')).toBeUndefined();
    });

    it('creates an absent key and reads it back with its revision', async () => {
      const kv = await target().bucket();
      const rev = await kv.create('part.0', enc('a'));
      expect(rev).toBeGreaterThan(0);
      const got = await kv.get('part.0');
      expect(got?.revision).toBe(rev);
      expect(dec(got?.value ?? new Uint8Array())).toBe('a');
    });

    it('refuses to create a key that exists, and leaves it as it was', async () => {
      const kv = await target().bucket();
      const rev = await kv.create('member.a', enc('first'));
      await expect(kv.create('member.a', enc('second'))).rejects.toBeInstanceOf(KvConflictError);
      const got = await kv.get('member.a');
      expect(got?.revision).toBe(rev);
      expect(dec(got?.value ?? new Uint8Array())).toBe('first');
    });

    it('updates at the expected revision and gives a larger one', async () => {
      const kv = await target().bucket();
      const r1 = await kv.create('part.1', enc('v1'));
      const r2 = await kv.update('part.1', enc('v2'), r1);
      expect(r2).toBeGreaterThan(r1);
      expect(dec((await kv.get('part.1'))?.value ?? new Uint8Array())).toBe('v2');
    });

    it('refuses an update at a stale revision (compare-and-set), leaving the newer value', async () => {
      const kv = await target().bucket();
      const r1 = await kv.create('part.2', enc('v1'));
      const r2 = await kv.update('part.2', enc('v2'), r1);
      const err = await kv.update('part.2', enc('late'), r1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KvConflictError);
      expect((err as KvConflictError).expected).toBe(r1);
      const got = await kv.get('part.2');
      expect(got?.revision).toBe(r2);
      expect(dec(got?.value ?? new Uint8Array())).toBe('v2');
    });

    it('refuses an update of a key that does not exist', async () => {
      const kv = await target().bucket();
      const other = await kv.create('part.3', enc('x'));
      await expect(kv.update('part.4', enc('y'), other)).rejects.toBeInstanceOf(KvConflictError);
      expect(await kv.get('part.4')).toBeUndefined();
    });

    it('lets exactly one of two racing updates at the same revision win', async () => {
      const kv = await target().bucket();
      const r1 = await kv.create('part.5', enc('base'));
      const results = await Promise.allSettled([kv.update('part.5', enc('a'), r1), kv.update('part.5', enc('b'), r1)]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(KvConflictError);
    });

    it('revisions grow across keys of the bucket', async () => {
      const kv = await target().bucket();
      const a = await kv.create('member.a', enc('1'));
      const b = await kv.create('member.b', enc('2'));
      const c = await kv.update('member.a', enc('3'), a);
      expect(b).toBeGreaterThan(a);
      expect(c).toBeGreaterThan(b);
    });

    it('deletes at the expected revision only; a deleted key reads as absent and can be created again', async () => {
      const kv = await target().bucket();
      const r1 = await kv.create('member.x', enc('1'));
      const r2 = await kv.update('member.x', enc('2'), r1);
      await expect(kv.delete('member.x', r1)).rejects.toBeInstanceOf(KvConflictError);
      expect((await kv.get('member.x'))?.revision).toBe(r2);
      await kv.delete('member.x', r2);
      expect(await kv.get('member.x')).toBeUndefined();
      const r3 = await kv.create('member.x', enc('again'));
      expect(r3).toBeGreaterThan(r2);
      expect(dec((await kv.get('member.x'))?.value ?? new Uint8Array())).toBe('again');
    });

    it('deletes without a revision', async () => {
      const kv = await target().bucket();
      await kv.create('member.y', enc('1'));
      await kv.delete('member.y');
      expect(await kv.get('member.y')).toBeUndefined();
    });

    it('watch delivers the current values matching the filter before it resolves, then later writes in order', async () => {
      const t = target();
      const kv = await t.bucket();
      const m1 = await kv.create('member.a', enc('a1'));
      await kv.create('part.0', enc('p0'));
      const m2 = await kv.create('member.b', enc('b1'));
      await kv.delete('member.b', m2);
      const seen: KvChange[] = [];
      const w = await kv.watch('member.>', (c) => seen.push(c));
      // Current values, deleted ones as DEL, nothing outside the filter.
      expect(seen.map((c) => [c.key, c.operation])).toEqual([
        ['member.a', 'PUT'],
        ['member.b', 'DEL'],
      ]);
      expect(seen[0]?.revision).toBe(m1);
      const m3 = await kv.update('member.a', enc('a2'), m1);
      await kv.update('part.0', enc('p1'), (await kv.get('part.0'))?.revision ?? 0);
      const m4 = await kv.create('member.c', enc('c1'));
      await t.eventually(() => expect(seen).toHaveLength(4));
      expect(seen.slice(2).map((c) => [c.key, c.revision, dec(c.value)])).toEqual([
        ['member.a', m3, 'a2'],
        ['member.c', m4, 'c1'],
      ]);
      // A write after stop reaches a watcher still running, and not the stopped one.
      const witness: KvChange[] = [];
      const w2 = await kv.watch('member.c', (c) => witness.push(c));
      w.stop();
      await w.closed;
      const m5 = await kv.update('member.c', enc('c2'), m4);
      await t.eventually(() => expect(witness.map((c) => c.revision)).toContain(m5));
      expect(seen).toHaveLength(4);
      w2.stop();
    });

    it('watch of an empty bucket resolves at once and delivers the first write', async () => {
      const t = target();
      const kv = await t.bucket();
      const seen: KvChange[] = [];
      const w = await kv.watch('>', (c) => seen.push(c));
      expect(seen).toEqual([]);
      const r = await kv.create('part.9', enc('x'));
      await t.eventually(() => expect(seen.map((c) => c.revision)).toEqual([r]));
      w.stop();
    });

    it('refuses keys that are not subject tokens', async () => {
      const kv = await target().bucket();
      await expect(kv.create('bad key', enc('x'))).rejects.toThrow(/invalid KV key/);
      await expect(kv.get('a..b')).rejects.toThrow(/invalid KV key/);
    });
  });
}
