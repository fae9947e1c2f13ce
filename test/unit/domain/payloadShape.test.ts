/**
 * The shape rules every payload obeys before its schema (SPEC §11): depth, `__proto__`, NUL,
 * each named by the path of the field that breaks it.
 */
import { describe, expect, it } from 'vitest';
import { checkPayloadShape, MAX_PAYLOAD_DEPTH } from '../../../src/domain/payloadShape.js';

const nested = (levels: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = i % 2 ? [v] : { k: v };
  return v;
};

describe('payload shape', () => {
  it('accepts ordinary payloads, keys such as constructor and prototype included', () => {
    expect(checkPayloadShape(JSON.parse('{"name":"m","module":{"config":{"constructor":1,"prototype":[1,"a\\nb"]}}}'))).toBeUndefined();
    expect(checkPayloadShape(null)).toBeUndefined();
    expect(checkPayloadShape('plain')).toBeUndefined();
  });

  it(`allows ${MAX_PAYLOAD_DEPTH} levels of objects and arrays, not one more, and names where it went too deep`, () => {
    expect(checkPayloadShape(nested(MAX_PAYLOAD_DEPTH))).toBeUndefined();
    const problem = checkPayloadShape(nested(MAX_PAYLOAD_DEPTH + 1));
    expect(problem?.message).toMatch(/deeper than 64 levels/);
    expect(problem?.field).toMatch(/^k\.0\.k\.0\.k\.0\.k\.0\.… \(64 levels\)$/);
  });

  it('walks 100,000 levels without overflowing the stack', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    expect(checkPayloadShape(deep)?.message).toMatch(/deeper than/);
  });

  it('refuses __proto__ as a key at any depth, as JSON.parse makes it an own key', () => {
    expect(checkPayloadShape(JSON.parse('{"__proto__":{}}'))).toEqual({ field: '__proto__', message: "'__proto__' is not allowed as a key; rename it" });
    expect(checkPayloadShape(JSON.parse('{"a":[{"b":{"__proto__":1}}]}'))?.field).toBe('a.0.b.__proto__');
  });

  it('refuses a NUL character in a string or a key, naming the field', () => {
    expect(checkPayloadShape({ a: { b: ['ok', 'x\u0000'] } })?.field).toBe('a.b.1');
    expect(checkPayloadShape({ description: '\u0000' })?.field).toBe('description');
    expect(checkPayloadShape({ a: { 'k\u0000': 1 } })).toMatchObject({ field: 'a', message: expect.stringMatching(/key with a NUL/) });
  });
});
