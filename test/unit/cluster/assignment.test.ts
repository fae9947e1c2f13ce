/**
 * Partition of an aggregate id, and the rendezvous assignment of partitions to members:
 * deterministic, within ±1 of even, and moving about P/N partitions when one member joins or
 * leaves. The measured moves are printed.
 */
import { describe, expect, it } from 'vitest';
import { assignPartitions, newInstanceId, partitionOf } from '../../../src/cluster/index.js';
import { uuidv5 } from '../../../src/domain/ids.js';

const members = (n: number, seed = 'inst'): string[] => Array.from({ length: n }, (_, i) => `${seed}-${i}-${(i * 7919 + 13).toString(36)}`);

const counts = (owners: string[]): number[] => {
  const m = new Map<string, number>();
  for (const o of owners) m.set(o, (m.get(o) ?? 0) + 1);
  return [...m.values()];
};

describe('partitionOf', () => {
  it('is deterministic, in range, and spreads UUIDv5 ids evenly', () => {
    const P = 64;
    const hits = new Array<number>(P).fill(0);
    let unstable = 0;
    let outside = 0;
    for (let i = 0; i < 64_000; i++) {
      const id = uuidv5(`flake:path/${i}`);
      const p = partitionOf(id, P);
      if (partitionOf(id, P) !== p) unstable++;
      if (!(p >= 0 && p < P && Number.isInteger(p))) outside++;
      hits[p] = (hits[p] ?? 0) + 1;
    }
    expect({ unstable, outside }).toEqual({ unstable: 0, outside: 0 });
    // 1,000 expected per partition: ±15 % is > 4.5 standard deviations.
    expect(Math.min(...hits)).toBeGreaterThan(850);
    expect(Math.max(...hits)).toBeLessThan(1150);
  });

  it('ignores letter case of a UUID and gives any other string a stable partition', () => {
    const id = uuidv5('module:web');
    expect(partitionOf(id.toUpperCase(), 64)).toBe(partitionOf(id, 64));
    expect(partitionOf('not-a-uuid', 64)).toBe(partitionOf('not-a-uuid', 64));
    expect(partitionOf('__proto__', 7)).toBeLessThan(7);
  });
});

describe('assignPartitions', () => {
  it('gives every partition exactly one owner, loads within ±1, for any member count', () => {
    for (const P of [1, 7, 16, 64, 100, 1024]) {
      for (let n = 1; n <= 12; n++) {
        const owners = assignPartitions(members(n), P);
        expect(owners).toHaveLength(P);
        expect(owners.every((o) => o !== '')).toBe(true);
        const c = counts(owners);
        expect(Math.max(...c)).toBeLessThanOrEqual(Math.ceil(P / n));
        if (P >= n) expect(Math.min(...c)).toBeGreaterThanOrEqual(Math.floor(P / n));
        expect(Math.max(...c) - Math.min(...c)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('depends only on the member set, not on its order', () => {
    const m = members(5);
    expect(assignPartitions([...m].reverse(), 64)).toEqual(assignPartitions(m, 64));
    expect(assignPartitions([...m, m[0] ?? ''], 64)).toEqual(assignPartitions(m, 64));
  });

  it('is empty without members', () => {
    expect(assignPartitions([], 4)).toEqual(['', '', '', '']);
  });

  it('moves about P/N partitions when a member joins or leaves', () => {
    const P = 64;
    const lines: string[] = [];
    for (let n = 1; n <= 7; n++) {
      let joinMoves = 0;
      let leaveMoves = 0;
      const trials = 20;
      for (let t = 0; t < trials; t++) {
        const base = members(n, `s${t}`);
        const joined = [...base, `new-${t}-${n}`];
        const before = assignPartitions(base, P);
        const after = assignPartitions(joined, P);
        joinMoves += before.filter((o, p) => o !== after[p]).length;
        // The one who leaves is a random member of the larger set.
        const gone = joined[t % joined.length] ?? '';
        const left = assignPartitions(
          joined.filter((m) => m !== gone),
          P,
        );
        leaveMoves += after.filter((o, p) => o !== left[p]).length;
      }
      const ideal = P / (n + 1);
      const join = joinMoves / trials;
      const leave = leaveMoves / trials;
      lines.push(`  ${n}→${n + 1} members: join moves ${join.toFixed(1)}, leave moves ${leave.toFixed(1)} (ideal ${ideal.toFixed(1)})`);
      // At least the newcomer's share must move; bounded loads may move a little more.
      expect(join).toBeGreaterThanOrEqual(Math.floor(ideal));
      expect(join).toBeLessThanOrEqual(ideal * 1.6 + 1);
      expect(leave).toBeLessThanOrEqual(ideal * 1.6 + 1);
    }
    console.log(`[cluster assignment] P=${P}, mean over 20 member sets:\n${lines.join('\n')}`);
  });
});

describe('newInstanceId', () => {
  it('is one subject token, unique per call, even from a hostile host name', () => {
    const ids = new Set(Array.from({ length: 100 }, () => newInstanceId('web.01 *>\u0000')));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^web_01____-[0-9a-f]{8}$/);
    expect(newInstanceId('')).toMatch(/^instance-[0-9a-f]{8}$/);
  });
});
