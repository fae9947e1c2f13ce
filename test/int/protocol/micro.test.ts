/**
 * Conformance with the NATS service protocol (ADR-32, `io.nats.micro.v1`) as a generic micro
 * client sees it: PING, INFO and STATS on every subject form, valid against the response
 * schemas (test/int/protocol/schemas, written from the ADR); error replies to commands and
 * queries carrying `Nats-Service-Error` and a numeric `Nats-Service-Error-Code`; STATS
 * counting requests, errors and the last error per endpoint.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { headers as natsHeaders, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { Ajv, type ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { MicroService } from '../../../src/intake/microService.js';
import { startTestService, type TestService } from '../../support/service.js';
import { moduleBody } from '../queries/support.js';

const SERVICE = 'cim-domain-nix';

/** SPEC §10, written out here so the test does not read the table it checks. */
const EXPECTED_STATUS: Record<string, number> = {
  invalid_json: 400,
  validation: 400,
  unknown_subject: 404,
  not_found: 404,
  already_exists: 409,
  invalid_transition: 409,
  conflict: 409,
  forbidden: 403,
  unavailable: 503,
  timeout: 504,
  nix_failed: 500,
  internal: 500,
};

// RFC 3339 date-time (the schema's `format: date-time`).
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

function schema(name: string): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: true });
  ajv.addFormat('date-time', { validate: (s: string) => RFC3339.test(s) && !Number.isNaN(Date.parse(s)) });
  return ajv.compile(JSON.parse(readFileSync(new URL(`./schemas/${name}.json`, import.meta.url), 'utf8')) as object);
}
const validators = { PING: schema('ping_response'), INFO: schema('info_response'), STATS: schema('stats_response') };

function expectValid(verb: keyof typeof validators, body: unknown, subject: string): void {
  const validate = validators[verb];
  const ok = validate(body);
  expect(ok, `${subject}: ${JSON.stringify(validate.errors?.slice(0, 3))}\n${JSON.stringify(body).slice(0, 2000)}`).toBe(true);
}

interface EndpointStats {
  name: string;
  subject: string;
  num_requests: number;
  num_errors: number;
  last_error: string;
  processing_time: number;
  average_processing_time: number;
}

let server: NatsServer;
let svc: TestService;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  svc = await startTestService(server);
  nc = svc.client;
});

afterAll(async () => {
  await svc?.stop();
  await server?.dispose();
});

async function srv(subject: string): Promise<Record<string, unknown>> {
  return (await nc.request(subject, '', { timeout: 5_000 })).json<Record<string, unknown>>();
}

async function stats(): Promise<Map<string, EndpointStats>> {
  const body = await srv(`$SRV.STATS.${SERVICE}`);
  expectValid('STATS', body, `$SRV.STATS.${SERVICE}`);
  return new Map((body['endpoints'] as EndpointStats[]).map((e) => [e.name, e]));
}

/** A request with a raw or JSON body; the whole reply message. */
async function send(subject: string, body: unknown, hdrs: Record<string, string> = {}): Promise<Msg> {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
  return nc.request(subject, typeof body === 'string' ? body : JSON.stringify(body), { timeout: 10_000, headers: h });
}

/** The reply is a service error (as nats.js's ServiceError.isServiceError and the Go/C clients see it), with the number of its code. */
function expectServiceError(reply: Msg, code: string): Record<string, unknown> {
  const body = reply.json<Record<string, unknown>>();
  expect(body).toMatchObject({ status: 'error', code });
  const numeric = reply.headers?.get('Nats-Service-Error-Code') ?? '';
  expect(numeric, `Nats-Service-Error-Code of ${code}`).toMatch(/^\d+$/);
  expect(Number(numeric)).toBe(EXPECTED_STATUS[code]);
  const text = reply.headers?.get('Nats-Service-Error') ?? '';
  expect(text.length).toBeGreaterThan(0);
  expect(String(body['message']).startsWith(text.replace(/…$/, ''))).toBe(true);
  return body;
}

describe('$SRV discovery', () => {
  it('answers PING, INFO and STATS on all three subject forms, each valid against its micro v1 schema', async () => {
    const ping = await srv('$SRV.PING');
    const id = String(ping['id']);
    expect(ping).toMatchObject({ name: SERVICE });
    for (const verb of ['PING', 'INFO', 'STATS'] as const) {
      for (const subject of [`$SRV.${verb}`, `$SRV.${verb}.${SERVICE}`, `$SRV.${verb}.${SERVICE}.${id}`]) {
        const body = await srv(subject);
        expectValid(verb, body, subject);
        expect(body, subject).toMatchObject({ name: SERVICE, id, metadata: { prefix: svc.prefix } });
      }
    }
    // Another instance's id is not this one's subject.
    await expect(nc.request(`$SRV.PING.${SERVICE}.someone-else`, '', { timeout: 500 })).rejects.toThrow();
  });

  it('lists one endpoint per command and query subject plus health, in the queue group, and reports last_error "" before any error', async () => {
    const info = await srv(`$SRV.INFO.${SERVICE}`);
    const endpoints = info['endpoints'] as Array<{ name: string; subject: string; queue_group: string; metadata: Record<string, string> }>;
    const subjects = endpoints.map((e) => e.subject);
    expect(subjects).toContain(`${svc.prefix}.cmd.flake.create`);
    expect(subjects).toContain(`${svc.prefix}.query.config.get_history`);
    expect(subjects).toContain('health.cim-domain-nix');
    expect(new Set(endpoints.map((e) => e.queue_group))).toEqual(new Set([SERVICE]));
    const before = await stats();
    expect(before.size).toBe(endpoints.length);
    for (const e of before.values()) {
      expect(e, e.name).toMatchObject({ last_error: '', num_errors: 0 });
    }
  });
});

describe('service errors', () => {
  it('marks every error reply to a command with Nats-Service-Error and its numeric code, keeping the body and the correlation', async () => {
    const P = svc.prefix;
    expectServiceError(await send(`${P}.cmd.module.create`, '{not json'), 'invalid_json');
    const unknownField = expectServiceError(
      await send(`${P}.cmd.module.create`, { name: 'm-bogus', module: moduleBody(), bogus: 1 }),
      'validation',
    );
    expect(unknownField['details']).toEqual({ fields: ['bogus'] });
    expectServiceError(await send(`${P}.cmd.flake.explode`, {}), 'unknown_subject');
    expectServiceError(await send(`${P}.cmd.module.delete`, { name: 'never-made' }), 'not_found');
    expectServiceError(await send(`${P}.cmd.flake.create`, { path: '../outside', description: 'x' }), 'forbidden');

    const first = await send(`${P}.cmd.module.create`, { name: 'twice', module: moduleBody() });
    expect(first.json<Record<string, unknown>>()).toMatchObject({ status: 'ok' });
    expect(first.headers?.has('Nats-Service-Error-Code') ?? false).toBe(false);
    const messageId = randomUUID();
    const correlationId = randomUUID();
    const again = await send(
      `${P}.cmd.module.create`,
      { name: 'twice', module: moduleBody() },
      { 'X-Message-ID': messageId, 'X-Correlation-ID': correlationId },
    );
    expectServiceError(again, 'already_exists');
    expect(again.headers?.get('X-Correlation-ID')).toBe(correlationId);
    expect(again.headers?.get('X-Causation-ID')).toBe(messageId);
  });

  it('marks every error reply to a query the same way', async () => {
    const P = svc.prefix;
    const unknownField = expectServiceError(await send(`${P}.query.module.list`, { colour: 'blue' }), 'validation');
    expect(unknownField['details']).toEqual({ fields: ['colour'] });
    expectServiceError(await send(`${P}.query.module.get`, '[1]'), 'validation');
    expectServiceError(await send(`${P}.query.module.get`, '{"name":'), 'invalid_json');
    expectServiceError(await send(`${P}.query.module.get`, { name: 'no-such-module' }), 'not_found');
    expectServiceError(await send(`${P}.query.module.explode`, {}), 'unknown_subject');
    const made = await send(`${P}.cmd.module.create`, { name: 'waited-for', module: moduleBody() });
    const { aggregate_id } = made.json<{ aggregate_id: string }>();
    expectServiceError(await send(`${P}.query.module.get`, { module_id: aggregate_id, min_sequence: 99, timeout_ms: 50 }), 'timeout');
  });

  it('names a nested unknown field by its path in details.fields', async () => {
    const reply = await send(`${svc.prefix}.cmd.module.create`, { name: 'm-nested', module: { ...moduleBody(), colour: 'blue' } });
    const body = expectServiceError(reply, 'validation');
    expect(body['details']).toEqual({ fields: ['module.colour'] });
    expect(String(body['message'])).toMatch(/unknown field 'colour' in module/);
  });
});

describe('$SRV.STATS', () => {
  it('counts requests, errors and the last error per endpoint, also for a request without a reply subject', async () => {
    const P = svc.prefix;
    const before = await stats();
    const create = before.get('cmd_overlay_create')!;
    const list = before.get('query_overlay_list')!;
    const untouched = before.get('cmd_config_rollback')!;

    for (const name of ['o1', 'o2', 'o3']) {
      const r = await send(`${P}.cmd.overlay.create`, { name, overlay: { overrides: {}, additions: {} } });
      expect(r.json<Record<string, unknown>>(), name).toMatchObject({ status: 'ok' });
    }
    await send(`${P}.cmd.overlay.create`, { name: 'o4', overlay: { overrides: {}, additions: {} }, nope: true });
    // Published, not requested: no reply to send, but still an error of the endpoint.
    nc.publish(`${P}.cmd.overlay.create`, '{broken');
    await send(`${P}.query.overlay.list`, {});
    await send(`${P}.query.overlay.list`, { limit: 'many' });

    await expect
      .poll(async () => (await stats()).get('cmd_overlay_create')?.num_requests, { timeout: 5_000 })
      .toBe(create.num_requests + 5);
    const after = await stats();
    const c = after.get('cmd_overlay_create')!;
    expect(c.num_errors).toBe(create.num_errors + 2);
    expect(c.last_error).toMatch(/^400 the payload is not valid JSON/);
    expect(c.processing_time).toBeGreaterThan(create.processing_time);
    expect(c.average_processing_time).toBe(Math.trunc(c.processing_time / c.num_requests));

    const l = after.get('query_overlay_list')!;
    expect(l.num_requests).toBe(list.num_requests + 2);
    expect(l.num_errors).toBe(list.num_errors + 1);
    expect(l.last_error).toMatch(/^400 overlay\.list: limit: /);

    expect(after.get('cmd_config_rollback')).toMatchObject({ num_requests: untouched.num_requests, num_errors: 0, last_error: '' });
  });
});

describe('a handler that throws', () => {
  it('is answered with service error 500 and counted, and later requests are served', async () => {
    const probe = new MicroService(nc, { name: 'probe', version: '1.0.0', id: 'p1', description: 'test', metadata: {}, queue: 'probe' });
    probe.addEndpoint({
      name: 'boom',
      subject: `${svc.prefix}.probe.boom`,
      metadata: {},
      handler: (m) => {
        if (m.string() === 'throw') throw new Error('handler failed\nwith detail');
        m.respond('fine');
      },
    });
    probe.start();
    try {
      const failed = await nc.request(`${svc.prefix}.probe.boom`, 'throw', { timeout: 5_000 });
      expect(failed.headers?.get('Nats-Service-Error-Code')).toBe('500');
      expect(failed.headers?.get('Nats-Service-Error')).toBe('handler failed with detail');
      expect((await nc.request(`${svc.prefix}.probe.boom`, 'ok', { timeout: 5_000 })).string()).toBe('fine');
      const body = await srv('$SRV.STATS.probe.p1');
      expectValid('STATS', body, '$SRV.STATS.probe.p1');
      expect((body['endpoints'] as EndpointStats[])[0]).toMatchObject({
        num_requests: 2,
        num_errors: 1,
        last_error: '500 handler failed with detail',
      });
    } finally {
      await probe.stop();
    }
  });
});
