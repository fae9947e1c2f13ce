/**
 * The connection supervisor against real nats-servers: every authentication method, TLS,
 * and auth + TLS together; refused credentials and unusable TLS material end `ready()` with
 * a terminal error after one attempt.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createUser } from '@nats-io/jwt';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../../src/config.js';
import { createConnectionSupervisor, type ConnectionSupervisor } from '../../../src/messaging/connection.js';
import { ConnectionFailedError } from '../../../src/errors.js';
import { capturedLogger } from '../../support/capturedLogger.js';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { makeOperatorSetup, type OperatorSetup } from '../../support/operator.js';
import { makeTlsFixtures, type TlsFixtures } from '../../support/tls.js';

function configFor(env: Record<string, string>): Config {
  const loaded = loadConfig([], { NIX_WORKSPACE: '/tmp/cim-unused-ws', INSPECTOR_PORT: '0', ...env }, '/tmp');
  if (!loaded.ok) throw new Error(loaded.message);
  return loaded.config;
}

const supervisors: ConnectionSupervisor[] = [];
const servers: NatsServer[] = [];

function supervise(env: Record<string, string>) {
  const { logger, lines } = capturedLogger();
  const sup = createConnectionSupervisor(configFor(env), logger, { random: () => 0.5 });
  supervisors.push(sup);
  return { sup, lines };
}

async function server(config: string): Promise<NatsServer> {
  const s = await startNatsServer({ config, jetstream: false });
  servers.push(s);
  return s;
}

/** Prove the connection really works: a request to ourselves. */
async function roundTrip(nc: NatsConnection): Promise<string> {
  const sub = nc.subscribe('cim.test.echo', { callback: (_e, m) => void m.respond(m.data) });
  const reply = await nc.request('cim.test.echo', 'ping', { timeout: 5_000 });
  sub.unsubscribe();
  return reply.string();
}

async function expectTerminal(sup: ConnectionSupervisor, code: string, message: RegExp): Promise<void> {
  const err = await sup.ready().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectionFailedError);
  const failure = err as ConnectionFailedError;
  expect(failure.code).toBe(code);
  expect(failure.terminal).toBe(true);
  expect(failure.message).toMatch(message);
  expect(sup.state).toBe('failed');
}

const connectingLines = (lines: Record<string, unknown>[]) =>
  lines.filter((l) => l['component'] === 'connection' && l['state'] === 'connecting').length;

afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((s) => s.stop()));
});
afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.dispose()));
});

describe('connection: user and password', () => {
  let s: NatsServer;
  beforeAll(async () => {
    s = await server('authorization { user: "svc", password: "s3cret-pw" }');
  });

  it('connects with the right user and password', async () => {
    const { sup, lines } = supervise({ NATS_URL: s.url, NATS_USER: 'svc', NATS_PASSWORD: 's3cret-pw' });
    const nc = await sup.ready();
    expect(await roundTrip(nc)).toBe('ping');
    expect(sup.state).toBe('connected');
    expect(sup.server).toBe(s.url);
    expect(lines.some((l) => l['state'] === 'connected' && l['msg'] === `NATS connected to ${s.url}`)).toBe(true);
  });

  it('fails at once, without retrying, on a wrong password', async () => {
    const { sup, lines } = supervise({ NATS_URL: s.url, NATS_USER: 'svc', NATS_PASSWORD: 'wrong' });
    await expectTerminal(sup, 'auth', /refused the credentials.*NATS_USER\/NATS_PASSWORD/);
    expect(connectingLines(lines)).toBe(1);
    expect(lines.some((l) => l['level'] === 'error' && l['state'] === 'failed')).toBe(true);
  });

  it('fails at once when the server wants credentials and none are given', async () => {
    const { sup } = supervise({ NATS_URL: s.url });
    await expectTerminal(sup, 'auth', /refused the credentials/);
  });
});

describe('connection: token', () => {
  let s: NatsServer;
  beforeAll(async () => {
    s = await server('authorization { token: "t0ken-abc" }');
  });

  it('connects with the right token', async () => {
    const { sup } = supervise({ NATS_URL: s.url, NATS_TOKEN: 't0ken-abc' });
    expect(await roundTrip(await sup.ready())).toBe('ping');
  });

  it('fails at once on a wrong token', async () => {
    const { sup, lines } = supervise({ NATS_URL: s.url, NATS_TOKEN: 'nope' });
    await expectTerminal(sup, 'auth', /refused the credentials/);
    expect(connectingLines(lines)).toBe(1);
  });
});

describe('connection: nkey', () => {
  const user = createUser();
  const seed = new TextDecoder().decode(user.getSeed());
  let s: NatsServer;
  beforeAll(async () => {
    s = await server(`authorization { users: [ { nkey: "${user.getPublicKey()}" } ] }`);
  });

  it('connects with the seed given as a string', async () => {
    const { sup } = supervise({ NATS_URL: s.url, NATS_NKEY_SEED: seed });
    expect(await roundTrip(await sup.ready())).toBe('ping');
  });

  it('connects with the seed given as a file path', async () => {
    const file = join(s.dir, 'user.nk');
    await writeFile(file, seed + '\n', { mode: 0o600 });
    const { sup } = supervise({ NATS_URL: s.url, NATS_NKEY_SEED: file });
    expect(await roundTrip(await sup.ready())).toBe('ping');
  });

  it('fails at once with a seed the server does not know', async () => {
    const stranger = new TextDecoder().decode(createUser().getSeed());
    const { sup } = supervise({ NATS_URL: s.url, NATS_NKEY_SEED: stranger });
    await expectTerminal(sup, 'auth', /refused the credentials/);
  });

  it('fails at once when the seed file holds no seed', async () => {
    const file = join(s.dir, 'bad.nk');
    await writeFile(file, 'not a seed\n');
    const { sup } = supervise({ NATS_URL: s.url, NATS_NKEY_SEED: file });
    await expectTerminal(sup, 'auth', /NATS_NKEY_SEED does not hold a valid nkey user seed/);
  });
});

describe('connection: creds (operator mode)', () => {
  let op: OperatorSetup;
  let s: NatsServer;
  beforeAll(async () => {
    op = await makeOperatorSetup();
    s = await server(op.serverConfig);
  });

  it('connects with a creds file', async () => {
    const { sup } = supervise({ NATS_URL: s.url, NATS_CREDS: op.credsFile });
    expect(await roundTrip(await sup.ready())).toBe('ping');
  });

  it('fails at once with creds of an account the server does not know', async () => {
    const { sup, lines } = supervise({ NATS_URL: s.url, NATS_CREDS: op.strangerCredsFile });
    await expectTerminal(sup, 'auth', /refused the credentials/);
    expect(connectingLines(lines)).toBe(1);
  });

  it('fails at once when the creds file is not a creds file', async () => {
    const { sup } = supervise({ NATS_URL: s.url, NATS_CREDS: op.garbageCredsFile });
    await expectTerminal(sup, 'auth', /is not a valid \.creds file/);
  });
});

describe('connection: TLS', () => {
  let tls: TlsFixtures;
  let plain: NatsServer;
  let mutual: NatsServer;
  let op: OperatorSetup;
  let opTls: NatsServer;
  beforeAll(async () => {
    tls = await makeTlsFixtures();
    op = await makeOperatorSetup();
    plain = await server(tls.serverBlock());
    mutual = await server(`${tls.serverBlock({ verify: true })}\nauthorization { user: "svc", password: "tls-pw" }`);
    opTls = await server(`${tls.serverBlock()}\n${op.serverConfig}`);
  });

  it('connects over TLS, verifying the server against the CA', async () => {
    const { sup } = supervise({ NATS_URL: plain.url, NATS_TLS_CA: tls.caFile });
    const nc = await sup.ready();
    expect(await roundTrip(nc)).toBe('ping');
    expect(nc.info?.tls_required).toBe(true);
    expect(sup.server).toBe(plain.url.replace('nats://', 'tls://'));
  });

  it('connects with user/password and a client certificate together (mutual TLS)', async () => {
    const { sup } = supervise({
      NATS_URL: mutual.url,
      NATS_USER: 'svc',
      NATS_PASSWORD: 'tls-pw',
      NATS_TLS_CA: tls.caFile,
      NATS_TLS_CERT: tls.clientCert,
      NATS_TLS_KEY: tls.clientKey,
    });
    expect(await roundTrip(await sup.ready())).toBe('ping');
  });

  it('connects with a creds file over TLS', async () => {
    const { sup } = supervise({ NATS_URL: opTls.url, NATS_CREDS: op.credsFile, NATS_TLS_CA: tls.caFile });
    expect(await roundTrip(await sup.ready())).toBe('ping');
  });

  it('refuses a wrong password over mutual TLS, once', async () => {
    const { sup, lines } = supervise({
      NATS_URL: mutual.url,
      NATS_USER: 'svc',
      NATS_PASSWORD: 'wrong',
      NATS_TLS_CA: tls.caFile,
      NATS_TLS_CERT: tls.clientCert,
      NATS_TLS_KEY: tls.clientKey,
    });
    await expectTerminal(sup, 'auth', /refused the credentials/);
    expect(connectingLines(lines)).toBe(1);
  });

  it('fails at once when the server certificate is not signed by the configured CA', async () => {
    const { sup, lines } = supervise({ NATS_URL: plain.url, NATS_TLS_CA: tls.otherCaFile });
    await expectTerminal(sup, 'tls', /TLS with the NATS server failed/);
    expect(connectingLines(lines)).toBe(1);
  });

  it('fails at once when the CA file is not a certificate', async () => {
    const bad = join(tls.dir, 'garbage.pem');
    await writeFile(bad, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
    const { sup } = supervise({ NATS_URL: plain.url, NATS_TLS_CA: bad });
    await expectTerminal(sup, 'tls', /NATS_TLS_CA: .*garbage\.pem is not a PEM certificate/);
  });

  it('fails at once when the key does not match the client certificate', async () => {
    const { sup } = supervise({
      NATS_URL: mutual.url,
      NATS_USER: 'svc',
      NATS_PASSWORD: 'tls-pw',
      NATS_TLS_CA: tls.caFile,
      NATS_TLS_CERT: tls.clientCert,
      NATS_TLS_KEY: tls.serverKey,
    });
    await expectTerminal(sup, 'tls', /TLS files are not usable/);
  });

  it('fails (bounded) when the server wants a client certificate and none is given', async () => {
    const { sup } = supervise({
      NATS_URL: mutual.url,
      NATS_USER: 'svc',
      NATS_PASSWORD: 'tls-pw',
      NATS_TLS_CA: tls.caFile,
      NATS_RECONNECT_MAX_ATTEMPTS: '2',
      NATS_RECONNECT_INITIAL_MS: '10',
      NATS_CONNECT_TIMEOUT_MS: '1000',
    });
    const err = (await sup.ready().catch((e: unknown) => e)) as ConnectionFailedError;
    expect(err).toBeInstanceOf(ConnectionFailedError);
    expect(err.terminal).toBe(true);
    expect(['tls', 'attempts_exhausted']).toContain(err.code);
    expect(sup.state).toBe('failed');
  });
});
