/**
 * The read models' feed on a real nats-server when its consumer goes away under it: it
 * reopens from after the last event it delivered, delivers what was stored meanwhile once
 * and in order, and says why in the log.
 */
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subjectsFor, type Subjects } from '../../../src/domain/subjects.js';
import { JetStreamEventLog, type StoredEvent } from '../../../src/store/index.js';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { uniquePrefix } from '../../support/service.js';
import { appendMany } from '../../support/storeContract.js';

describe('event feed of the read models (JetStream)', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let subjects: Subjects;
  let log: JetStreamEventLog;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    subjects = subjectsFor(uniquePrefix('feed'));
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    log = await JetStreamEventLog.open(nc, subjects, logger);
  });

  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  it('reopens after its consumer is deleted on the server and delivers every later event once, in order', async () => {
    const id = randomUUID();
    const got: StoredEvent[] = [];
    const following = await log.follow({
      afterSeq: 0,
      onEvent: (s) => got.push(s),
      onUnreadable: () => undefined,
      onIdle: () => undefined,
      wantsIdle: () => false,
    });
    try {
      const before = await appendMany(log, id, 2);
      await expect.poll(() => got.length).toBe(2);
      const jsm = await jetstreamManager(nc);
      const consumers = await jsm.consumers.list(subjects.eventStream).next();
      expect(consumers).toHaveLength(1);
      await jsm.consumers.delete(subjects.eventStream, consumers[0]!.name);
      await appendMany(log, id, 3, 3, before[1]);
      await expect.poll(() => got.map((s) => s.event.sequence), { timeout: 15_000 }).toEqual([1, 2, 3, 4, 5]);
      const seqs = got.map((s) => s.stream_seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      const reopened = lines.find((l) => l['msg'] === 'event feed of the read models reopened');
      expect(reopened?.['reason'], JSON.stringify(lines.map((l) => l['msg']))).toMatch(/^(consumer_deleted|stalled)$/);
    } finally {
      await following.stop();
    }
  });
});
