/**
 * The workspace is a projection of the stream (SPEC §11): modules, overlays and
 * configurations answered `ok` right before a SIGKILL of the service are all on disk after
 * the restart — written, parsing, staged, and listed by the workspace flake.nix — and a
 * write that fails is retried until it lands.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { killAllServiceProcesses, startServiceProcess, type ServiceProcess } from '../../support/serviceProcess.js';
import { startTestService, uniquePrefix } from '../../support/service.js';

const run = promisify(execFile);
const servers: NatsServer[] = [];
const procs: ServiceProcess[] = [];
let client: NatsConnection | undefined;

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await client?.close();
  await killAllServiceProcesses();
  await Promise.all(servers.map((s) => s.dispose()));
});

const ready = (l: { msg?: string }) => typeof l.msg === 'string' && l.msg.startsWith('cim-domain-nix ready');

async function ok(nc: NatsConnection, subject: string, body: unknown): Promise<void> {
  const reply = (await nc.request(subject, JSON.stringify(body), { timeout: 20_000 })).json<Record<string, unknown>>();
  if (reply['status'] !== 'ok') throw new Error(`${subject}: ${JSON.stringify(reply)}`);
}

describe('workspace files after a crash', () => {
  it('writes every file the stored events describe after a SIGKILL right after the replies', async () => {
    const server = await startNatsServer();
    servers.push(server);
    const prefix = uniquePrefix('crashws');
    const env = { NATS_URL: server.url, NIX_DOMAIN_PREFIX: prefix, LOG_LEVEL: 'info' };
    const first = await startServiceProcess({ env });
    procs.push(first);
    await first.waitForLog(ready, 30_000);
    const workspace = join(first.cwd, 'workspace');
    client = await connect({ servers: server.url });
    const nc = client;

    const modules = Array.from({ length: 20 }, (_, i) => `m${i}`);
    await ok(nc, `${prefix}.cmd.overlay.create`, { name: 'tools', overlay: { additions: { hello2: { $nix: 'prev.hello' } } } });
    await ok(nc, `${prefix}.cmd.config.create`, { name: 'web1', configuration: { hostname: 'web1', modules: ['m0', 'm1'] } });
    // The last ones right before the kill: the materializer waits ≥ 250 ms before a batch.
    await Promise.all(modules.map((name, i) => ok(nc, `${prefix}.cmd.module.create`, { name, module: { config: { port: 8000 + i } } })));
    await ok(nc, `${prefix}.cmd.module.delete`, { name: 'm19' });
    first.signal('SIGKILL');
    await first.waitForExit(10_000);

    const second = await startServiceProcess({ env, cwd: first.cwd });
    procs.push(second);
    await second.waitForLog(ready, 30_000);
    const alive = modules.filter((m) => m !== 'm19');
    const files = [...alive.map((m) => `modules/${m}.nix`), 'overlays/tools.nix', 'hosts/web1/configuration.nix'];
    await expect
      .poll(async () => (await Promise.all(files.map((f) => readFile(join(workspace, f), 'utf8').then(() => true, () => false)))).every(Boolean), { timeout: 30_000 })
      .toBe(true);
    expect(await readFile(join(workspace, 'modules', 'm5.nix'), 'utf8')).toContain('port = 8005;');
    await expect.poll(() => readFile(join(workspace, 'flake.nix'), 'utf8').catch(() => ''), { timeout: 30_000 }).toContain('web1 = nixpkgs.lib.nixosSystem');
    const flake = await readFile(join(workspace, 'flake.nix'), 'utf8');
    for (const m of alive) expect(flake).toContain(`${m} = ./modules/${m}.nix;`);
    expect(flake).not.toContain('m19');
    expect(flake).toContain('tools = import ./overlays/tools.nix;');
    // Every file parses, and git (which nix reads a flake through) knows every one of them.
    await run('nix-instantiate', ['--parse', '--', ...[...files, 'flake.nix'].map((f) => join(workspace, f))]);
    // flake.nix is written before it is staged: wait for git too, not just for the file.
    const staged = () => run('git', ['-C', workspace, 'ls-files']).then((r) => r.stdout, () => '');
    const unstaged = async () => {
      const listed = (await staged()).split('\n');
      return [...files, 'flake.nix'].filter((f) => !listed.includes(f));
    };
    await expect.poll(unstaged, { timeout: 30_000 }).toEqual([]);
    const { stdout } = await run('git', ['-C', workspace, 'ls-files']);
    expect(stdout).not.toContain('modules/m19.nix');
  });
});

describe('a write that fails', () => {
  it('is retried until it lands, and health says so meanwhile', async () => {
    const server = await startNatsServer();
    servers.push(server);
    const svc = await startTestService(server, { prefix: uniquePrefix('retryws') });
    try {
      // A directory where the module's file must go: the write fails until it is removed.
      const blocker = join(svc.workspace, 'modules', 'blocked.nix');
      await mkdir(join(blocker, 'inside'), { recursive: true });
      await writeFile(join(blocker, 'inside', 'x'), 'x');
      await ok(svc.client, `${svc.prefix}.cmd.module.create`, { name: 'blocked', module: { config: { a: 1 } } });
      const health = async () => (await svc.client.request('health.cim-domain-nix', '', { timeout: 5_000 })).json<Record<string, unknown>>();
      await expect.poll(async () => (await health())['workspace'], { timeout: 15_000 }).toMatchObject({ failing: 1 });
      expect((await health())['status']).toBe('degraded');
      await rm(blocker, { recursive: true, force: true });
      await expect.poll(() => readFile(blocker, 'utf8').catch(() => ''), { timeout: 30_000 }).toContain('a = 1;');
      await expect.poll(async () => (await health())['workspace'], { timeout: 15_000 }).toMatchObject({ failing: 0 });
    } finally {
      await svc.stop();
    }
  });
});
