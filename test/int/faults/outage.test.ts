/**
 * Nothing lost through faults (issue 4): a load of commands from retrying clients while the
 * NATS server is killed and restarted, while the service is SIGKILLed, and while the server
 * stays away past the store's retry budget (dead letters). Real processes, bounded.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { startTestService, uniquePrefix } from '../../support/service.js';
import { startServiceProcess, type ServiceProcess } from '../../support/serviceProcess.js';
import { auditProblems, readStore, sendUntilAnswered } from '../../support/faultClient.js';
import { collect, request, type Collector } from '../../support/collect.js';
import { nonce, shellFlake, write } from '../../support/nix/workspace.js';

let server: NatsServer;

beforeAll(async () => {
  server = await startNatsServer();
});

afterAll(async () => {
  await server?.dispose();
});

/** A client connection that rides out server restarts quickly. */
const client = () => connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 50, reconnectJitter: 0 });

const body = (n: number) => ({ options: {}, config: { step: n }, imports: [] });

/**
 * 200 aggregates × 10 commands (create + 9 updates, in order per aggregate, all aggregates
 * at once), calling `fault()` when a third, two thirds … of the commands are answered.
 */
async function runLoad(nc: NatsConnection, prefix: string, faults: Array<() => Promise<void>>): Promise<Array<Record<string, unknown>>> {
  const aggregates = 200;
  const perAggregate = 10;
  const total = aggregates * perAggregate;
  const deadline = Date.now() + 240_000;
  const thresholds = faults.map((_, i) => Math.floor(((i + 1) * total) / (faults.length + 1)));
  let answered = 0;
  let faulting: Promise<void> = Promise.resolve();
  const replies: Array<Record<string, unknown>> = [];
  await Promise.all(
    Array.from({ length: aggregates }, async (_, a) => {
      for (let i = 0; i < perAggregate; i++) {
        const action = i === 0 ? 'create' : 'update';
        const outcome = await sendUntilAnswered(nc, `${prefix}.cmd.module.${action}`, { name: `load${a}`, module: body(i) }, deadline);
        replies.push(outcome.data);
        answered++;
        const next = thresholds[0];
        if (next !== undefined && answered >= next) {
          thresholds.shift();
          const fault = faults.shift()!;
          faulting = faulting.then(fault);
        }
      }
    }),
  );
  await faulting;
  return replies;
}

function seenAll(seen: Collector, stored: Array<{ event_id: string }>): string[] {
  const ids = new Set(seen.messages.map((m) => m.headers['X-Event-ID']));
  return stored.filter((e) => !ids.has(e.event_id)).map((e) => e.event_id);
}

describe('faults', () => {
  it('loses nothing and stores nothing twice while the NATS server is killed and restarted three times', async () => {
    const prefix = uniquePrefix('kill');
    const svc = await startTestService(server, { prefix, env: { NIX_STORE_RETRY_BUDGET_MS: '60000' } });
    const nc = await client();
    const seen = await collect(nc, `${prefix}.event.>`);
    const restart = async () => {
      await server.kill();
      await server.restart();
    };
    const replies = await runLoad(nc, prefix, [restart, restart, restart]);
    expect(replies.filter((r) => r['status'] !== 'ok')).toEqual([]);
    const stored = await readStore(server.url, prefix);
    expect(stored).toHaveLength(2000);
    expect(auditProblems(stored, 10)).toEqual([]);
    await expect.poll(() => seenAll(seen, stored).length, { timeout: 20_000 }).toBe(0);
    seen.stop();
    await nc.close();
    await svc.stop();
  });

  it('loses nothing when the service is SIGKILLed mid-load and started again', async () => {
    const prefix = uniquePrefix('crash');
    const env = { NATS_URL: server.url, NIX_DOMAIN_PREFIX: prefix, LOG_LEVEL: 'info' };
    let proc: ServiceProcess = await startServiceProcess({ env });
    await proc.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('cim-domain-nix ready'), 60_000);
    const nc = await client();
    const seen = await collect(nc, `${prefix}.event.>`);
    const crash = async () => {
      proc.signal('SIGKILL');
      await proc.waitForExit(10_000);
      proc = await startServiceProcess({ env, cwd: proc.cwd });
      await proc.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('cim-domain-nix ready'), 60_000);
    };
    const replies = await runLoad(nc, prefix, [crash]);
    expect(replies.filter((r) => r['status'] !== 'ok')).toEqual([]);
    const stored = await readStore(server.url, prefix);
    expect(stored).toHaveLength(2000);
    expect(auditProblems(stored, 10)).toEqual([]);
    await expect.poll(() => seenAll(seen, stored).length, { timeout: 20_000 }).toBe(0);
    seen.stop();
    await nc.close();
    await proc.stop();
  });

  it('keeps an event as a dead letter when the server stays away past the retry budget, and stores it once when it returns', async () => {
    const prefix = uniquePrefix('dead');
    // The lease (1 s) runs out while the build (2 s) still runs with NATS away: its outcome was
    // worked out while this instance owned the partition and nobody else claimed it, so it is kept.
    const svc = await startTestService(server, { prefix, env: { NIX_STORE_RETRY_BUDGET_MS: '1500', NIX_LEASE_MS: '1000' } });
    const nc = await client();
    const seen = await collect(nc, `${prefix}.event.>`);
    // A build outlives the server: its outcome event has nowhere to go.
    const dir = join(svc.workspace, 'slowbuild');
    write(join(dir, 'flake.nix'), shellFlake('echo building; /bin/sleep 2; echo done > $out', nonce()));
    spawnSync('git', ['init', '-q'], { cwd: dir });
    spawnSync('git', ['add', 'flake.nix'], { cwd: dir });
    const identity = { message_id: randomUUID() };
    const build = { flake_ref: 'path:slowbuild', attribute: 'packages.x86_64-linux.default', identity };
    // The reply to this first attempt is lost with the server: the client will retry.
    const first = request(nc, `${prefix}.cmd.package.build`, build, { timeout: 5_000 }).catch((e: unknown) => ({ data: { client_error: String(e) } }));
    await expect.poll(() => seen.messages.some((m) => m.data['event_type'] === 'PackageBuildStarted'), { timeout: 20_000 }).toBe(true);
    await server.stop();

    const deadLetterFile = join(svc.workspace, '.deadletter', 'events.jsonl');
    const waiting = () => (existsSync(deadLetterFile) ? readFileSync(deadLetterFile, 'utf8') : '');
    await expect.poll(waiting, { timeout: 30_000 }).toContain('PackageBuilt');
    expect((await first).data).not.toMatchObject({ status: 'ok' });
    await server.restart();

    const retried = await sendUntilAnswered(nc, `${prefix}.cmd.package.build`, build, Date.now() + 60_000);
    expect(retried.data).toMatchObject({ status: 'ok', version: 2 });
    expect((retried.data['events'] as Array<{ event_type: string }>).map((e) => e.event_type)).toEqual(['PackageBuildStarted', 'PackageBuilt']);
    await expect.poll(waiting).toBe('');
    const stored = await readStore(server.url, prefix);
    expect(stored.filter((e) => e.command_id === identity.message_id)).toHaveLength(2);
    expect(auditProblems(stored).filter((p) => !p.startsWith('command'))).toEqual([]);
    await expect.poll(() => seenAll(seen, stored).length, { timeout: 20_000 }).toBe(0);
    seen.stop();
    await nc.close();
    await svc.stop();
  });
});
