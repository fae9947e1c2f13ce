/**
 * The roles of deploy/nats-server.example.conf, enforced by a real nats-server: the
 * authorization block is taken from the example file as it is and the passwords come from
 * the environment, as the file documents. Also: a permission error the service's
 * connection meets is logged with its subject, and the connection lives on.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, errors, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { createConnectionSupervisor, type ConnectionSupervisor } from '../../../src/messaging/connection.js';
import { capturedLogger } from '../../support/capturedLogger.js';
import { deferred } from '../../support/deferred.js';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { ROOT } from '../../support/serviceProcess.js';

const PASSWORDS = {
  NIX_ADMIN_PASSWORD: 'admin-pw-1',
  NIX_DEVELOPER_PASSWORD: 'developer-pw-2',
  NIX_READER_PASSWORD: 'reader-pw-3',
  NIX_SERVICE_PASSWORD: 'service-pw-4',
} as const;

/** The `authorization { … }` block of the example file, braces matched. */
async function exampleAuthorization(): Promise<string> {
  const text = await readFile(join(ROOT, 'deploy', 'nats-server.example.conf'), 'utf8');
  const lines = text.split('\n').filter((l) => !l.trimStart().startsWith('#'));
  const body = lines.join('\n');
  const start = body.indexOf('authorization {');
  if (start < 0) throw new Error('the example has no authorization block');
  let depth = 0;
  for (let i = body.indexOf('{', start); i < body.length; i++) {
    if (body[i] === '{') depth++;
    else if (body[i] === '}' && --depth === 0) return body.slice(start, i + 1);
  }
  throw new Error('unbalanced braces in the example authorization block');
}

let server: NatsServer;
const clients: NatsConnection[] = [];
let responder: NatsConnection;

/** Each role's own inbox prefix, as the example file documents. */
const INBOX: Record<string, string> = {
  admin: '_INBOX_admin',
  developer: '_INBOX_developer',
  reader: '_INBOX_reader',
  'cim-domain-nix': '_INBOX_cim_domain_nix',
};

async function as(user: string, password: string, inboxPrefix = INBOX[user]): Promise<NatsConnection> {
  const nc = await connect({ servers: server.url, user, pass: password, ...(inboxPrefix ? { inboxPrefix } : {}) });
  clients.push(nc);
  return nc;
}

/** The next permission violation the client reports. */
function nextViolation(nc: NatsConnection): Promise<InstanceType<typeof errors.PermissionViolationError>> {
  const d = deferred<InstanceType<typeof errors.PermissionViolationError>>();
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'error' && s.error instanceof errors.PermissionViolationError) {
        d.resolve(s.error);
        return;
      }
    }
  })();
  return d.promise;
}

/** Received subjects at the responder, in order. */
const received: string[] = [];

beforeAll(async () => {
  Object.assign(process.env, PASSWORDS); // the server reads them, as in a deployment
  server = await startNatsServer({ jetstream: false, config: await exampleAuthorization() });
  // The service role answers commands, queries and health, like cim-domain-nix does.
  responder = await as('cim-domain-nix', PASSWORDS.NIX_SERVICE_PASSWORD);
  for (const subject of ['nix.cmd.>', 'nix.query.>', 'health.cim-domain-nix']) {
    responder.subscribe(subject, {
      callback: (_e, m) => {
        received.push(m.subject);
        m.respond(JSON.stringify({ status: 'ok', subject: m.subject }));
      },
    });
  }
  await responder.flush();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await server?.dispose();
});

describe('roles of deploy/nats-server.example.conf', () => {
  it('admin may send every command, including config.activate, and read anything', async () => {
    const admin = await as('admin', PASSWORDS.NIX_ADMIN_PASSWORD);
    const reply = await admin.request('nix.cmd.config.activate', '{}', { timeout: 5_000 });
    expect(reply.json<{ subject: string }>().subject).toBe('nix.cmd.config.activate');
    const sub = admin.subscribe('nix.cmd.>', { max: 1 });
    await admin.flush();
    expect(sub.isClosed()).toBe(false);
    sub.unsubscribe();
  });

  it('developer may send commands but not config.activate', async () => {
    const dev = await as('developer', PASSWORDS.NIX_DEVELOPER_PASSWORD);
    const reply = await dev.request('nix.cmd.flake.create', '{}', { timeout: 5_000 });
    expect(reply.json<{ subject: string }>().subject).toBe('nix.cmd.flake.create');

    const violation = nextViolation(dev);
    const before = received.length;
    dev.publish('nix.cmd.config.activate', '{}');
    dev.publish('nix.cmd.module.create', '{}'); // allowed: arrives, and arrives first
    const v = await violation;
    expect(v.operation).toBe('publish');
    expect(v.subject).toBe('nix.cmd.config.activate');
    await expect.poll(() => received.slice(before)).toEqual(['nix.cmd.module.create']);
  });

  it('developer may run queries and health, and read events, but not listen to commands', async () => {
    const dev = await as('developer', PASSWORDS.NIX_DEVELOPER_PASSWORD);
    expect((await dev.request('nix.query.flake.list', '{}', { timeout: 5_000 })).json<{ status: string }>().status).toBe('ok');
    expect((await dev.request('health.cim-domain-nix', '', { timeout: 5_000 })).json<{ status: string }>().status).toBe('ok');

    const events = dev.subscribe('nix.event.>');
    await dev.flush();
    responder.publish('nix.event.flake.created', '{"n":1}');
    for await (const m of events) {
      expect(m.subject).toBe('nix.event.flake.created');
      break;
    }

    const violation = nextViolation(dev);
    dev.subscribe('nix.cmd.>');
    const v = await violation;
    expect(v.operation).toBe('subscription');
    expect(v.subject).toBe('nix.cmd.>');
  });

  it('reader may run queries and read events but send no command', async () => {
    const reader = await as('reader', PASSWORDS.NIX_READER_PASSWORD);
    expect((await reader.request('nix.query.config.list', '{}', { timeout: 5_000 })).json<{ status: string }>().status).toBe('ok');

    const events = reader.subscribe('nix.event.>');
    await reader.flush();
    responder.publish('nix.event.package.built', '{"n":2}');
    for await (const m of events) {
      expect(m.subject).toBe('nix.event.package.built');
      break;
    }

    const violation = nextViolation(reader);
    const before = received.length;
    reader.publish('nix.cmd.flake.create', '{}');
    reader.publish('nix.query.flake.get', '{}');
    const v = await violation;
    expect(v.subject).toBe('nix.cmd.flake.create');
    await expect.poll(() => received.slice(before)).toEqual(['nix.query.flake.get']);
  });

  it('keeps host changes to admins: a developer may not roll a configuration back either', async () => {
    const dev = await as('developer', PASSWORDS.NIX_DEVELOPER_PASSWORD);
    for (const subject of ['nix.cmd.config.rollback', 'nix.cmd.config.activate']) {
      const violation = nextViolation(dev);
      dev.publish(subject, '{}');
      const v = await violation;
      expect(v.operation).toBe('publish');
      expect(v.subject).toBe(subject);
    }
    const admin = await as('admin', PASSWORDS.NIX_ADMIN_PASSWORD);
    expect((await admin.request('nix.cmd.config.rollback', '{}', { timeout: 5_000 })).json<{ subject: string }>().subject).toBe('nix.cmd.config.rollback');
  });

  it("gives every role its own inbox: none can listen to another's replies or the default _INBOX", async () => {
    const users: Array<[string, string]> = [
      ['admin', PASSWORDS.NIX_ADMIN_PASSWORD],
      ['developer', PASSWORDS.NIX_DEVELOPER_PASSWORD],
      ['reader', PASSWORDS.NIX_READER_PASSWORD],
      ['cim-domain-nix', PASSWORDS.NIX_SERVICE_PASSWORD],
    ];
    for (const [user, password] of users) {
      const nc = await as(user, password);
      // Its own inbox works: a request gets its reply.
      const ask = user === 'cim-domain-nix' ? 'nix.query.flake.list' : 'health.cim-domain-nix';
      expect((await nc.request(ask, '', { timeout: 5_000 })).json<{ status: string }>().status).toBe('ok');
      for (const other of ['_INBOX', ...Object.entries(INBOX).filter(([u]) => u !== user).map(([, p]) => p)]) {
        const violation = nextViolation(nc);
        nc.subscribe(`${other}.>`);
        const v = await violation;
        expect(v.operation, `${user} on ${other}`).toBe('subscription');
        expect(v.subject).toBe(`${other}.>`);
      }
    }
  });

  it('refuses a requester without its prefix its reply subscription', async () => {
    const reader = await as('reader', PASSWORDS.NIX_READER_PASSWORD, '_INBOX');
    const violation = nextViolation(reader);
    const reply = reader.request('health.cim-domain-nix', '', { timeout: 2_000 });
    expect((await violation).operation).toBe('subscription');
    await expect(reply).rejects.toBeDefined();
  });

  it('refuses a wrong password for a role', async () => {
    await expect(connect({ servers: server.url, user: 'developer', pass: 'nope' })).rejects.toBeInstanceOf(errors.AuthorizationError);
  });

  describe("the service's own connection", () => {
    let sup: ConnectionSupervisor;
    afterAll(async () => sup?.stop());

    it('logs a permission error with its subject and stays connected', async () => {
      const { logger, lines } = capturedLogger();
      const loaded = loadConfig([], {
        NATS_URL: server.url,
        NATS_USER: 'reader',
        NATS_PASSWORD: PASSWORDS.NIX_READER_PASSWORD,
        NATS_INBOX_PREFIX: INBOX['reader']!,
        NIX_WORKSPACE: '/tmp/cim-unused-ws',
      });
      if (!loaded.ok) throw new Error(loaded.message);
      sup = createConnectionSupervisor(loaded.config, logger);
      const details: Record<string, unknown>[] = [];
      sup.onState((_s, detail) => {
        if (detail?.['permission_error']) details.push(detail);
      });
      const nc = await sup.ready();

      nc.publish('nix.event.flake.created', '{}'); // a reader may not publish events
      await expect
        .poll(() => lines.find((l) => l['component'] === 'connection' && l['subject'] === 'nix.event.flake.created'))
        .toMatchObject({ level: 'warn', operation: 'publish', subject: 'nix.event.flake.created' });
      expect(details).toEqual([{ permission_error: { operation: 'publish', subject: 'nix.event.flake.created' } }]);

      // Still connected and still working.
      expect(sup.state).toBe('connected');
      const reply = await nc.request('nix.query.flake.list', '{}', { timeout: 5_000 });
      expect(reply.json<{ status: string }>().status).toBe('ok');
      expect(sup.state).toBe('connected');
    });
  });
});
