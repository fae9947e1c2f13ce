/**
 * The contract of the store ports (src/store/ports.ts), as one suite that runs against the
 * NATS implementations (int project, a real nats-server) and against the in-memory twins
 * (unit project). What the runtime relies on: per-aggregate histories in order, expected
 * last sequence conflicts, a dedup key that returns the stored event for a retry and never
 * passes another event off as it, reads after a sequence, the whole log in batches, and
 * following it live.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../../src/domain/events.js';
import { ConflictError } from '../../src/errors.js';
import type { AggregateSnapshot, AppendRequest, EventLog, StateStore, StoredEvent } from '../../src/store/index.js';

export interface StoreUnderTest {
  log: EventLog;
  state: StateStore;
  dispose(): Promise<void>;
}

let counter = 0;

/** A module event of aggregate `id` with sequence `sequence`, caused by command `command`. */
export function moduleEvent(id: string, sequence: number, command: string = randomUUID()): AppendRequest {
  const fact = sequence === 1 ? 'module.created' : 'module.updated';
  const event: DomainEvent = {
    identity: { message_id: randomUUID(), correlation_id: command, causation_id: command },
    event_type: sequence === 1 ? 'ModuleCreated' : 'ModuleUpdated',
    aggregate_type: 'module',
    aggregate_id: id,
    sequence,
    occurred_at: new Date(0).toISOString(),
    name: `m${++counter}`,
    module: { options: {}, config: { n: sequence }, imports: [] },
    file: 'modules/m.nix',
  };
  return { event, fact, command_id: command, expected_last_seq: 0, msg_id: `${id}:${command}:${sequence}` };
}

/** Appends `n` events to aggregate `id` from sequence `first` on, each expecting the previous one (`last`: the stream sequence of the event before `first`). */
export async function appendMany(log: EventLog, id: string, n: number, first = 1, last = 0): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = first; i < first + n; i++) {
    const r = await log.append({ ...moduleEvent(id, i), expected_last_seq: last });
    last = r.stream_seq;
    seqs.push(last);
  }
  return seqs;
}

/** Runs the contract against a store made by `make`. */
export function storeContract(name: string, make: () => Promise<StoreUnderTest>): void {
  describe(`store contract: ${name}`, () => {
    let store: StoreUnderTest;
    beforeAll(async () => {
      store = await make();
    });
    afterAll(async () => store?.dispose());

    it('keeps one history per aggregate, in order, with log sequences that increase over the whole log', async () => {
      const a = randomUUID();
      const b = randomUUID();
      const seqA = await appendMany(store.log, a, 3);
      const seqB = await appendMany(store.log, b, 2);
      expect(seqA[0]! < seqA[1]! && seqA[1]! < seqA[2]! && seqA[2]! < seqB[0]!).toBe(true);
      const history = await store.log.read('module', a);
      expect(history.map((s) => [s.event.sequence, s.stream_seq, s.fact])).toEqual([
        [1, seqA[0], 'module.created'],
        [2, seqA[1], 'module.updated'],
        [3, seqA[2], 'module.updated'],
      ]);
      expect(history[0]!.command_id).toBe(history[0]!.event.identity.causation_id);
      expect(await store.log.read('module', a, seqA[1])).toHaveLength(1);
      expect(await store.log.lastSequence('module', a)).toBe(seqA[2]);
      expect(await store.log.lastSequence('module', randomUUID())).toBe(0);
      expect(await store.log.read('module', randomUUID())).toEqual([]);
    });

    it('refuses an append whose expected last sequence is not the aggregate\'s (another writer)', async () => {
      const id = randomUUID();
      const [first] = await appendMany(store.log, id, 1);
      await expect(store.log.append({ ...moduleEvent(id, 2), expected_last_seq: 0 })).rejects.toBeInstanceOf(ConflictError);
      const ok = await store.log.append({ ...moduleEvent(id, 2), expected_last_seq: first! });
      expect(ok.duplicate).toBe(false);
      expect((await store.log.read('module', id)).map((s) => s.event.sequence)).toEqual([1, 2]);
    });

    it('answers a retried append with the stored event (duplicate), and never passes another event off under its key', async () => {
      const id = randomUUID();
      const req = moduleEvent(id, 1);
      const first = await store.log.append(req);
      const again = await store.log.append(req);
      expect(again).toEqual({ stream_seq: first.stream_seq, duplicate: true });
      // Another aggregate, another event, the same key: a conflict, not an `ok`.
      const other = moduleEvent(randomUUID(), 1);
      await expect(store.log.append({ ...other, msg_id: req.msg_id })).rejects.toBeInstanceOf(ConflictError);
      expect(await store.log.read('module', other.event.aggregate_id)).toEqual([]);
    });

    it('answers a retry the duplicate window no longer knows with the stored event when it is the aggregate\'s last (a lost acknowledgement), and refuses it otherwise', async () => {
      const id = randomUUID();
      const req = moduleEvent(id, 1);
      const first = await store.log.append(req);
      // Another key for the same event: the duplicate window cannot answer, the expected-sequence check does.
      const retried = await store.log.append({ ...req, msg_id: `${req.msg_id}:after-window` });
      expect(retried).toEqual({ stream_seq: first.stream_seq, duplicate: true });
      const next = moduleEvent(id, 2);
      await store.log.append({ ...next, expected_last_seq: first.stream_seq });
      // No longer the last one: an old retry of it is a conflict (the store has moved on).
      await expect(store.log.append({ ...req, msg_id: `${req.msg_id}:late` })).rejects.toBeInstanceOf(ConflictError);
      expect((await store.log.read('module', id)).map((s) => s.event.sequence)).toEqual([1, 2]);
    });

    it('stores the bytes it is given: the caller changing its object later changes nothing', async () => {
      const id = randomUUID();
      const req = moduleEvent(id, 1);
      await store.log.append(req, new TextEncoder().encode(JSON.stringify(req.event)));
      (req.event as Record<string, unknown>)['name'] = 'changed';
      expect((await store.log.read('module', id))[0]!.event['name']).not.toBe('changed');
    });

    it('reads the whole log after a sequence, in batches', async () => {
      const id = randomUUID();
      const seqs = await appendMany(store.log, id, 5);
      const batches: StoredEvent[][] = [];
      for await (const batch of store.log.readAll(seqs[0], 2)) batches.push(batch);
      const seen = batches.flat().filter((s) => s.event.aggregate_id === id);
      expect(seen.map((s) => s.event.sequence)).toEqual([2, 3, 4, 5]);
      expect(batches.every((b) => b.length <= 2)).toBe(true);
    });

    it('follows the log: what it holds after a sequence, then each new event, in order', async () => {
      const id = randomUUID();
      const before = await appendMany(store.log, id, 2);
      const got: StoredEvent[] = [];
      let idle = 0;
      const following = await store.log.follow({
        afterSeq: before[0]!,
        onEvent: (s) => got.push(s),
        onUnreadable: () => undefined,
        onIdle: () => idle++,
        wantsIdle: () => idle === 0,
      });
      expect(following.target).toBeGreaterThanOrEqual(before[1]!);
      await store.log.append({ ...moduleEvent(id, 3), expected_last_seq: before[1]! });
      await expect.poll(() => got.filter((s) => s.event.aggregate_id === id).map((s) => s.event.sequence)).toEqual([2, 3]);
      await expect.poll(() => idle).toBeGreaterThan(0);
      const seqs = got.map((s) => s.stream_seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      await following.stop();
    });

    it('keeps snapshots by aggregate and the relay checkpoint', async () => {
      const id = randomUUID();
      expect(await store.state.loadSnapshot('module', id)).toBeUndefined();
      const snapshot: AggregateSnapshot = {
        kind: 'module',
        id,
        machine_version: 2,
        stream_seq: 7,
        version: 3,
        persisted: { value: 'active', context: { version: 3 } },
        ledger: [],
        taken_at: new Date(0).toISOString(),
      };
      await store.state.saveSnapshot(snapshot);
      snapshot.version = 99; // the stored copy does not change with the caller's object
      expect(await store.state.loadSnapshot('module', id)).toMatchObject({ version: 3, stream_seq: 7, persisted: { value: 'active' } });
      await store.state.saveCheckpoint(42);
      expect(await store.state.loadCheckpoint()).toBe(42);
    });
  });
}
