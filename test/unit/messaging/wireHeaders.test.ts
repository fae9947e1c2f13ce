import { headers } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { WireHeaders } from '../../../src/messaging/wireHeaders.js';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('wire headers', () => {
  it('encode exactly as nats.js headers do, and read back the same', () => {
    const pairs = { 'X-Event-ID': 'e1', 'X-Correlation-ID': 'c1', 'Nats-Msg-Id': 'm1:2', 'X-Timestamp': '2026-11-26T20:00:00.000Z' };
    const ours = new WireHeaders(pairs);
    const theirs = headers();
    for (const [k, v] of Object.entries(pairs)) theirs.set(k, v);
    expect(text(ours.encode())).toBe(text((theirs as unknown as { encode(): Uint8Array }).encode()));
    expect(ours.get('Nats-Msg-Id')).toBe('m1:2');
    expect(ours.has('X-Event-ID')).toBe(true);
    expect(ours.keys()).toEqual(Object.keys(pairs));
    expect([...ours]).toEqual([...theirs]);
  });

  it('replaces a value with set, keeps several with append, and forgets with delete', () => {
    const h = new WireHeaders({ A: '1' });
    h.append('B', '2');
    h.append('B', '3');
    h.set('A', ' 4 ');
    expect(h.values('B')).toEqual(['2', '3']);
    expect(h.last('B')).toBe('3');
    expect(h.get('A')).toBe('4');
    h.delete('B');
    expect(text(h.encode())).toBe('NATS/1.0\r\nA: 4\r\n\r\n');
  });

  it('refuses a header name that is not a token and a value with a line break', () => {
    expect(() => new WireHeaders({ 'Bad Name': 'x' })).toThrow(/invalid header name/);
    expect(() => new WireHeaders({ 'X-A': 'one\r\nX-B: two' })).toThrow(/cannot contain/);
  });
});
