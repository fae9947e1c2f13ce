/**
 * The embedded default (SPEC §7): with no URL configured and nothing at
 * nats://127.0.0.1:4222, the service runs its own nats-server (JetStream in the workspace,
 * websocket on loopback), answers health through it, and stops it on shutdown. An
 * explicitly configured URL never starts one.
 *
 * Both tests need port 4222 free; they wait (bounded) for it, as another suite may be
 * using it for the same purpose.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { somethingListens } from '../../../src/messaging/embeddedServer.js';
import { connectionState, killAllServiceProcesses, startServiceProcess, type LogLine } from '../../support/serviceProcess.js';

const clients: NatsConnection[] = [];
const embeddedPids: number[] = [];

async function waitForFree4222(): Promise<void> {
  await expect
    .poll(() => somethingListens('127.0.0.1', 4222), {
      timeout: 60_000,
      interval: 250,
      message: 'port 4222 stayed busy: stop whatever listens there (the embedded test needs it free)',
    })
    .toBe(false);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await killAllServiceProcesses();
  for (const pid of embeddedPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

describe('embedded nats-server', () => {
  it('starts one when no URL is configured and nothing answers at 4222, and stops it on shutdown', async () => {
    await waitForFree4222();
    const p = await startServiceProcess({ env: {} });
    const started = await p.waitForLog(
      (l: LogLine) => typeof l.msg === 'string' && l.msg.startsWith('embedded nats-server running at nats://127.0.0.1:4222'),
      30_000,
    );
    const serverPid = started['server_pid'] as number;
    embeddedPids.push(serverPid);
    expect(started['ws_url']).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    expect(started['dir']).toBe(join(p.cwd, 'workspace', '.nats'));
    await p.waitForLog((l) => l.msg === 'cim-domain-nix is running', 30_000);

    // JetStream lives in the workspace; the websocket listener answers on loopback.
    expect(existsSync(join(p.cwd, 'workspace', '.nats', 'jetstream'))).toBe(true);
    const wsPort = Number(new URL(started['ws_url'] as string).port);
    expect(await somethingListens('127.0.0.1', wsPort)).toBe(true);

    const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
    clients.push(nc);
    const health = (await nc.request('health.cim-domain-nix', '', { timeout: 5_000 })).json<Record<string, unknown>>();
    expect(health['status']).toBe('healthy');
    expect(health['nats']).toMatchObject({ state: 'connected', server: 'nats://127.0.0.1:4222' });
    await nc.close();

    p.signal('SIGTERM');
    expect((await p.waitForExit()).code).toBe(0);
    expect(p.lines.some((l) => l.msg === 'embedded nats-server stopped')).toBe(true);
    expect(alive(serverPid)).toBe(false);
    expect(await somethingListens('127.0.0.1', 4222)).toBe(false);
  });

  it('never starts one when the URL is configured explicitly, even the default URL', async () => {
    await waitForFree4222();
    const p = await startServiceProcess({ env: { NATS_URL: 'nats://127.0.0.1:4222' } });
    const decision = await p.waitForLog((l) => l.msg === 'no embedded nats-server');
    expect(decision['reason']).toBe('a NATS URL is configured');
    await p.waitForLog(connectionState('backing_off'));
    await p.waitForNextLog(connectionState('backing_off'));
    expect(await somethingListens('127.0.0.1', 4222)).toBe(false);
    p.signal('SIGINT');
    expect((await p.waitForExit()).code).toBe(0);
  });
});
