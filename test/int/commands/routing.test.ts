/**
 * Commands routed to aggregate actors over a real NATS server: replies, events on the seed
 * subjects with every header, the identity chain, exactly-once retries, invalid transitions,
 * ordering under concurrency and one actor per aggregate.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namedId } from '../../../src/domain/ids.js';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { startTestService, type TestService } from '../../support/service.js';
import { collect, request, type Collector } from '../../support/collect.js';

let server: NatsServer;
let svc: TestService;
let events: Collector;
let errors: Collector;

beforeAll(async () => {
  server = await startNatsServer();
  svc = await startTestService(server);
  events = await collect(svc.client, `${svc.prefix}.event.>`);
  errors = await collect(svc.client, `${svc.prefix}.error.>`);
});

afterAll(async () => {
  events?.stop();
  errors?.stop();
  await svc?.stop();
  await server?.dispose();
});

const body = (n = 0) => ({ options: {}, config: { 'networking.firewall.allowedTCPPorts': [80 + n] }, imports: [] });
const send = (action: string, payload: Record<string, unknown>, headers?: Record<string, string>) =>
  request(svc.client, `${svc.prefix}.cmd.module.${action}`, payload, headers ? { headers } : {});

describe('command routing', () => {
  it('creates a module: ok reply, event on the seed subject with every header and the identity chain', async () => {
    const name = `web-${randomUUID().slice(0, 8)}`;
    const identity = { message_id: randomUUID(), correlation_id: randomUUID(), causation_id: randomUUID() };
    const reply = await send('create', { name, module: body(), identity });
    const id = namedId('module', name);
    expect(reply.data).toMatchObject({ status: 'ok', command_id: identity.message_id, aggregate_id: id, version: 1 });
    expect(reply.headers['X-Correlation-ID']).toBe(identity.correlation_id);
    expect(reply.headers['X-Causation-ID']).toBe(identity.message_id);
    const refs = reply.data['events'] as Array<Record<string, unknown>>;
    expect(refs).toHaveLength(1);
    expect(refs[0]).toMatchObject({ event_type: 'ModuleCreated', subject: `${svc.prefix}.event.module.created`, sequence: 1 });

    await expect.poll(() => events.messages.find((m) => m.data['aggregate_id'] === id)).toBeDefined();
    const ev = events.messages.find((m) => m.data['aggregate_id'] === id)!;
    expect(ev.subject).toBe(`${svc.prefix}.event.module.created`);
    expect(ev.data).toMatchObject({
      event_type: 'ModuleCreated',
      aggregate_type: 'module',
      aggregate_id: id,
      sequence: 1,
      name,
      module: body(),
      identity: { message_id: refs[0]!['event_id'], correlation_id: identity.correlation_id, causation_id: identity.message_id },
    });
    expect(Number.isNaN(Date.parse(String(ev.data['occurred_at'])))).toBe(false);
    expect(ev.headers).toMatchObject({
      'X-Event-ID': refs[0]!['event_id'],
      'X-Correlation-ID': identity.correlation_id,
      'X-Causation-ID': identity.message_id,
      'X-Event-Type': 'ModuleCreated',
      'X-Aggregate-ID': id,
      'X-Domain': svc.prefix,
    });
    expect(ev.headers['X-Timestamp']).toBe(ev.data['occurred_at']);
  });

  it('takes the identity from headers when the payload has none, and mints a root otherwise', async () => {
    const name = `hdr-${randomUUID().slice(0, 8)}`;
    const messageId = randomUUID();
    const correlationId = randomUUID();
    const fromHeaders = await send('create', { name, module: body() }, { 'X-Message-ID': messageId, 'X-Correlation-ID': correlationId });
    expect(fromHeaders.data).toMatchObject({ status: 'ok', command_id: messageId });
    expect(fromHeaders.headers['X-Correlation-ID']).toBe(correlationId);

    const minted = await send('update', { name, module: body(1) });
    expect(minted.data['status']).toBe('ok');
    const mintedId = String(minted.data['command_id']);
    expect(minted.headers['X-Correlation-ID']).toBe(mintedId);
    expect(minted.headers['X-Causation-ID']).toBe(mintedId);
  });

  it('answers a retried command with the original reply and stores no new event', async () => {
    const name = `retry-${randomUUID().slice(0, 8)}`;
    const identity = { message_id: randomUUID() };
    const first = await send('create', { name, module: body(), identity });
    const again = await send('create', { name, module: body(), identity });
    expect(again.data).toEqual(first.data);
    const id = namedId('module', name);
    await expect.poll(() => events.messages.filter((m) => m.data['aggregate_id'] === id).length).toBe(1);
    const next = await send('update', { name, module: body(2) });
    expect(next.data).toMatchObject({ status: 'ok', version: 2 });
  });

  it('rejects an invalid transition, changes nothing and records it on the error topic', async () => {
    const name = `gone-${randomUUID().slice(0, 8)}`;
    await send('create', { name, module: body() });
    const dup = await send('create', { name, module: body() });
    expect(dup.data).toMatchObject({ status: 'error', code: 'already_exists' });
    expect(String(dup.data['message'])).toMatch(/already exists; change it with module.update/);
    const missing = await send('update', { name: `never-${randomUUID().slice(0, 8)}`, module: body() });
    expect(missing.data).toMatchObject({ status: 'error', code: 'not_found' });
    await expect.poll(() => errors.messages.some((m) => m.subject === `${svc.prefix}.error.cmd.module.create` && m.data['code'] === 'already_exists')).toBe(true);
    const next = await send('update', { name, module: body(3) });
    expect(next.data).toMatchObject({ status: 'ok', version: 2 });
  });

  it('addresses an aggregate by id as well as by name', async () => {
    const name = `byid-${randomUUID().slice(0, 8)}`;
    await send('create', { name, module: body() });
    const reply = await send('delete', { module_id: namedId('module', name) });
    expect(reply.data).toMatchObject({ status: 'ok', version: 2 });
    const mismatch = await send('delete', { name, module_id: randomUUID() });
    expect(mismatch.data).toMatchObject({ status: 'error', code: 'validation' });
  });

  it('answers 200 concurrent commands to one aggregate in order with a gapless sequence', async () => {
    const name = `busy-${randomUUID().slice(0, 8)}`;
    await send('create', { name, module: body() });
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => send('update', { name, module: body(i) })));
    expect(replies.every((r) => r.data['status'] === 'ok')).toBe(true);
    const versions = replies.map((r) => Number(r.data['version'])).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 200 }, (_, i) => i + 2));
    const id = namedId('module', name);
    await expect.poll(() => events.messages.filter((m) => m.data['aggregate_id'] === id).length, { timeout: 10_000 }).toBe(201);
    const seqs = events.messages.filter((m) => m.data['aggregate_id'] === id).map((m) => Number(m.data['sequence']));
    expect(seqs).toEqual(Array.from({ length: 201 }, (_, i) => i + 1));
  });

  it('touches 2,000 aggregates concurrently: one actor each, all answered', async () => {
    const tag = randomUUID().slice(0, 6);
    const replies = await Promise.all(Array.from({ length: 2000 }, (_, i) => send('create', { name: `many-${tag}-${i}`, module: body(i) })));
    const codes = replies.map((r) => (r.data['status'] === 'ok' ? 'ok' : String(r.data['code'])));
    expect(codes.filter((c) => c !== 'ok')).toEqual([]);
    expect(new Set(replies.map((r) => r.data['aggregate_id'])).size).toBe(2000);
    const health = await request(svc.client, 'health.cim-domain-nix', {});
    expect((health.data['aggregates'] as { live: number }).live).toBeGreaterThanOrEqual(2000);
  });
});
