import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Collection } from '../../../src/projections/collection.js';
import { decodeCursor, encodeCursor } from '../../../src/projections/cursor.js';
import { SortedKeys } from '../../../src/projections/sortedKeys.js';

describe('sorted keys', () => {
  it('iterates in order without duplicates, from any start, for any insertion order', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 6 }), { maxLength: 3_000 }), fc.string({ maxLength: 6 }), (keys, start) => {
        const s = new SortedKeys();
        for (const k of keys) s.insert(k);
        const expected = [...new Set(keys)].sort();
        expect(s.size).toBe(expected.length);
        expect([...s.from(undefined)]).toEqual(expected);
        expect([...s.from(start)]).toEqual(expected.filter((k) => k > start));
        expect([...s.from(start, true)]).toEqual(expected.filter((k) => k >= start));
        for (const k of keys.slice(0, 20)) expect(s.has(k)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('splits chunks: 20,000 keys in reverse order stay sorted', () => {
    const s = new SortedKeys();
    for (let i = 20_000; i > 0; i--) expect(s.insert(String(i).padStart(6, '0'))).toBe(true);
    expect(s.insert('010000')).toBe(false);
    const all = [...s.from(undefined)];
    expect(all).toHaveLength(20_000);
    expect(all[0]).toBe('000001');
    expect(all.at(-1)).toBe('020000');
    expect([...s.from('019998')]).toEqual(['019999', '020000']);
  });
});

interface Rec {
  id: string;
  name: string;
  colour: string;
  tags: string[];
  n: number;
}

/** Every page of a query, following the cursor key. */
function walk(c: Collection<Rec>, limit: number, req: Omit<Parameters<Collection<Rec>['page']>[0], 'limit' | 'after'>): Rec[][] {
  const pages: Rec[][] = [];
  let after: string | undefined;
  for (let i = 0; i < 10_000; i++) {
    const page = c.page({ ...req, limit, ...(after !== undefined ? { after } : {}) });
    pages.push(page.items);
    if (!page.more) return pages;
    after = page.keys.at(-1);
  }
  throw new Error('too many pages');
}

const recordArb = fc.record({
  name: fc.stringMatching(/^[a-d]{1,3}$/),
  colour: fc.constantFrom('red', 'green', 'blue', 'black'),
  tags: fc.uniqueArray(fc.constantFrom('x', 'y', 'z'), { maxLength: 3 }),
  n: fc.integer({ min: 0, max: 9 }),
});

describe('collection pages', () => {
  it('pages through exactly the records that match, in natural-key order, whatever the filters and limit', () => {
    fc.assert(
      fc.property(
        fc.array(recordArb, { maxLength: 300 }),
        fc.integer({ min: 1, max: 40 }),
        fc.option(fc.uniqueArray(fc.constantFrom('red', 'green', 'blue', 'black'), { minLength: 1 }), { nil: undefined }),
        fc.option(fc.constantFrom('x', 'y', 'z'), { nil: undefined }),
        fc.option(fc.stringMatching(/^[a-d]{1,2}$/), { nil: undefined }),
        fc.boolean(),
        (raw, limit, colours, tag, prefix, odd) => {
          const c = new Collection<Rec>();
          const records = raw.map((r, i) => ({ ...r, id: `id-${String(i).padStart(4, '0')}` }));
          for (const r of records) {
            c.put(r.id, r.name, r);
            c.index(r.id, 'colour', [r.colour]);
            c.index(r.id, 'tag', r.tags);
          }
          const where = [...(colours ? [{ index: 'colour', values: colours }] : []), ...(tag ? [{ index: 'tag', values: [tag] }] : [])];
          const test = odd ? (r: Rec) => r.n % 2 === 1 : undefined;
          const pages = walk(c, limit, { where, ...(prefix !== undefined ? { prefix } : {}), ...(test ? { test } : {}) });
          const expected = records
            .filter(
              (r) =>
                (!colours || colours.includes(r.colour)) &&
                (!tag || r.tags.includes(tag)) &&
                (prefix === undefined || r.name.startsWith(prefix)) &&
                (!odd || r.n % 2 === 1),
            )
            .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1));
          expect(pages.flat().map((r) => r.id)).toEqual(expected.map((r) => r.id));
          for (const p of pages.slice(0, -1)) expect(p).toHaveLength(limit);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('moves a record between index values when it is re-indexed', () => {
    const c = new Collection<Rec>();
    const r: Rec = { id: 'a', name: 'a', colour: 'red', tags: [], n: 0 };
    c.put('a', 'a', r);
    c.index('a', 'colour', ['red']);
    c.index('a', 'colour', ['blue']);
    expect(c.count('colour', 'red')).toBe(0);
    expect(c.page({ limit: 10, where: [{ index: 'colour', values: ['blue'] }] }).items).toEqual([r]);
    expect(c.page({ limit: 10, where: [{ index: 'colour', values: ['red'] }] }).items).toEqual([]);
  });

  it('keeps a cursor valid while records are added before and after it', () => {
    const c = new Collection<Rec>();
    const add = (name: string) => c.put(name, name, { id: name, name, colour: 'red', tags: [], n: 0 });
    for (const n of ['b', 'd', 'f']) add(n);
    const first = c.page({ limit: 2 });
    expect(first.items.map((r) => r.name)).toEqual(['b', 'd']);
    add('a');
    add('e');
    const second = c.page({ limit: 2, after: first.keys.at(-1)! });
    expect(second.items.map((r) => r.name)).toEqual(['e', 'f']);
    expect(second.more).toBe(false);
  });
});

describe('cursors', () => {
  it('round-trips a key for its own list only', () => {
    const cursor = encodeCursor('module.list', 'web\u0000id');
    expect(decodeCursor('module.list', cursor, 'string')).toEqual({ ok: true, key: 'web\u0000id' });
    expect(decodeCursor('overlay.list', cursor, 'string')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/belongs to module\.list/),
    });
    expect(decodeCursor('module.list', cursor, 'number')).toMatchObject({ ok: false });
    expect(decodeCursor('module.list', 'garbage!', 'string')).toMatchObject({ ok: false });
    expect(decodeCursor('package.status', encodeCursor('package.status', 7), 'number')).toEqual({ ok: true, key: 7 });
  });
});
