/**
 * The command intake without a NATS server: requests are plain message values, replies and
 * error records are kept by in-memory twins, the runtime core runs on the store twins in
 * virtual time. The accept pipeline, the error topic, the reply headers and the command
 * timeout, each shown to do its job.
 */
import { randomUUID } from 'node:crypto';
import type { Msg, MsgHdrs } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorTopic, type RecordPublisher } from '../../../src/intake/errorTopic.js';
import { CommandIntake } from '../../../src/intake/commandIntake.js';
import { RuntimeUnderTest } from '../../support/runtimeUnderTest.js';

let rt: RuntimeUnderTest;
afterEach(() => rt?.dispose());

/** A request as the intake receives it, keeping what it is answered. */
interface Request extends Msg {
  answers: Array<{ body: Record<string, unknown>; headers: Record<string, string> }>;
}

function request(subject: string, body: unknown, headers: Record<string, string> = {}): Request {
  const answers: Request['answers'] = [];
  const hdrs = new Map(Object.entries(headers).map(([k, v]) => [k, [v]]));
  return {
    subject,
    reply: '_INBOX.test',
    sid: 1,
    data: typeof body === 'string' ? new TextEncoder().encode(body) : new TextEncoder().encode(JSON.stringify(body)),
    headers: {
      get: (k: string) => hdrs.get(k)?.[0] ?? '',
      has: (k: string) => hdrs.has(k),
      keys: () => [...hdrs.keys()],
      values: (k: string) => hdrs.get(k) ?? [],
      [Symbol.iterator]: () => hdrs[Symbol.iterator](),
    } as unknown as MsgHdrs,
    answers,
    respond(data?: Uint8Array | string, opts?: { headers?: MsgHdrs }) {
      const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
      const h: Record<string, string> = {};
      for (const [k, v] of (opts?.headers as unknown as Iterable<[string, string[]]>) ?? []) h[k] = v[0] ?? '';
      answers.push({ body: JSON.parse(text) as Record<string, unknown>, headers: h });
      return true;
    },
  } as unknown as Request;
}

/** Keeps every error record published. */
class RecordTwin implements RecordPublisher {
  readonly records: Array<{ subject: string; record: Record<string, unknown> }> = [];
  readonly info = { max_payload: 1024 * 1024 };
  publish(subject: string, body: string): void {
    this.records.push({ subject, record: JSON.parse(body) as Record<string, unknown> });
  }
}

function intake(commandTimeoutMs = 600_000): { intake: CommandIntake; records: RecordTwin } {
  // Everything on the runtime's virtual clock, the command timeout included.
  const records = new RecordTwin();
  const logger = pino({ level: 'silent' });
  const i = new CommandIntake({
    subjects: rt.subjects,
    logger,
    supervisor: rt.supervisor,
    errors: new ErrorTopic(records, rt.subjects, logger),
    guardPath: () => ({ ok: true }),
    commandTimeoutMs,
    clock: rt.clock,
  });
  return { intake: i, records };
}

const create = (name: string) => ({ name, module: { options: {}, config: {}, imports: [] } });

describe('command intake', () => {
  it('routes a valid command and answers with its reply and the correlation headers', async () => {
    rt = new RuntimeUnderTest();
    const { intake: i } = intake();
    const id = randomUUID();
    const msg = request('t.cmd.module.create', { ...create('m'), identity: { message_id: id, correlation_id: id } });
    i.handle(msg);
    await rt.clock.advance(10);
    expect(msg.answers).toHaveLength(1);
    expect(msg.answers[0]!.body).toMatchObject({ status: 'ok', version: 1, command_id: id });
    expect(msg.answers[0]!.headers).toMatchObject({ 'X-Correlation-ID': id, 'X-Causation-ID': id });
    expect(i.stats()).toEqual({ received: 1, rejected: 0 });
  });

  it('refuses each bad input at its step, answers it with the service-error headers and records it on the error topic', () => {
    rt = new RuntimeUnderTest();
    const { intake: i, records } = intake();
    const cases: Array<[string, string | Record<string, unknown>, string, number]> = [
      ['t.cmd.module.create', '', 'invalid_json', 400],
      ['t.cmd.module.create', '{not json', 'invalid_json', 400],
      ['t.cmd.module.create', '[1]', 'validation', 400],
      ['t.cmd.module.create', { ...create('m'), bogus: 1 }, 'validation', 400],
      ['t.cmd.module.create', '{"name":"x","module":{"__proto__":{}}}', 'validation', 400],
      ['t.cmd.module.explode', create('m'), 'unknown_subject', 404],
      ['t.cmd.nothing.create', create('m'), 'unknown_subject', 404],
    ];
    for (const [subject, body, code, number] of cases) {
      const msg = request(subject, body);
      i.handle(msg);
      expect(msg.answers.at(-1)?.body, `${subject} ${JSON.stringify(body)}`).toMatchObject({ status: 'error', code });
      expect(msg.answers.at(-1)?.headers['Nats-Service-Error-Code']).toBe(String(number));
    }
    expect(records.records.map((r) => r.record['code'])).toEqual(cases.map((c) => c[2]));
    expect(records.records[3]!.subject).toBe('t.error.cmd.module.create');
    expect(i.stats()).toEqual({ received: cases.length, rejected: cases.length });
    expect(rt.log.events).toHaveLength(0);
  });

  it('takes the identity from the headers, in any letter case, when the payload has none', async () => {
    rt = new RuntimeUnderTest();
    const { intake: i } = intake();
    const id = randomUUID();
    const correlation = randomUUID();
    const msg = request('t.cmd.module.create', create('h'), { 'x-message-id': id, 'X-Correlation-Id': correlation });
    i.handle(msg);
    await rt.clock.advance(10);
    expect(msg.answers[0]!.body).toMatchObject({ status: 'ok', command_id: id });
    expect(msg.answers[0]!.headers['X-Correlation-ID']).toBe(correlation);
  });

  it('answers unavailable when the command outlives the command timeout, and only once', async () => {
    rt = new RuntimeUnderTest({ budgetMs: 60_000 });
    const { intake: i, records } = intake(1_000);
    rt.publisher.connectionLost(); // the store holds the command past the timeout
    const msg = request('t.cmd.module.create', create('slow'));
    i.handle(msg);
    await rt.clock.advance(1_100);
    expect(msg.answers).toHaveLength(1);
    expect(msg.answers[0]!.body).toMatchObject({ status: 'error', code: 'unavailable', message: expect.stringMatching(/still running after 1000 ms/) });
    expect(records.records.at(-1)?.record['code']).toBe('unavailable');
    rt.publisher.connectionRestored();
    await rt.clock.advance(100);
    expect(msg.answers).toHaveLength(1); // the late outcome is not a second reply
    expect(rt.log.events).toHaveLength(1); // and it was stored all the same
  });
});
