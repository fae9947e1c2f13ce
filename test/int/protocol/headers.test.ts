/**
 * Identity headers in any letter case (SPEC §10): Go's client canonicalises header names
 * (`X-Correlation-Id`), other clients send them in lower case. Each spelling gives the same
 * identity as the documented one (`X-Message-ID`, `Nats-Msg-Id`, `X-Correlation-ID`,
 * `X-Causation-ID`), and the service keeps writing the documented spellings.
 */
import { randomUUID } from 'node:crypto';
import { headers as natsHeaders, type Msg } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, type Collector } from '../../support/collect.js';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { startTestService, type TestService } from '../../support/service.js';
import { moduleBody } from '../queries/support.js';

let server: NatsServer;
let svc: TestService;
let events: Collector;

beforeAll(async () => {
  server = await startNatsServer();
  svc = await startTestService(server);
  events = await collect(svc.client, `${svc.prefix}.event.module.created`);
});

afterAll(async () => {
  events?.stop();
  await svc?.stop();
  await server?.dispose();
});

async function send(subject: string, body: unknown, hdrs: Record<string, string>): Promise<Msg> {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
  return svc.client.request(`${svc.prefix}.${subject}`, JSON.stringify(body), { timeout: 10_000, headers: h });
}

const spellings = {
  documented: { message: 'X-Message-ID', correlation: 'X-Correlation-ID', causation: 'X-Causation-ID' },
  'lower case': { message: 'x-message-id', correlation: 'x-correlation-id', causation: 'x-causation-id' },
  "Go's canonical case": { message: 'X-Message-Id', correlation: 'X-Correlation-Id', causation: 'X-Causation-Id' },
  'upper case, Nats-Msg-Id': { message: 'NATS-MSG-ID', correlation: 'X-CORRELATION-ID', causation: 'X-CAUSATION-ID' },
} as const;

describe('identity headers in any letter case', () => {
  for (const [label, names] of Object.entries(spellings)) {
    it(`takes a command's identity from headers in ${label}, and answers with the documented spellings`, async () => {
      const messageId = randomUUID();
      const correlationId = randomUUID();
      const name = `hdr-${Object.keys(spellings).indexOf(label)}`;
      const reply = await send(
        'cmd.module.create',
        { name, module: moduleBody() },
        {
          [names.message]: messageId,
          [names.correlation]: correlationId,
          [names.causation]: randomUUID(),
        },
      );
      const body = reply.json<Record<string, unknown>>();
      expect(body).toMatchObject({ status: 'ok', command_id: messageId });
      expect(reply.headers?.get('X-Correlation-ID')).toBe(correlationId);
      expect(reply.headers?.get('X-Causation-ID')).toBe(messageId);

      await expect.poll(() => events.messages.find((m) => m.data['name'] === name), { timeout: 5_000 }).toBeDefined();
      const event = events.messages.find((m) => m.data['name'] === name)!;
      expect(event.headers['X-Correlation-ID']).toBe(correlationId);
      expect(event.headers['X-Causation-ID']).toBe(messageId);
      expect(event.data['identity']).toMatchObject({ correlation_id: correlationId, causation_id: messageId });
    });
  }

  it('treats a retry whose message id header is spelled differently as the same command', async () => {
    const messageId = randomUUID();
    const first = await send('cmd.module.create', { name: 'retried', module: moduleBody() }, { 'X-Message-ID': messageId });
    const again = await send('cmd.module.create', { name: 'retried', module: moduleBody() }, { 'x-message-id': messageId });
    expect(first.json()).toMatchObject({ status: 'ok' });
    expect(again.json()).toEqual(first.json());
    expect(events.messages.filter((m) => m.data['name'] === 'retried')).toHaveLength(1);
  });

  it('checks an identity header in any letter case, naming it as it was sent', async () => {
    const reply = await send('cmd.module.create', { name: 'bad-causation', module: moduleBody() }, { 'x-causation-id': 'not-a-uuid' });
    expect(reply.json()).toMatchObject({ status: 'error', code: 'validation' });
    expect(String(reply.json<Record<string, unknown>>()['message'])).toMatch(/header x-causation-id: must be a UUID/);
  });

  it("takes a query's correlation from headers in lower case and Go's canonical case", async () => {
    for (const names of [spellings['lower case'], spellings["Go's canonical case"]]) {
      const messageId = randomUUID();
      const correlationId = randomUUID();
      const reply = await send('query.module.list', {}, { [names.message]: messageId, [names.correlation]: correlationId });
      expect(reply.json()).toMatchObject({ status: 'ok' });
      expect(reply.headers?.get('X-Correlation-ID')).toBe(correlationId);
      expect(reply.headers?.get('X-Causation-ID')).toBe(messageId);
    }
  });
});
