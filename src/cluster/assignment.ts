/**
 * Who should own each partition: rendezvous (highest-random-weight) hashing with bounded
 * loads. Every (partition, member) pair gets a score from a hash of both; pairs are taken
 * best score first, and a member takes a partition while it has room. Room is ⌊P/N⌋ for every
 * member plus one more for the first P mod N members that ask, so loads differ by at most one.
 * The result depends only on the member set, so every instance that sees the same members
 * computes the same assignment; a join or leave moves about P/N partitions.
 */
import { createHash } from 'node:crypto';

/** Score of a (member, partition) pair: 48 bits of SHA-256, as a safe integer. */
function score(member: string, partition: number): number {
  return createHash('sha256').update(`${member}\u0000${partition}`).digest().readUIntBE(0, 6);
}

const scoreCache = new Map<string, number[]>();

/** Scores of one member for partitions 0 … P−1 (cached: members come and go rarely). */
function scoresOf(member: string, partitions: number): number[] {
  const cacheKey = `${partitions}\u0000${member}`;
  let s = scoreCache.get(cacheKey);
  if (!s) {
    s = Array.from({ length: partitions }, (_, p) => score(member, p));
    if (scoreCache.size > 10_000) scoreCache.clear();
    scoreCache.set(cacheKey, s);
  }
  return s;
}

/**
 * Assign partitions 0 … `partitions`−1 to `members` (instance ids, any order, no duplicates).
 * Returns an array indexed by partition holding the member id (empty when there are no members).
 */
export function assignPartitions(members: readonly string[], partitions: number): string[] {
  const sorted = [...new Set(members)].sort();
  const n = sorted.length;
  const owners: string[] = new Array<string>(partitions).fill('');
  if (n === 0) return owners;
  const floor = Math.floor(partitions / n);
  let extras = partitions % n;
  const pairs: { p: number; m: number; s: number }[] = [];
  sorted.forEach((member, m) => {
    const s = scoresOf(member, partitions);
    for (let p = 0; p < partitions; p++) pairs.push({ p, m, s: s[p] ?? 0 });
  });
  // Best score first; ties (48-bit collisions) by member id, then partition, so it stays deterministic.
  pairs.sort((a, b) => b.s - a.s || a.m - b.m || a.p - b.p);
  const load = new Array<number>(n).fill(0);
  let left = partitions;
  for (const { p, m } of pairs) {
    if (left === 0) break;
    if (owners[p] !== '') continue;
    const l = load[m] ?? 0;
    if (l < floor || (l === floor && extras > 0)) {
      if (l === floor) extras--;
      owners[p] = sorted[m] ?? '';
      load[m] = l + 1;
      left--;
    }
  }
  return owners;
}
