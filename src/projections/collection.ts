/**
 * One read model's records: by ID, in natural-key order (for pages), and in secondary
 * indexes (value -> IDs) for the list filters. A page is read either by walking the order
 * from the cursor and testing each record, or — when one filter matches few records — by
 * taking that filter's IDs and ordering only them; the cheaper of the two is chosen.
 */
import { SortedKeys } from './sortedKeys.js';

/** Separates the natural key from the ID in an order key (sorts before every printable character). */
const SEP = '\u0000';

/** A filter on a secondary index: records indexed under any of `values`. */
export interface IndexFilter {
  index: string;
  values: readonly string[];
}

export interface PageRequest<R> {
  limit: number;
  /** The order key after which the page starts (from a cursor). */
  after?: string;
  /** Only natural keys starting with this. */
  prefix?: string;
  where?: readonly IndexFilter[];
  /** A last test on the record (filters without an index). */
  test?: (record: R) => boolean;
}

export interface Page<R> {
  items: R[];
  /** The order key of each item (for cursors). */
  keys: string[];
  /** More records match after the last item. */
  more: boolean;
}

interface Entry<R> {
  record: R;
  key: string;
  indexed: Map<string, readonly string[]>;
}

export class Collection<R> {
  private readonly entries = new Map<string, Entry<R>>();
  private readonly order = new SortedKeys();
  private readonly indexes = new Map<string, Map<string, Set<string>>>();

  get size(): number {
    return this.entries.size;
  }

  get(id: string): R | undefined {
    return this.entries.get(id)?.record;
  }

  /** Every record, in no particular order. */
  *records(): IterableIterator<R> {
    for (const entry of this.entries.values()) yield entry.record;
  }

  /** Add a record under its natural key (which never changes for an ID), or replace it. */
  put(id: string, naturalKey: string, record: R): void {
    const existing = this.entries.get(id);
    if (existing) {
      existing.record = record;
      return;
    }
    const key = `${naturalKey}${SEP}${id}`;
    this.entries.set(id, { record, key, indexed: new Map() });
    this.order.insert(key);
  }

  /** Set the values record `id` is indexed under in `index` (replacing the previous ones). */
  index(id: string, index: string, values: readonly string[]): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    let byValue = this.indexes.get(index);
    if (!byValue) {
      byValue = new Map();
      this.indexes.set(index, byValue);
    }
    const before = entry.indexed.get(index) ?? [];
    if (before.length === values.length && before.every((v, i) => v === values[i])) return;
    for (const v of before) {
      const set = byValue.get(v);
      set?.delete(id);
      if (set?.size === 0) byValue.delete(v);
    }
    for (const v of values) {
      let set = byValue.get(v);
      if (!set) {
        set = new Set();
        byValue.set(v, set);
      }
      set.add(id);
    }
    entry.indexed.set(index, values);
  }

  /** How many records are indexed under `value`. */
  count(index: string, value: string): number {
    return this.indexes.get(index)?.get(value)?.size ?? 0;
  }

  /** The natural key of an order key (the part before the ID). */
  static naturalKey(orderKey: string): string {
    const i = orderKey.lastIndexOf(SEP);
    return i < 0 ? orderKey : orderKey.slice(0, i);
  }

  page(req: PageRequest<R>): Page<R> {
    const where = req.where ?? [];
    const matches = (e: Entry<R>): boolean =>
      where.every((f) => (e.indexed.get(f.index) ?? []).some((v) => f.values.includes(v))) &&
      (req.prefix === undefined || e.key.startsWith(req.prefix)) &&
      (req.test === undefined || req.test(e.record));

    // The most selective indexed filter: its IDs, if few, are cheaper to order than a walk.
    let smallest: Set<string>[] | undefined;
    let smallestSize = Infinity;
    for (const f of where) {
      const sets = f.values.map((v) => this.indexes.get(f.index)?.get(v)).filter((s): s is Set<string> => s !== undefined);
      const size = sets.reduce((n, s) => n + s.size, 0);
      if (size < smallestSize) {
        smallest = sets;
        smallestSize = size;
      }
    }
    // A walk visits about limit * n / matches records; ordering the matches costs about
    // matches * log(limit). Prefer the index when it holds clearly fewer.
    if (smallest !== undefined && smallestSize * smallestSize < req.limit * this.entries.size * 4) {
      return this.pageFromIds(smallest, req, matches);
    }
    const items: R[] = [];
    const keys: string[] = [];
    // Start after the cursor, or at the prefix when the cursor is before it.
    const keysFrom =
      req.prefix !== undefined && (req.after === undefined || req.after < req.prefix)
        ? this.order.from(req.prefix, true)
        : this.order.from(req.after);
    for (const key of keysFrom) {
      if (req.prefix !== undefined && !key.startsWith(req.prefix)) break;
      const entry = this.entries.get(key.slice(key.lastIndexOf(SEP) + 1))!;
      if (!matches(entry)) continue;
      if (items.length === req.limit) return { items, keys, more: true };
      items.push(entry.record);
      keys.push(key);
    }
    return { items, keys, more: false };
  }

  private pageFromIds(sets: Set<string>[], req: PageRequest<R>, matches: (e: Entry<R>) => boolean): Page<R> {
    const found: Entry<R>[] = [];
    for (const set of sets) {
      for (const id of set) {
        const e = this.entries.get(id);
        if (!e || (req.after !== undefined && e.key <= req.after) || !matches(e)) continue;
        found.push(e);
      }
    }
    found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    // A record in two of the sets (an index with several values per record) appears twice.
    const unique = found.filter((e, i) => i === 0 || e !== found[i - 1]);
    const items = unique.slice(0, req.limit);
    return { items: items.map((e) => e.record), keys: items.map((e) => e.key), more: unique.length > req.limit };
  }
}
