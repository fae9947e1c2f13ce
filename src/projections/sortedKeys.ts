/**
 * An ordered set of string keys for keyset pagination: sorted chunks of bounded size (the
 * layout of Python's sortedcontainers), so an insert costs a binary search plus a copy of
 * at most one chunk, not of the whole list, and a page starts with a binary search.
 */

const CHUNK = 512;

/** Index of the first element of sorted `a` that is greater than `key` (or >= when `inclusive`). */
function bound(a: readonly string[], key: string, inclusive: boolean): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = a[mid]!;
    if (v < key || (!inclusive && v === key)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class SortedKeys {
  private readonly chunks: string[][] = [];
  /** The last (largest) key of each chunk, for the outer binary search. */
  private readonly maxes: string[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Add a key; returns false when it was already there. */
  insert(key: string): boolean {
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      this.maxes.push(key);
      this.count++;
      return true;
    }
    let c = bound(this.maxes, key, true);
    if (c === this.chunks.length) c--; // larger than everything: the last chunk
    const chunk = this.chunks[c]!;
    const i = bound(chunk, key, true);
    if (chunk[i] === key) return false;
    chunk.splice(i, 0, key);
    this.maxes[c] = chunk[chunk.length - 1]!;
    this.count++;
    if (chunk.length > CHUNK * 2) {
      const tail = chunk.splice(CHUNK);
      this.chunks.splice(c + 1, 0, tail);
      this.maxes.splice(c, 1, chunk[chunk.length - 1]!, tail[tail.length - 1]!);
    }
    return true;
  }

  has(key: string): boolean {
    const c = bound(this.maxes, key, true);
    const chunk = this.chunks[c];
    if (!chunk) return false;
    return chunk[bound(chunk, key, true)] === key;
  }

  /** Keys after `start` (or from it, when `inclusive`), in order; all keys when `start` is undefined. */
  *from(start: string | undefined, inclusive = false): Generator<string> {
    let c = 0;
    let i = 0;
    if (start !== undefined) {
      c = bound(this.maxes, start, inclusive);
      const chunk = this.chunks[c];
      if (!chunk) return;
      i = bound(chunk, start, inclusive);
    }
    for (; c < this.chunks.length; c++, i = 0) {
      const chunk = this.chunks[c]!;
      for (; i < chunk.length; i++) yield chunk[i]!;
    }
  }
}
