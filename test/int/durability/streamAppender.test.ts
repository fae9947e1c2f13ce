/**
 * The stream appender against a real nats-server: acknowledgements, duplicates, the
 * expected-last-subject-sequence check, a subject no stream captures, and a lost answer.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamAppender } from '../../../src/store/streamAppender.js';
import { StreamApiError, StreamUnavailableError } from '../../../src/errors.js';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';

let server: NatsServer;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'APPEND', subjects: ['append.>'] });
});

afterAll(async () => {
  await nc?.close();
  await server?.dispose();
});

const h = (entries: Record<string, string>) => {
  const out = headers();
  for (const [k, v] of Object.entries(entries)) out.set(k, v);
  return out;
};

describe('stream appender', () => {
  it('returns the stream sequence, and the original one for a duplicate message id', async () => {
    const appender = new StreamAppender(nc);
    const first = await appender.publish('append.a', 'one', h({ 'Nats-Msg-Id': 'a-1' }));
    const second = await appender.publish('append.a', 'two', h({ 'Nats-Msg-Id': 'a-2' }));
    expect(first).toMatchObject({ stream: 'APPEND', duplicate: false });
    expect(second.seq).toBe(first.seq + 1);
    const again = await appender.publish('append.a', 'one', h({ 'Nats-Msg-Id': 'a-1' }));
    expect(again).toEqual({ stream: 'APPEND', seq: first.seq, duplicate: true });
    appender.close();
  });

  it('refuses a message whose expected last subject sequence is stale, with the API error code', async () => {
    const appender = new StreamAppender(nc);
    const stored = await appender.publish('append.b', 'x', h({ 'Nats-Expected-Last-Subject-Sequence': '0' }));
    const stale = appender.publish('append.b', 'y', h({ 'Nats-Expected-Last-Subject-Sequence': '0' }));
    await expect(stale).rejects.toBeInstanceOf(StreamApiError);
    await expect(stale).rejects.toMatchObject({ errCode: 10071 });
    const next = await appender.publish('append.b', 'y', h({ 'Nats-Expected-Last-Subject-Sequence': String(stored.seq) }));
    expect(next.seq).toBeGreaterThan(stored.seq);
    appender.close();
  });

  it('fails at once on a subject no stream captures, and after its timeout when nobody answers', async () => {
    const appender = new StreamAppender(nc, 300);
    await expect(appender.publish('nowhere.at.all', 'x', headers())).rejects.toBeInstanceOf(StreamUnavailableError);
    const silent = nc.subscribe('silent.subject'); // takes the message, never answers
    await nc.flush();
    await expect(appender.publish('silent.subject', 'x', headers())).rejects.toThrow(/no acknowledgement from the stream within 300 ms/);
    silent.unsubscribe();
    appender.close();
  });

  it('keeps an acknowledgement that arrived while the thread was stalled past the timeout (a GC pause, SIGSTOP)', async () => {
    const appender = new StreamAppender(nc, 200);
    const acked = appender.publish('append.d', 'x', h({ 'Nats-Msg-Id': 'd-1' }));
    // The thread stalls for far longer than the timeout; the local server answers meanwhile.
    // On waking, Node runs due timers before it reads the socket: the sweep must not fail the wait.
    const until = Date.now() + 1_500;
    while (Date.now() < until) {
      /* a stalled thread */
    }
    await expect(acked).resolves.toMatchObject({ stream: 'APPEND', duplicate: false });
    appender.close();
  });

  it('fails a publish on a closed connection without waiting', async () => {
    const own = await connect({ servers: server.url });
    const appender = new StreamAppender(own);
    await own.close();
    await expect(appender.publish('append.c', 'x', headers())).rejects.toThrow();
  });
});
