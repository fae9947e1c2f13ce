/**
 * The reconnection supervisor with a real nats-server that is stopped, killed and
 * restarted on the same port: back-off before the first connection, reconnecting after a
 * crash, connected again after a restart (measured), and giving up after the attempt limit.
 */
import { createServer } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../../src/config.js';
import { ConnectionFailedError } from '../../../src/errors.js';
import {
  createConnectionSupervisor,
  type ConnectionStateName,
  type ConnectionSupervisor,
} from '../../../src/messaging/connection.js';
import { capturedLogger } from '../../support/capturedLogger.js';
import { deferred } from '../../support/deferred.js';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';

function configFor(env: Record<string, string>): Config {
  const loaded = loadConfig([], { NIX_WORKSPACE: '/tmp/cim-unused-ws', INSPECTOR_PORT: '0', ...env }, '/tmp');
  if (!loaded.ok) throw new Error(loaded.message);
  return loaded.config;
}

const supervisors: ConnectionSupervisor[] = [];
const servers: NatsServer[] = [];

function supervise(env: Record<string, string>) {
  const { logger, lines } = capturedLogger();
  const sup = createConnectionSupervisor(configFor(env), logger);
  const seen: ConnectionStateName[] = [];
  sup.onState((state, detail) => {
    if (!detail?.['permission_error']) seen.push(state);
  });
  supervisors.push(sup);
  return { sup, lines, seen };
}

/** Resolves when the supervisor enters `state` (now or later). */
function reach(sup: ConnectionSupervisor, state: ConnectionStateName): Promise<number> {
  const d = deferred<number>();
  if (sup.state === state) d.resolve(performance.now());
  const off = sup.onState((s) => {
    if (s === state) d.resolve(performance.now());
  });
  return d.promise.finally(off);
}

/** A loopback port with nothing listening (bound then released). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const address = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((s) => s.stop()));
});
afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.dispose()));
});

describe('connection: reconnection with a real server', () => {
  it('backs off while the server is not there, then connects when it starts', async () => {
    const server = await startNatsServer({ jetstream: false });
    servers.push(server);
    await server.stop(); // the port is known and nothing listens on it
    const { sup, seen } = supervise({ NATS_URL: server.url });
    await reach(sup, 'backing_off');
    // Several attempts fail before the server is back.
    // (The first `connecting` happened inside createConnectionSupervisor, before the listener.)
    await expect.poll(() => seen.filter((s) => s === 'connecting').length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    await server.restart();
    const nc = await sup.ready();
    expect(sup.state).toBe('connected');
    await nc.flush();
    expect(seen.slice(0, 3)).toEqual(['backing_off', 'connecting', 'backing_off']);
    expect(seen.at(-1)).toBe('connected');
  });

  it('goes to reconnecting when the server is killed and to connected when it restarts on the same port', async () => {
    const server = await startNatsServer({ jetstream: false });
    servers.push(server);
    const { sup, lines } = supervise({ NATS_URL: server.url });
    const nc = await sup.ready();

    // A subscription made before the outage still works after it.
    const received: string[] = [];
    nc.subscribe('cim.test.after', { callback: (_e, m) => void received.push(m.string()) });
    await nc.flush();

    await server.kill();
    await reach(sup, 'reconnecting');
    // Let the back-off reach its cap (attempt 6+: ceilings 100, 200, 400, 800, 1600, 2000 ms).
    await expect
      .poll(() => (sup.actor.getSnapshot() as { context: { attempt: number } }).context.attempt, { timeout: 20_000, interval: 100 })
      .toBeGreaterThanOrEqual(6);

    const connectedAgain = reach(sup, 'connected');
    await server.restart();
    const listening = performance.now();
    const connectedAt = await connectedAgain;
    const ms = Math.round(connectedAt - listening);
    console.log(`[measure] server restart -> connection connected: ${ms} ms`);
    expect(ms).toBeLessThan(5_000);

    expect(sup.connection).toBe(nc); // the same connection object, reconnected by the client
    const other = await startClient(server.url);
    other.publish('cim.test.after', 'hello');
    await other.flush();
    await expect.poll(() => received).toEqual(['hello']);
    await other.close();
    expect(lines.some((l) => l['state'] === 'reconnecting' && l['level'] === 'warn')).toBe(true);
  });

  it('gives up on an unreachable URL after the attempt limit, naming the last error', async () => {
    const port = await freePort();
    const { sup, seen } = supervise({
      NATS_URL: `nats://127.0.0.1:${port}`,
      NATS_RECONNECT_MAX_ATTEMPTS: '3',
      NATS_RECONNECT_INITIAL_MS: '20',
    });
    const err = (await sup.ready().catch((e: unknown) => e)) as ConnectionFailedError;
    expect(err).toBeInstanceOf(ConnectionFailedError);
    expect(err.code).toBe('attempts_exhausted');
    expect(err.message).toMatch(/gave up after 3 connection attempt\(s\).*refused/i);
    // The first `connecting` happened inside createConnectionSupervisor, before the listener.
    expect(seen.filter((s) => s === 'connecting')).toHaveLength(2);
    expect(seen.filter((s) => s === 'backing_off')).toHaveLength(2);
    expect(sup.state).toBe('failed');
  });

  it('fails when the server stays away longer than the attempt limit after a connection', async () => {
    const server = await startNatsServer({ jetstream: false });
    servers.push(server);
    const { sup } = supervise({ NATS_URL: server.url, NATS_RECONNECT_MAX_ATTEMPTS: '3', NATS_RECONNECT_INITIAL_MS: '20' });
    const nc = await sup.ready();
    await server.kill();
    await reach(sup, 'failed');
    expect(sup.lastError?.code).toBe('attempts_exhausted');
    await expect.poll(() => nc.isClosed()).toBe(true);
  });

  it('stops promptly while backing off', async () => {
    const port = await freePort();
    const { sup } = supervise({ NATS_URL: `nats://127.0.0.1:${port}` });
    await reach(sup, 'backing_off');
    const ready = sup.ready().catch((e: unknown) => e);
    await sup.stop();
    expect(sup.state).toBe('stopped');
    const err = (await ready) as ConnectionFailedError;
    expect(err.code).toBe('stopped');
  });
});

async function startClient(url: string) {
  const { connect } = await import('@nats-io/transport-node');
  return connect({ servers: url });
}
