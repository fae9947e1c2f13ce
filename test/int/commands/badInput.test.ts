/**
 * Every bad input of every command subject gets the right error code, an error-topic
 * record with the original payload, and the service keeps serving.
 */
import { symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { startTestService, type TestService } from '../../support/service.js';
import { collect, request, type Collector } from '../../support/collect.js';
import { requiredField, validCommands } from '../../support/commandTable.js';

let server: NatsServer;
let svc: TestService;
let errors: Collector;

beforeAll(async () => {
  server = await startNatsServer();
  svc = await startTestService(server);
  errors = await collect(svc.client, `${svc.prefix}.error.>`);
});

afterAll(async () => {
  errors?.stop();
  await svc?.stop();
  await server?.dispose();
});

const commands = Object.keys(validCommands);

interface Case {
  name: string;
  body: (cmd: string) => unknown;
  raw?: boolean;
  headers?: Record<string, string>;
  code: string;
  mentions: RegExp;
}

const twoMegabytes = 'x'.repeat(2 * 1024 * 1024);

const cases: Case[] = [
  { name: 'is not JSON', body: () => '{not json', raw: true, code: 'invalid_json', mentions: /not valid JSON/ },
  { name: 'is empty', body: () => '', raw: true, code: 'invalid_json', mentions: /empty/ },
  { name: 'is a JSON array', body: () => '[1,2]', raw: true, code: 'validation', mentions: /must be a JSON object, got an array/ },
  { name: 'is a JSON string', body: () => '"hello"', raw: true, code: 'validation', mentions: /must be a JSON object, got string/ },
  {
    name: 'misses its required field',
    body: (cmd) => {
      const b: Record<string, unknown> = { ...validCommands[cmd] };
      delete b[requiredField(cmd)];
      return b;
    },
    code: 'validation',
    mentions: /required|expected/,
  },
  {
    name: 'has a field of the wrong type',
    body: (cmd) => ({ ...validCommands[cmd], [requiredField(cmd)]: 12345 }),
    code: 'validation',
    mentions: /expected string|Invalid input/,
  },
  {
    name: 'has an unknown extra field',
    body: (cmd) => ({ ...validCommands[cmd], descripton_typo: 'x' }),
    code: 'validation',
    mentions: /unknown field 'descripton_typo'/,
  },
  { name: 'is 2 MB', body: (cmd) => ({ ...validCommands[cmd], padding: twoMegabytes }), code: 'validation', mentions: /limited to/ },
  {
    name: 'has an identity with an invalid UUID',
    body: (cmd) => ({ ...validCommands[cmd], identity: { message_id: 'not-a-uuid' } }),
    code: 'validation',
    mentions: /identity\.message_id: must be a UUID/,
  },
  {
    name: 'has an invalid UUID in X-Correlation-ID',
    body: (cmd) => validCommands[cmd],
    headers: { 'X-Correlation-ID': 'nope' },
    code: 'validation',
    mentions: /header X-Correlation-ID: must be a UUID/,
  },
];

describe('command intake', () => {
  for (const c of cases) {
    it.each(commands)(`rejects %s when the payload ${c.name}`, async (cmd) => {
      const [agg, action] = cmd.split('.') as [string, string];
      const subject = `${svc.prefix}.cmd.${agg}.${action}`;
      const before = errors.messages.length;
      const reply = await request(svc.client, subject, c.body(cmd), { raw: c.raw ?? false, headers: c.headers ?? {} });
      expect(reply.data['status']).toBe('error');
      expect(reply.data['code']).toBe(c.code);
      expect(String(reply.data['message'])).toMatch(c.mentions);
      await expect.poll(() => errors.messages.slice(before).find((m) => m.data['subject'] === subject)).toBeDefined();
      const record = errors.messages.slice(before).find((m) => m.data['subject'] === subject)!;
      expect(record.subject).toBe(`${svc.prefix}.error.cmd.${agg}.${action}`);
      expect(record.data['code']).toBe(c.code);
      const original = Buffer.from(String(record.data['payload_base64']), 'base64');
      const sent = c.raw ? Buffer.from(String(c.body(cmd))) : Buffer.from(JSON.stringify(c.body(cmd)));
      expect(original.equals(sent)).toBe(true);
    });
  }

  it.each([
    ['flake.create', { path: '../outside', description: 'x' }],
    ['flake.create', { path: '/etc/passwd', description: 'x' }],
    ['flake.check', { path: 'a/../../b' }],
    ['package.build', { flake_ref: 'path:../../etc', attribute: 'default' }],
    ['package.build', { flake_ref: 'path:flakes/a', attribute: 'default', output_path: '/tmp/out' }],
  ])('refuses %s with a path that leaves the workspace (%j)', async (cmd, body) => {
    const [agg, action] = cmd.split('.') as [string, string];
    const reply = await request(svc.client, `${svc.prefix}.cmd.${agg}.${action}`, body);
    expect(reply.data).toMatchObject({ status: 'error', code: 'forbidden' });
    expect(String(reply.data['message'])).toMatch(/(outside|inside) the workspace/);
  });

  it('refuses a flake path that leads through a symlink out of the workspace', async () => {
    await symlink(tmpdir(), join(svc.workspace, 'escape'));
    const reply = await request(svc.client, `${svc.prefix}.cmd.flake.create`, { path: 'escape/x', description: 'x' });
    expect(reply.data).toMatchObject({ status: 'error', code: 'forbidden' });
    expect(String(reply.data['message'])).toMatch(/symlink/);
  });

  it.each([
    ['flake.destroy', /flake accepts .*flake\.create/],
    ['rocket.launch', /aggregates are flake, package, module, overlay, config/],
    ['flake', /unknown command/],
    ['flake.create.extra', /unknown command/],
  ])('answers unknown_subject for %s', async (tail, mentions) => {
    const subject = `${svc.prefix}.cmd.${tail}`;
    const before = errors.messages.length;
    const reply = await request(svc.client, subject, validCommands['flake.create']);
    expect(reply.data).toMatchObject({ status: 'error', code: 'unknown_subject' });
    expect(String(reply.data['message'])).toMatch(mentions);
    await expect.poll(() => errors.messages.slice(before).some((m) => m.data['subject'] === subject)).toBe(true);
  });

  it('keeps serving after every bad input', async () => {
    const reply = await request(svc.client, 'health.cim-domain-nix', {});
    expect(reply.data['status']).toBe('healthy');
  });
});
