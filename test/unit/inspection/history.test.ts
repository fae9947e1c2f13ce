import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { replayHistory } from '../../../src/inspection/history.js';
import { HistoryReply } from '../../../src/inspection/wire.js';
import type { StoredEvent } from '../../../src/store/index.js';

function stored(fact: string, sequence: number, data: Record<string, unknown>): StoredEvent {
  const id = randomUUID();
  return {
    fact,
    command_id: id,
    stream_seq: sequence,
    event: {
      identity: { message_id: randomUUID(), correlation_id: id, causation_id: id },
      event_type: fact,
      aggregate_type: 'module',
      aggregate_id: 'm',
      sequence,
      occurred_at: new Date(0).toISOString(),
      ...data,
    },
  };
}

const body = { options: {}, config: { secret_key: 'nope' }, imports: [] };
const events = [
  stored('module.created', 1, { name: 'm', module: body, file: 'modules/m.nix' }),
  stored('module.updated', 2, { name: 'm', module: body, file: 'modules/m.nix' }),
  stored('module.deleted', 3, { name: 'm' }),
];

describe('history replay', () => {
  it('gives the state and context after each stored event', () => {
    const reply = replayHistory('module', 'm', events, 100, 1_000_000);
    expect(HistoryReply.safeParse(reply).success).toBe(true);
    if (reply.status !== 'ok') throw new Error('not ok');
    expect(reply.initial_state).toBe('none');
    // Named by its natural key, from the context after the last event.
    expect(reply.name).toBe('m');
    expect(reply.steps.map((s) => [s.sequence, s.state])).toEqual([
      [1, 'active'],
      [2, 'active'],
      [3, 'deleted'],
    ]);
    expect(reply.steps[0]!.context).toMatchObject({ version: 1 });
    expect(JSON.stringify(reply)).not.toContain('nope');
  });

  it('returns the latest steps with the state before them', () => {
    const reply = replayHistory('module', 'm', events, 1, 1_000_000);
    if (reply.status !== 'ok') throw new Error('not ok');
    expect(reply.total).toBe(3);
    expect(reply.initial_state).toBe('active');
    expect(reply.steps.map((s) => s.sequence)).toEqual([3]);
  });

  it('stays under its size bound by leaving out older contexts first', () => {
    const reply = replayHistory('module', 'm', events, 100, 1_600);
    if (reply.status !== 'ok') throw new Error('not ok');
    expect(JSON.stringify(reply).length).toBeLessThanOrEqual(1_600);
    expect(reply.steps.at(-1)!.context).toBeDefined();
    expect(reply.steps[0]!.context).toBeUndefined();
  });
});
