/**
 * The system machines that decide modes: the aggregate supervisor (deliver, hold, refuse)
 * and the publisher (store, hold, retry, refuse). Pure transitions, no runtime.
 */
import { createActor, getNextSnapshot } from 'xstate';
import { describe, expect, it } from 'vitest';
import { publisherMachine, supervisorMachine } from '../../../machines/index.js';

describe('supervisor machine', () => {
  const machine = supervisorMachine.provide({ actions: { releaseHeld: () => undefined } });

  it('pauses on a lost connection, releases what it held on resume, and counts the pauses', () => {
    let released = 0;
    const actor = createActor(supervisorMachine.provide({ actions: { releaseHeld: () => void released++ } })).start();
    actor.send({ type: 'intake.pause', reason: 'NATS connection reconnecting' });
    expect(actor.getSnapshot().value).toBe('paused');
    expect(actor.getSnapshot().context).toEqual({ pause_reason: 'NATS connection reconnecting', pauses: 1 });
    actor.send({ type: 'intake.resume' });
    expect(actor.getSnapshot().value).toBe('running');
    expect(released).toBe(1);
    expect(actor.getSnapshot().context.pause_reason).toBeNull();
  });

  it('drains from running or paused, then stops for good', () => {
    for (const start of ['running', 'paused'] as const) {
      const actor = createActor(machine).start();
      if (start === 'paused') actor.send({ type: 'intake.pause', reason: 'x' });
      actor.send({ type: 'drain' });
      expect(actor.getSnapshot().value).toBe('draining');
      actor.send({ type: 'intake.resume' }); // too late: nothing resumes a draining supervisor
      expect(actor.getSnapshot().value).toBe('draining');
      actor.send({ type: 'drained' });
      expect(actor.getSnapshot().status).toBe('done');
    }
  });
});

describe('publisher machine', () => {
  const start = createActor(publisherMachine).getSnapshot();

  it('holds while the connection is away and is ready again when it returns', () => {
    const holding = getNextSnapshot(publisherMachine, start, { type: 'connection.lost' });
    expect(holding.value).toBe('holding');
    expect(getNextSnapshot(publisherMachine, holding, { type: 'connection.restored' }).value).toBe('ready');
  });

  it('retries after a failed store, remembering the error, until a store succeeds', () => {
    const retrying = getNextSnapshot(publisherMachine, start, { type: 'store.failed', error: 'timeout' });
    expect(retrying.value).toBe('retrying');
    const again = getNextSnapshot(publisherMachine, retrying, { type: 'store.failed', error: 'timeout again' });
    expect(again.context).toMatchObject({ failures: 2, last_error: 'timeout again' });
    const ready = getNextSnapshot(publisherMachine, again, { type: 'store.recovered' });
    expect(ready.value).toBe('ready');
    expect(ready.context.last_error).toBeNull();
  });

  it('counts dead letters and refuses everything once stopped', () => {
    const dl = getNextSnapshot(publisherMachine, start, { type: 'dead_lettered', count: 3 });
    expect(dl.context.dead_lettered).toBe(3);
    const stopped = getNextSnapshot(publisherMachine, dl, { type: 'stop' });
    expect(stopped.value).toBe('stopped');
    expect(getNextSnapshot(publisherMachine, stopped, { type: 'connection.restored' }).value).toBe('stopped');
  });
});
