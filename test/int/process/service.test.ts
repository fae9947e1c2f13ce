/**
 * The service as a real child process (`src/main.ts`, as `npm start` runs it) against real
 * nats-servers: bad configuration, refused credentials, an unreachable URL and bad TLS
 * files each end with a clear message and a non-zero exit, never a hang; auth + TLS
 * together; start before the server, crash and restart of the server (measured); the
 * service role of the example server config; SIGTERM drains and exits 0.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { connectionState, killAllServiceProcesses, ROOT, startServiceProcess, type ServiceProcess } from '../../support/serviceProcess.js';
import { makeTlsFixtures } from '../../support/tls.js';

const servers: NatsServer[] = [];
const clients: NatsConnection[] = [];
const procs: ServiceProcess[] = [];

async function server(options: Parameters<typeof startNatsServer>[0] = {}): Promise<NatsServer> {
  const s = await startNatsServer(options);
  servers.push(s);
  return s;
}

async function service(env: Record<string, string>, args: string[] = []): Promise<ServiceProcess> {
  const p = await startServiceProcess({ env, args });
  procs.push(p);
  return p;
}

async function client(options: NodeConnectionOptions): Promise<NatsConnection> {
  const nc = await connect(options);
  clients.push(nc);
  return nc;
}

async function health(nc: NatsConnection): Promise<Record<string, unknown>> {
  const reply = await nc.request('health.cim-domain-nix', '', { timeout: 5_000 });
  return reply.json<Record<string, unknown>>();
}

const running = (l: { msg?: string }) => l.msg === 'cim-domain-nix is running';

afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.stop()));
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
});
afterAll(async () => {
  await killAllServiceProcesses();
  await Promise.all(servers.splice(0).map((s) => s.dispose()));
});

describe('service process: failures end with a message and an exit code', () => {
  it('exits 2 on a bad configuration, naming every bad setting and its source', async () => {
    const p = await service(
      {
        NATS_URL: 'http://not nats',
        NIX_DOMAIN_PREFIX: 'nix.prod',
        INSPECTOR_PORT: '70000',
        LOG_LEVEL: 'loud',
        NATS_RECONNECT_FACTOR: 'fast',
        NATS_RECONNECT_MAX_ATTEMPTS: '0',
        NATS_TLS_CA: '/nonexistent/ca.pem',
        NATS_PASSWORD: 'pw-without-user',
      },
      [],
    );
    const { code } = await p.waitForExit();
    expect(code).toBe(2);
    for (const name of [
      'NATS_URL',
      'NIX_DOMAIN_PREFIX',
      'INSPECTOR_PORT',
      'LOG_LEVEL',
      'NATS_RECONNECT_FACTOR',
      'NATS_RECONNECT_MAX_ATTEMPTS',
      'NATS_TLS_CA',
      'NATS_PASSWORD',
    ]) {
      expect(p.stderr).toContain(name);
    }
    expect(p.stderr).toMatch(/Invalid configuration: 8 problems/);
    expect(p.stderr).toContain('/nonexistent/ca.pem (no such file)');
    expect(p.stderr).not.toContain('pw-without-user'); // secrets are not echoed
  });

  it('exits 2 naming bad keys of the configuration file', async () => {
    const dir = await (await import('node:fs/promises')).mkdtemp(join((await import('node:os')).tmpdir(), 'cim-cfg-'));
    const file = join(dir, 'svc.json');
    await writeFile(file, JSON.stringify({ nats: { url: 'nats://127.0.0.1:1', reconect: {} }, inspector: { port: 'eighty' } }));
    const p = await service({ INSPECTOR_PORT: '' }, ['--config', file]); // empty = unset: the file's value counts
    const { code } = await p.waitForExit();
    expect(code).toBe(2);
    expect(p.stderr).toContain(`nats.reconect [file ${file}]: got an unknown key; expected one of`);
    expect(p.stderr).toContain('(did you mean nats.reconnect?)');
    expect(p.stderr).toContain(`inspector.port [file ${file}]: got "eighty"`);
  });

  it('exits 1 when the server refuses the credentials', async () => {
    const s = await server({ jetstream: false, config: 'authorization { user: "svc", password: "right" }' });
    const p = await service({ NATS_URL: s.url, NATS_USER: 'svc', NATS_PASSWORD: 'wrong' });
    const { code } = await p.waitForExit();
    expect(code).toBe(1);
    expect(p.stderr).toMatch(/cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: the NATS server refused the credentials/);
    expect(p.states().filter((st) => st === 'connecting')).toHaveLength(1);
  });

  it('exits 1 when the server has no JetStream, naming the start-up step that failed', async () => {
    const s = await server({ jetstream: false });
    const p = await service({ NATS_URL: s.url });
    const { code } = await p.waitForExit();
    expect(code).toBe(1);
    expect(p.stderr).toMatch(/the service could not start: opening the event stream \S+_EVENTS: .*jetstream/i);
  });

  it('exits 1 when the URL stays unreachable past the attempt limit', async () => {
    const s = await server({ jetstream: false });
    await s.stop(); // a port where nothing listens
    const p = await service({ NATS_URL: s.url, NATS_RECONNECT_MAX_ATTEMPTS: '4', NATS_RECONNECT_INITIAL_MS: '20' });
    const { code } = await p.waitForExit();
    expect(code).toBe(1);
    expect(p.stderr).toMatch(/cannot connect to NATS .*gave up after 4 connection attempt\(s\)/);
    expect(p.states().filter((st) => st === 'backing_off')).toHaveLength(3);
  });

  it('exits 1 when a TLS file is not usable, and 2 when it does not exist', async () => {
    const tls = await makeTlsFixtures();
    const s = await server({ jetstream: false, config: tls.serverBlock() });
    const garbage = join(tls.dir, 'garbage.pem');
    await writeFile(garbage, 'not a certificate\n');
    const bad = await service({ NATS_URL: s.url, NATS_TLS_CA: garbage });
    expect((await bad.waitForExit()).code).toBe(1);
    expect(bad.stderr).toMatch(/NATS_TLS_CA: .*garbage\.pem is not a PEM certificate/);

    const missing = await service({ NATS_URL: s.url, NATS_TLS_CA: join(tls.dir, 'missing.pem') });
    expect((await missing.waitForExit()).code).toBe(2);
    expect(missing.stderr).toMatch(/NATS_TLS_CA \[environment\]: got .*missing\.pem \(no such file\)/);
  });
});

describe('service process: connected', () => {
  it('connects with user/password and mutual TLS together, answers health, and exits 0 on SIGTERM', async () => {
    const tls = await makeTlsFixtures();
    const s = await server({ config: `${tls.serverBlock({ verify: true })}\nauthorization { user: "svc", password: "pw" }` });
    const p = await service({
      NATS_URL: s.url,
      NATS_USER: 'svc',
      NATS_PASSWORD: 'pw',
      NATS_TLS_CA: tls.caFile,
      NATS_TLS_CERT: tls.clientCert,
      NATS_TLS_KEY: tls.clientKey,
    });
    await p.waitForLog(running, 30_000);
    const nc = await client({
      servers: s.url,
      user: 'svc',
      pass: 'pw',
      tls: { caFile: tls.caFile, certFile: tls.clientCert, keyFile: tls.clientKey },
    });
    const h = await health(nc);
    expect(h['status']).toBe('healthy');
    expect(h['nats']).toMatchObject({ state: 'connected', server: s.url.replace('nats://', 'tls://') });

    p.signal('SIGTERM');
    const { code } = await p.waitForExit();
    expect(code).toBe(0);
    expect(p.states().at(-1)).toBe('stopped');
  });

  it('runs as the service role of deploy/nats-server.example.conf', async () => {
    const text = await readFile(join(ROOT, 'deploy', 'nats-server.example.conf'), 'utf8');
    const body = text
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('#'))
      .join('\n');
    const start = body.indexOf('authorization {');
    let depth = 0;
    let end = -1;
    for (let i = body.indexOf('{', start); i < body.length && end < 0; i++) {
      if (body[i] === '{') depth++;
      else if (body[i] === '}' && --depth === 0) end = i + 1;
    }
    Object.assign(process.env, {
      NIX_ADMIN_PASSWORD: 'a1',
      NIX_DEVELOPER_PASSWORD: 'd2',
      NIX_READER_PASSWORD: 'r3',
      NIX_SERVICE_PASSWORD: 's4',
    });
    const s = await server({ config: body.slice(start, end) });
    const p = await service({ NATS_URL: s.url, NATS_USER: 'cim-domain-nix', NATS_PASSWORD: 's4', NATS_INBOX_PREFIX: '_INBOX_cim_domain_nix' });
    await p.waitForLog(running, 30_000);
    const reader = await client({ servers: s.url, user: 'reader', pass: 'r3', inboxPrefix: '_INBOX_reader' });
    const h = await health(reader);
    expect(h['status']).toBe('healthy');
    // A developer's command is stored (JetStream answers the service on its own inbox) and answered on the developer's.
    const developer = await client({ servers: s.url, user: 'developer', pass: 'd2', inboxPrefix: '_INBOX_developer' });
    const created = (await developer.request('nix.cmd.module.create', JSON.stringify({ name: 'roles', module: {} }), { timeout: 10_000 })).json<Record<string, unknown>>();
    expect(created).toMatchObject({ status: 'ok', version: 1 });
    const got = (await reader.request('nix.query.module.get', JSON.stringify({ name: 'roles', min_sequence: 1 }), { timeout: 10_000 })).json<Record<string, unknown>>();
    expect(got).toMatchObject({ status: 'ok' });
    // No permission error met on the way.
    expect(p.lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('permission violation'))).toEqual([]);
  });

  it('backs off before the server exists, then connects and answers health', async () => {
    const s = await server();
    await s.stop(); // the port is reserved in the launcher; nothing listens yet
    const p = await service({ NATS_URL: s.url });
    await p.waitForLog(connectionState('backing_off'));
    await p.waitForNextLog(connectionState('backing_off')); // still retrying
    expect(p.exited).toBeDefined();

    await s.restart();
    await p.waitForLog(running, 30_000);
    const nc = await client({ servers: s.url, maxReconnectAttempts: -1, reconnectTimeWait: 50 });
    expect((await health(nc))['status']).toBe('healthy');

    p.signal('SIGINT');
    expect((await p.waitForExit()).code).toBe(0);
  });

  it('rides out a server crash and a restart on the same port as a process', async () => {
    const s = await server();
    await s.stop(); // the port is reserved in the launcher; nothing listens yet
    const p = await service({ NATS_URL: s.url });
    await p.waitForLog(connectionState('backing_off'));
    await p.waitForNextLog(connectionState('backing_off')); // still retrying
    expect(p.exited).toBeDefined();

    await s.restart();
    await p.waitForLog(running, 30_000);
    const nc = await client({ servers: s.url, maxReconnectAttempts: -1, reconnectTimeWait: 50 });
    expect((await health(nc))['status']).toBe('healthy');

    // Marks are taken before the action: the service can log the lost connection before this
    // process has handled the server's exit, and that line must count.
    const beforeKill = p.lines.length;
    await s.kill();
    await p.waitForLogFrom(beforeKill, connectionState('reconnecting'));
    // Let the back-off reach its cap before the server returns.
    await p.waitForLog((l) => l.component === 'connection' && l.msg === 'NATS reconnect attempt 6');
    const beforeRestart = p.lines.length;
    await s.restart();
    const restarted = performance.now();
    const connectedLine = await p.waitForLogFrom(beforeRestart, connectionState('connected'), 20_000);
    const connectedMs = Math.round(performance.now() - restarted);
    // First answered health request after the restart.
    let answered: Record<string, unknown> | undefined;
    await expect
      .poll(
        async () => {
          answered = await health(nc).catch(() => undefined);
          return answered?.['status'];
        },
        { timeout: 20_000, interval: 25 },
      )
      .toBe('healthy');
    const healthMs = Math.round(performance.now() - restarted);
    console.log(`[measure] process: server restart -> connected logged within ${connectedMs} ms; first answered health ${healthMs} ms`);
    expect(connectedLine.state).toBe('connected');
    expect(answered?.['nats']).toMatchObject({ state: 'connected' });
    expect(p.states()).toEqual(expect.arrayContaining(['backing_off', 'connected', 'reconnecting']));

    p.signal('SIGINT');
    expect((await p.waitForExit()).code).toBe(0);
  });
});
