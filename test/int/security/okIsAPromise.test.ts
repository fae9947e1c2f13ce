/**
 * `ok` is a promise (SPEC §11): a message id reused by another aggregate's command never
 * makes the service answer `ok` for an event it did not store; input that can never render
 * is refused before a fact is stored; one directory is one aggregate; hostile payload shapes
 * (NUL, depth, `__proto__`) are refused by name; a rejected command near the payload limit
 * is still recorded on the error topic.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namedId } from '../../../src/domain/ids.js';
import { dedupKey } from '../../../src/runtime/aggregateSlot.js';
import { subjectsFor } from '../../../src/domain/subjects.js';
import { collect, request, type Collector } from '../../support/collect.js';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { startTestService, uniquePrefix, type TestService } from '../../support/service.js';

let server: NatsServer;
let workspace: string;
const running: TestService[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  workspace = await mkdtemp(join(tmpdir(), 'cim-ok-'));
});

afterAll(async () => {
  for (const s of running) await s.stop().catch(() => undefined);
  await server?.dispose();
  await rm(workspace, { recursive: true, force: true });
});

async function start(prefix: string, ws = workspace): Promise<TestService> {
  const svc = await startTestService(server, { prefix, workspace: ws });
  running.push(svc);
  return svc;
}

async function stop(svc: TestService): Promise<void> {
  running.splice(running.indexOf(svc), 1);
  await svc.stop();
}

const send = (svc: TestService, command: string, body: unknown, headers?: Record<string, string>) =>
  request(svc.client, `${svc.prefix}.cmd.${command}`, body, headers ? { headers } : {});
const query = (svc: TestService, q: string, body: unknown) => request(svc.client, `${svc.prefix}.query.${q}`, body);
const moduleBody = (n: number) => ({ options: {}, config: { port: n }, imports: [] });

/** How many events the store holds for one aggregate. */
async function storedCount(svc: TestService, kind: string, id: string): Promise<number> {
  const jsm = await jetstreamManager(svc.client);
  const subjects = subjectsFor(svc.prefix);
  const info = await jsm.streams.info(subjects.eventStream, { subjects_filter: subjects.store(kind, id) });
  return info.state.subjects?.[subjects.store(kind, id)] ?? 0;
}

describe('a message id reused by another aggregate', () => {
  const variants: Array<{ name: string; first: [string, Record<string, unknown>]; second: [string, Record<string, unknown>]; via: 'payload' | 'Nats-Msg-Id' | 'X-Message-ID' }> = [
    { name: 'module a then module b, id in the payload', first: ['module.create', { name: 'a', module: moduleBody(1) }], second: ['module.create', { name: 'b', module: moduleBody(2) }], via: 'payload' },
    { name: 'module then overlay, id in Nats-Msg-Id', first: ['module.create', { name: 'm', module: moduleBody(1) }], second: ['overlay.create', { name: 'o', overlay: { overrides: {}, additions: {} } }], via: 'Nats-Msg-Id' },
    {
      name: 'config then module, id in X-Message-ID',
      first: ['config.create', { name: 'c', configuration: { hostname: 'c' } }],
      second: ['module.create', { name: 'n', module: moduleBody(3) }],
      via: 'X-Message-ID',
    },
  ];

  for (const v of variants) {
    it(`stores both commands' events (${v.name}), also across a restart`, async () => {
      const prefix = uniquePrefix('dup');
      let svc = await start(prefix);
      const id = randomUUID();
      const sendWith = (cmd: [string, Record<string, unknown>]) =>
        v.via === 'payload' ? send(svc, cmd[0], { ...cmd[1], identity: { message_id: id } }) : send(svc, cmd[0], cmd[1], { [v.via]: id });
      const a = await sendWith(v.first);
      const b = await sendWith(v.second);
      expect(a.data).toMatchObject({ status: 'ok', version: 1 });
      expect(b.data).toMatchObject({ status: 'ok', version: 1 });
      const kindB = v.second[0].split('.')[0]!;
      expect(await storedCount(svc, kindB, String(b.data['aggregate_id']))).toBe(1);
      await stop(svc);

      svc = await start(prefix);
      // b exists after the restart: a create is refused, an update is version 2.
      const again = await send(svc, v.second[0], v.second[1]);
      expect(again.data).toMatchObject({ status: 'error', code: 'already_exists' });
      await stop(svc);
    });
  }

  it('answers conflict, never ok, when the store holds another event under its dedup key', async () => {
    const prefix = uniquePrefix('dupkey');
    const svc = await start(prefix);
    const subjects = subjectsFor(prefix);
    const id = randomUUID();
    const target = namedId('module', 'victim');
    // Something else already sits in the stream under the key this command's first event will use.
    const h = natsHeaders();
    h.set('Nats-Msg-Id', dedupKey(target, id, 1));
    h.set('X-Event-ID', randomUUID());
    await svc.client.request(subjects.store('module', namedId('module', 'elsewhere')), JSON.stringify({ planted: true }), { headers: h, timeout: 5_000 });
    const reply = await send(svc, 'module.create', { name: 'victim', module: moduleBody(1), identity: { message_id: id } });
    expect(reply.data).toMatchObject({ status: 'error', code: 'conflict' });
    expect(await storedCount(svc, 'module', target)).toBe(0);
    await stop(svc);
  });
});

describe('input that can never render', () => {
  let svc: TestService;
  let errors: Collector;
  beforeAll(async () => {
    svc = await start(uniquePrefix('render'));
    errors = await collect(svc.client, `${svc.prefix}.error.>`);
  });
  afterAll(() => errors.stop());

  const cases: Array<{ name: string; command: string; body: Record<string, unknown>; field: string }> = [
    { name: 'an option type that does not close', command: 'module.create', body: { name: 'opt1', module: { options: { x: { type: 'listOf (str' } } } }, field: 'module.options.x.type' },
    { name: 'an option type that closes what it never opened', command: 'module.create', body: { name: 'opt2', module: { options: { x: { type: 'listOf str)' } } } }, field: 'module.options.x.type' },
    { name: 'an option type with an empty group', command: 'module.create', body: { name: 'opt3', module: { options: { x: { type: 'listOf ()' } } } }, field: 'module.options.x.type' },
    { name: 'a raw expression that does not parse', command: 'module.create', body: { name: 'raw1', module: { config: { a: { b: { $nix: '1 +' } } } } }, field: 'module.config.a.b' },
    { name: 'a raw expression with a dangling let', command: 'module.create', body: { name: 'raw2', module: { config: { c: { $nix: 'let x = 1; in' } } } }, field: 'module.config.c' },
    { name: 'a raw option default that does not parse', command: 'module.create', body: { name: 'raw3', module: { options: { o: { default: { $nix: 'if true then 1' } } } } }, field: 'module.options.o.default' },
    { name: 'a number Nix reads as an invalid float', command: 'module.create', body: { name: 'tiny', module: { config: { x: [1, 5e-324] } } }, field: 'module.config.x.1' },
    { name: 'an overlay name in overrides and additions', command: 'overlay.create', body: { name: 'clash', overlay: { overrides: { hello: {} }, additions: { hello: 'x' } } }, field: 'overlay.overrides.hello' },
    { name: 'a raw overlay addition that does not parse', command: 'overlay.create', body: { name: 'rawov', overlay: { additions: { tool: { $nix: 'prev.hello //' } } } }, field: 'overlay.additions.tool' },
    { name: 'a raw value in a configuration specialisation', command: 'config.create', body: { name: 'rawcfg', configuration: { hostname: 'h', specialisations: { s: { a: { $nix: '[ 1' } } } } }, field: 'configuration' },
  ];

  for (const c of cases) {
    it(`refuses ${c.name} with validation naming the field, and stores nothing`, async () => {
      const reply = await send(svc, c.command, c.body);
      expect(reply.data).toMatchObject({ status: 'error', code: 'validation' });
      expect(String(reply.data['message'])).toContain(c.field);
      const kind = c.command.split('.')[0]!;
      const id = namedId(kind as 'module', String(c.body['name']));
      expect(await storedCount(svc, kind, id)).toBe(0);
      await expect.poll(() => errors.messages.some((m) => m.data['code'] === 'validation' && String(m.data['reason']).includes(c.field))).toBe(true);
      // A retry with the same body is refused again; the aggregate does not exist.
      const after = await send(svc, c.command.replace('create', 'update'), c.body);
      expect(after.data['status']).toBe('error');
    });
  }

  it('keeps the version and the file of a module whose update cannot render', async () => {
    expect((await send(svc, 'module.create', { name: 'keep', module: moduleBody(1) })).data).toMatchObject({ status: 'ok', version: 1 });
    const refused = await send(svc, 'module.update', { name: 'keep', module: { config: { x: { $nix: '(' } } } });
    expect(refused.data).toMatchObject({ status: 'error', code: 'validation' });
    expect((await send(svc, 'module.update', { name: 'keep', module: moduleBody(2) })).data).toMatchObject({ status: 'ok', version: 2 });
    await expect.poll(() => readFile(join(workspace, 'modules', 'keep.nix'), 'utf8').catch(() => ''), { timeout: 15_000 }).toContain('port = 2;');
  });

  it('accepts a raw expression that parses', async () => {
    const reply = await send(svc, 'module.create', { name: 'rawok', module: { config: { x: { $nix: 'builtins.length [ 1 2 ]' } } } });
    expect(reply.data).toMatchObject({ status: 'ok', version: 1 });
  });
});

describe('hostile payload shapes', () => {
  let svc: TestService;
  let errors: Collector;
  beforeAll(async () => {
    svc = await start(uniquePrefix('shape'));
    errors = await collect(svc.client, `${svc.prefix}.error.>`);
  });
  afterAll(() => errors.stop());

  const deep = (levels: number) => {
    let v: unknown = 1;
    for (let i = 0; i < levels; i++) v = { a: v };
    return v;
  };
  const cases: Array<{ name: string; command: string; body: unknown; field: RegExp; raw?: string }> = [
    { name: 'a NUL in a flake description', command: 'flake.create', body: { path: 'nul', description: 'a\u0000b', template: 'minimal' }, field: /description/ },
    { name: 'a NUL deep in a module config', command: 'module.create', body: { name: 'n1', module: { config: { a: ['x', 'y\u0000'] } } }, field: /module\.config\.a\.1/ },
    { name: 'a NUL in a key', command: 'module.create', body: { name: 'n2', module: { config: { 'a\u0000': 1 } } }, field: /module\.config/ },
    { name: 'a NUL in a name', command: 'overlay.delete', body: { name: 'x\u0000y' }, field: /name/ },
    { name: 'JSON nested 5,000 deep', command: 'module.create', body: null, raw: '{"name":"deep","module":{"config":' + '{"a":'.repeat(5000) + '1' + '}'.repeat(5000) + '}}', field: /module\.config/ },
    { name: 'JSON nested 100,000 deep (raw)', command: 'config.create', body: null, raw: '{"name":"d","configuration":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}', field: /configuration/ },
    { name: '__proto__ in flake inputs', command: 'flake.create', body: null, raw: '{"path":"p","description":"d","template":"minimal","inputs":{"__proto__":"path:./x"}}', field: /inputs\.__proto__/ },
    { name: '__proto__ in a module config', command: 'module.create', body: null, raw: '{"name":"pp","module":{"config":{"a":{"__proto__":{"polluted":true}}}}}', field: /module\.config\.a\.__proto__/ },
    { name: '__proto__ at the top', command: 'module.delete', body: null, raw: '{"name":"x","__proto__":{"name":"y"}}', field: /__proto__/ },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} with validation naming the field`, async () => {
      const reply = c.raw !== undefined
        ? await request(svc.client, `${svc.prefix}.cmd.${c.command}`, c.raw, { raw: true })
        : await send(svc, c.command, c.body);
      expect(reply.data).toMatchObject({ status: 'error', code: 'validation' });
      expect(String(reply.data['message'])).toMatch(c.field);
      await expect.poll(() => errors.messages.some((m) => m.data['subject'] === `${svc.prefix}.cmd.${c.command}` && m.data['code'] === 'validation')).toBe(true);
    });
  }

  it('states the depth limit: 64 levels pass, 65 do not', async () => {
    const ok = await send(svc, 'module.create', { name: 'deep62', module: { config: deep(62) as Record<string, unknown> } });
    expect(ok.data['code']).not.toBe('validation');
    const no = await send(svc, 'module.create', { name: 'deep63', module: { config: deep(63) as Record<string, unknown> } });
    expect(no.data).toMatchObject({ status: 'error', code: 'validation' });
  });

  it('refuses the same shapes in queries', async () => {
    const reply = await request(svc.client, `${svc.prefix}.query.module.get`, '{"name":"x","__proto__":{}}', { raw: true });
    expect(reply.data).toMatchObject({ status: 'error', code: 'validation' });
  });
});

describe('one directory, one aggregate', () => {
  it('addresses a flake by its workspace-relative path however it is written', async () => {
    const ws = await mkdtemp(join(tmpdir(), 'cim-alias-'));
    const svc = await start(uniquePrefix('alias'), ws);
    const created = await send(svc, 'flake.create', { path: 'alias', description: 'one', template: 'minimal' });
    expect(created.data).toMatchObject({ status: 'ok' });
    for (const path of [join(svc.config.workspace, 'alias'), './alias/', 'alias//', 'alias/.', `${svc.config.workspace}//alias/`]) {
      const again = await send(svc, 'flake.create', { path, description: 'two', template: 'minimal' });
      expect(again.data, path).toMatchObject({ status: 'error', code: 'already_exists' });
      const got = await query(svc, 'flake.get', { path, min_sequence: 1 });
      expect((got.data['flake'] as Record<string, unknown> | undefined)?.['flake_id'], path).toBe(created.data['aggregate_id']);
    }
    await stop(svc);
    await rm(ws, { recursive: true, force: true });
  });
});

describe('the error topic near the payload limit', () => {
  it('records a rejected command whose copy would not fit, truncated, with its size', async () => {
    const small = await startNatsServer({ config: 'max_payload: 1MB' });
    const svc = await startTestService(small, { prefix: uniquePrefix('big') });
    const errors = await collect(svc.client, `${svc.prefix}.error.>`);
    const filler = 'x'.repeat(1_000_000);
    const payload = JSON.stringify({ name: 'big', module: {}, bogus: filler });
    const reply = await request(svc.client, `${svc.prefix}.cmd.module.create`, payload, { raw: true });
    expect(reply.data).toMatchObject({ status: 'error', code: 'validation' });
    await expect.poll(() => errors.messages.find((m) => m.data['subject'] === `${svc.prefix}.cmd.module.create`)).toBeDefined();
    const record = errors.messages.find((m) => m.data['subject'] === `${svc.prefix}.cmd.module.create`)!;
    expect(record.data['payload_bytes']).toBe(Buffer.byteLength(payload));
    expect(record.data['payload_truncated']).toBe(true);
    const kept = Buffer.from(String(record.data['payload_base64']), 'base64').toString();
    expect(payload.startsWith(kept)).toBe(true);
    expect(kept.length).toBeGreaterThan(500_000);
    errors.stop();
    await svc.stop();
    await small.dispose();
  });
});
