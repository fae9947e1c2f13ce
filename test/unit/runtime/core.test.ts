/**
 * The runtime core without a NATS server: the supervisor, the slots, the publisher and its
 * machine, dead letters and the seed relay on the in-memory twins of the store ports
 * (test/support/storeContract.ts holds them to the JetStream/KV behaviour), in virtual time.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { namedId } from '../../../src/domain/ids.js';
import type { OkReply } from '../../../src/domain/replies.js';
import { dedupKey } from '../../../src/runtime/aggregateSlot.js';
import { RuntimeUnderTest, root } from '../../support/runtimeUnderTest.js';
import { moduleEvent } from '../../support/storeContract.js';

let rt: RuntimeUnderTest;
afterEach(() => rt?.dispose());

const versions = (id: string) => rt.log.events.filter((s) => s.event.aggregate_id === id).map((s) => s.event.sequence);

describe('runtime core: commands', () => {
  it('answers the commands of one aggregate in order, each after its event is stored and published', async () => {
    rt = new RuntimeUnderTest();
    const replies = [rt.module('create', 'a'), rt.module('update', 'a', 2), rt.module('update', 'a', 3)];
    const done = await rt.settle(Promise.all(replies));
    expect(done.map((r) => (r as OkReply).version)).toEqual([1, 2, 3]);
    const id = namedId('module', 'a');
    expect(versions(id)).toEqual([1, 2, 3]);
    // Published on the seed subjects with the seed headers, each event once.
    expect(rt.seeds.publications.map((p) => [p.subject, p.event.sequence, p.headers['X-Event-ID']])).toEqual(
      rt.log.events.map((s) => [`t.event.${s.fact}`, s.event.sequence, s.event.identity.message_id]),
    );
    expect(rt.scheduled.map((r) => r.kind)).toEqual(['module.write', 'module.write', 'module.write']);
  });

  it('reloads and decides again when another writer stored an event meanwhile, with the version that follows', async () => {
    rt = new RuntimeUnderTest();
    const id = namedId('module', 'b');
    await rt.settle(rt.module('create', 'b'));
    let interfered = 0;
    rt.log.beforeAppend = (req) => {
      if (interfered++ > 0 || req.event.aggregate_id !== id) return;
      // Another instance updated the aggregate between this one's load and its append.
      const other = moduleEvent(id, 2);
      void rt.log.append({ ...other, expected_last_seq: rt.log.events.at(-1)!.stream_seq });
    };
    const reply = await rt.settle(rt.module('update', 'b', 9));
    expect(reply).toMatchObject({ status: 'ok', version: 3 });
    expect(versions(id)).toEqual([1, 2, 3]);
  });

  it('answers conflict, and stores nothing more, when the other writer wins every attempt', async () => {
    rt = new RuntimeUnderTest();
    const id = namedId('module', 'c');
    await rt.settle(rt.module('create', 'c'));
    rt.log.beforeAppend = (req) => {
      if (req.command_id === 'other') return;
      const next = versions(id).length + 1;
      void rt.log.append({ ...moduleEvent(id, next, 'other'), command_id: 'other', msg_id: `other:${next}`, expected_last_seq: rt.log.events.at(-1)!.stream_seq });
    };
    const reply = await rt.settle(rt.module('update', 'c', 5));
    expect(reply).toMatchObject({ status: 'error', code: 'conflict' });
    rt.log.beforeAppend = undefined;
    // Six attempts (the first and five retries), each beaten: only the other writer's events are stored.
    expect(rt.log.events.filter((s) => s.event.aggregate_id === id && s.command_id !== 'other')).toHaveLength(1);
  });

  it('answers a retry from the ledger, also after the aggregate slept and woke, and after passivation', async () => {
    rt = new RuntimeUnderTest({ awakeCap: 1 });
    const identity = root();
    const first = await rt.settle(rt.module('create', 'd', 1, identity));
    await rt.settle(rt.module('create', 'e')); // d falls asleep (one awake at most)
    expect(rt.supervisor.awakeCount).toBe(1);
    expect(await rt.settle(rt.module('create', 'd', 1, identity))).toEqual(first);
    rt.supervisor.passivate(0, 0);
    expect(rt.supervisor.liveCount).toBe(0);
    expect(await rt.settle(rt.module('create', 'd', 1, identity))).toEqual(first);
    expect(versions(namedId('module', 'd'))).toEqual([1]);
  });

  it('rebuilds from a snapshot plus the events after it', async () => {
    rt = new RuntimeUnderTest({ snapshotEvery: 2 });
    for (let i = 0; i < 5; i++) await rt.settle(i === 0 ? rt.module('create', 's') : rt.module('update', 's', i));
    await rt.settle(Promise.resolve());
    expect((await rt.state.loadSnapshot('module', namedId('module', 's')))?.version).toBe(4);
    rt.supervisor.passivate(0, 0);
    expect(await rt.settle(rt.module('update', 's', 9))).toMatchObject({ status: 'ok', version: 6 });
  });

  it('passivates the least recently used aggregates first, and never a busy one', async () => {
    rt = new RuntimeUnderTest();
    for (const name of ['p1', 'p2', 'p3']) {
      await rt.settle(rt.module('create', name));
      await rt.clock.advance(100);
    }
    await rt.settle(rt.module('update', 'p1', 2)); // p1 is the most recent now
    expect(rt.supervisor.passivate(Number.POSITIVE_INFINITY, 1)).toBe(2);
    expect(rt.supervisor.slot('module', namedId('module', 'p1'))?.loaded).toBe(true);
    expect(rt.supervisor.slot('module', namedId('module', 'p2'))).toBeUndefined();
    expect(rt.supervisor.slot('module', namedId('module', 'p3'))).toBeUndefined();
  });
});

describe('runtime core: the store away', () => {
  it('keeps an event the store does not take within the budget as a dead letter, refuses the aggregate until it is stored, then goes on', async () => {
    rt = new RuntimeUnderTest({ budgetMs: 500 });
    const id = namedId('module', 'dl');
    await rt.settle(rt.module('create', 'dl'));
    rt.log.available = false;
    const identity = root();
    const lost = await rt.settle(rt.module('update', 'dl', 2, identity));
    expect(lost).toMatchObject({ status: 'error', code: 'unavailable' });
    expect(rt.deadLetters.has('module', id)).toBe(true);
    expect(await rt.settle(rt.module('update', 'dl', 3))).toMatchObject({ status: 'error', code: 'unavailable', message: expect.stringMatching(/waiting to be stored/) });
    rt.log.available = true;
    // The next command stores the dead letter first (version 2), then itself (version 3).
    expect(await rt.settle(rt.module('update', 'dl', 4))).toMatchObject({ status: 'ok', version: 3 });
    expect(versions(id)).toEqual([1, 2, 3]);
    // The command whose event became a dead letter learns its outcome on retry.
    expect(await rt.settle(rt.module('update', 'dl', 2, identity))).toMatchObject({ status: 'ok', version: 2 });
  });

  it('keeps dead letters when their directory is removed under it, and writes the file again', async () => {
    rt = new RuntimeUnderTest({ budgetMs: 500 });
    await rt.settle(rt.module('create', 'gone'));
    rt.log.available = false;
    expect(await rt.settle(rt.module('update', 'gone', 2))).toMatchObject({ status: 'error', code: 'unavailable' });
    rmSync(join(rt.dir, '.deadletter'), { recursive: true, force: true });
    // A flush that fails to store rewrites the file: the directory is made again, nothing throws.
    await rt.deadLetters.flush(rt.deadLetterSink());
    expect(rt.deadLetters.has('module', namedId('module', 'gone'))).toBe(true);
    expect(readFileSync(join(rt.dir, '.deadletter', 'events.jsonl'), 'utf8')).toContain('"gone"');
  });

  it('holds stores while the connection is away and stores them when it returns', async () => {
    rt = new RuntimeUnderTest({ budgetMs: 10_000 });
    rt.publisher.connectionLost();
    expect(rt.publisher.stats().mode).toBe('holding');
    const reply = rt.module('create', 'held');
    await rt.clock.advance(2_000);
    expect(rt.log.appends).toBe(0); // held, not hammering a dead connection
    rt.publisher.connectionRestored();
    expect(await rt.settle(reply)).toMatchObject({ status: 'ok', version: 1 });
  });

  it('answers unavailable, never ok, when the publisher is stopped', async () => {
    rt = new RuntimeUnderTest();
    rt.publisher.stop();
    expect(await rt.settle(rt.module('create', 'late'))).toMatchObject({ status: 'error', code: 'unavailable' });
    expect(rt.log.events).toHaveLength(0);
    expect(rt.deadLetters.size).toBe(0);
  });
});

describe('runtime core: the supervisor', () => {
  it('holds commands while paused and delivers them in order on resume', async () => {
    rt = new RuntimeUnderTest();
    rt.supervisor.pause('NATS away');
    const replies = [rt.module('create', 'q'), rt.module('update', 'q', 2)];
    await rt.clock.advance(1_000);
    expect(rt.log.events).toHaveLength(0);
    expect(rt.supervisor.counts.held).toBe(2);
    rt.supervisor.resume();
    expect((await rt.settle(Promise.all(replies))).map((r) => (r as OkReply).version)).toEqual([1, 2]);
  });

  it('drains: waits for work in flight (bounded), then refuses new commands', async () => {
    rt = new RuntimeUnderTest({ budgetMs: 60_000 });
    rt.publisher.connectionLost(); // the command in flight waits in the publisher
    const inFlight = rt.module('create', 'r');
    await rt.clock.advance(10);
    let drained = false;
    const draining = rt.supervisor.drain(5_000).then(() => (drained = true));
    await rt.clock.advance(4_000);
    expect(drained).toBe(false);
    expect(await rt.settle(rt.module('create', 'after'))).toMatchObject({ status: 'error', code: 'unavailable' });
    await rt.clock.advance(1_100);
    expect(drained).toBe(true);
    await draining;
    rt.publisher.connectionRestored();
    await rt.settle(inFlight);
  });
});

describe('runtime core: the seed relay', () => {
  it('publishes again what was stored after the checkpoint (a crash between storing and publishing)', async () => {
    rt = new RuntimeUnderTest();
    const id = namedId('module', 'relay');
    // Stored by an earlier run that died before publishing.
    await rt.log.append(moduleEvent(id, 1));
    await rt.settle(rt.relay.start());
    expect(rt.seeds.publications.map((p) => p.event.aggregate_id)).toEqual([id]);
    await rt.settle(rt.module('create', 'other'));
    await rt.clock.advance(200);
    expect(await rt.state.loadCheckpoint()).toBe(rt.log.events.at(-1)!.stream_seq);
    await rt.relay.stop();
  });

  it('publishes again after a reconnect, also when the stream cannot be read at first (a leader being elected)', async () => {
    rt = new RuntimeUnderTest();
    await rt.settle(rt.relay.start());
    rt.relay.connectionLost();
    // Stored while the connection was away (the seed publish may have been lost with it).
    const id = namedId('module', 'cut');
    await rt.log.append(moduleEvent(id, 1));
    rt.log.available = false;
    rt.relay.connectionRestored();
    await rt.clock.advance(2_000);
    expect(rt.seeds.publications.filter((p) => p.event.aggregate_id === id)).toEqual([]);
    rt.log.available = true;
    await rt.clock.advance(5_000);
    expect(rt.seeds.publications.filter((p) => p.event.aggregate_id === id)).toHaveLength(1);
    await rt.relay.stop();
  });
  it('still owes the first outage when a second one cuts in before its replay ran', async () => {
    rt = new RuntimeUnderTest();
    await rt.settle(rt.relay.start());
    rt.relay.connectionLost();
    const first = namedId('module', 'first-outage');
    await rt.log.append(moduleEvent(first, 1));
    // Stored and published after it: the checkpoints move on past the first outage's event.
    await rt.settle(rt.module('create', 'between'));
    await rt.clock.advance(300);
    rt.relay.connectionRestored();
    // The second drop comes inside the grace period (50 ms here): the first replay never ran.
    await rt.clock.advance(10);
    rt.relay.connectionLost();
    const second = namedId('module', 'second-outage');
    await rt.log.append(moduleEvent(second, 1));
    rt.relay.connectionRestored();
    await rt.clock.advance(1_000);
    const seen = (id: string) => rt.seeds.publications.filter((p) => p.event.aggregate_id === id).length;
    expect(seen(first)).toBeGreaterThanOrEqual(1);
    expect(seen(second)).toBe(1);
    // Settled: a later clean outage does not publish the first one again.
    const before = seen(first);
    rt.relay.connectionLost();
    rt.relay.connectionRestored();
    await rt.clock.advance(1_000);
    expect(seen(first)).toBe(before);
    await rt.relay.stop();
  });
});

describe('dedup keys', () => {
  it('name the aggregate, the command and the sequence', () => {
    expect(dedupKey('agg', 'cmd', 3)).toBe('agg:cmd:3');
  });
});
