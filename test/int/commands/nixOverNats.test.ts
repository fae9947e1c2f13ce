/**
 * The Nix domain over NATS alone, with the real nix offline: create a flake, add a local
 * input, lock it, build its package and get the store path, watch the progress lines,
 * cache it, update and remove the input; failing and slow builds; the command timeout.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageId } from '../../../src/domain/ids.js';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { startTestService, type TestService } from '../../support/service.js';
import { collect, request, type Collector } from '../../support/collect.js';
import { nonce, shellFlake, write } from '../../support/nix/workspace.js';

let server: NatsServer;
let svc: TestService;
let events: Collector;

beforeAll(async () => {
  server = await startNatsServer();
  svc = await startTestService(server, { env: { NIX_COMMAND_TIMEOUT_MS: '10000' } });
  events = await collect(svc.client, `${svc.prefix}.event.>`);
});

afterAll(async () => {
  events?.stop();
  await svc?.stop();
  await server?.dispose();
});

const cmd = (subject: string, payload: Record<string, unknown>, timeout = 120_000) =>
  request(svc.client, `${svc.prefix}.cmd.${subject}`, payload, { timeout });

/** A flake outside any aggregate, committed to git so nix sees it. */
function fixtureFlake(dir: string, script: string): void {
  const path = join(svc.workspace, dir);
  write(join(path, 'flake.nix'), shellFlake(script, nonce()));
  spawnSync('git', ['init', '-q'], { cwd: path });
  spawnSync('git', ['add', 'flake.nix'], { cwd: path });
}

const ATTR = 'packages.x86_64-linux.default';

describe('nix over NATS', () => {
  it('creates, adds a local input, locks, builds, caches, updates and removes the input', async () => {
    expect((await cmd('flake.create', { path: 'dep', description: 'a dependency', template: 'minimal' })).data).toMatchObject({ status: 'ok' });
    const created = await cmd('flake.create', { path: 'app', description: 'the app', template: 'minimal' });
    expect(created.data).toMatchObject({ status: 'ok', version: 1 });
    const flakeFile = readFileSync(join(svc.workspace, 'app', 'flake.nix'), 'utf8');
    expect(flakeFile).toContain('the app');
    expect(flakeFile).not.toContain('minimal');

    const added = await cmd('flake.add_input', { path: 'app', name: 'dep', url: 'path:../dep' });
    expect(added.data).toMatchObject({ status: 'ok', version: 2 });
    expect(readFileSync(join(svc.workspace, 'app', 'flake.nix'), 'utf8')).toMatch(/dep/);

    const updated = await cmd('flake.update', { path: 'app' });
    expect(updated.data).toMatchObject({ status: 'ok', version: 3 });
    const lock = JSON.parse(readFileSync(join(svc.workspace, 'app', 'flake.lock'), 'utf8')) as { nodes: Record<string, { locked?: { narHash?: string } }> };
    expect(lock.nodes['dep']?.locked?.narHash).toMatch(/^sha256-/);
    await expect.poll(() => events.messages.find((m) => m.data['event_type'] === 'FlakeUpdated')).toBeDefined();
    const updatedEvent = events.messages.find((m) => m.data['event_type'] === 'FlakeUpdated')!;
    expect(JSON.stringify(updatedEvent.data['inputs'])).toContain(lock.nodes['dep']!.locked!.narHash!);

    const built = await cmd('package.build', { flake_ref: 'path:app', attribute: ATTR });
    expect(built.data).toMatchObject({ status: 'ok', version: 2 });
    expect((built.data['events'] as Array<{ event_type: string }>).map((e) => e.event_type)).toEqual(['PackageBuildStarted', 'PackageBuilt']);
    await expect.poll(() => events.messages.find((m) => m.data['event_type'] === 'PackageBuilt')).toBeDefined();
    const builtEvent = events.messages.find((m) => m.data['event_type'] === 'PackageBuilt')!;
    const out = (builtEvent.data['store_paths'] as Record<string, string>)['out']!;
    expect(out).toMatch(/^\/nix\/store\/[a-z0-9]{32}-/);
    expect(existsSync(out)).toBe(true);
    expect(String(builtEvent.data['drv_path'])).toMatch(/\.drv$/);
    expect(Number(builtEvent.data['duration_ms'])).toBeGreaterThan(0);

    const cached = await cmd('package.cache', { flake_ref: 'path:app', attribute: ATTR });
    expect(cached.data).toMatchObject({ status: 'ok', version: 3 });
    await expect.poll(() => events.messages.find((m) => m.data['event_type'] === 'PackageCached')).toBeDefined();
    const cachedEvent = events.messages.find((m) => m.data['event_type'] === 'PackageCached')!;
    expect(String(cachedEvent.data['cache_url'])).toMatch(/^file:\/\//);
    const cacheDir = String(cachedEvent.data['cache_url']).slice('file://'.length);
    expect(existsSync(join(cacheDir, 'nix-cache-info'))).toBe(true);

    const removed = await cmd('flake.remove_input', { path: 'app', name: 'dep' });
    expect(removed.data).toMatchObject({ status: 'ok', version: 4 });
    expect(readFileSync(join(svc.workspace, 'app', 'flake.nix'), 'utf8')).not.toMatch(/path:\.\.\/dep|dep\.url/);
    const again = await cmd('flake.remove_input', { path: 'app', name: 'dep' });
    expect(again.data).toMatchObject({ status: 'error', code: 'not_found' });
  });

  it('records a failing build with its exit code and log tail', async () => {
    fixtureFlake('broken', 'echo compiling; echo "error: the widget is missing" >&2; exit 1');
    const reply = await cmd('package.build', { flake_ref: 'path:broken', attribute: ATTR });
    expect(reply.data).toMatchObject({ status: 'ok' });
    expect((reply.data['events'] as Array<{ event_type: string }>).map((e) => e.event_type)).toEqual(['PackageBuildStarted', 'PackageBuildFailed']);
    await expect.poll(() => events.messages.find((m) => m.data['event_type'] === 'PackageBuildFailed')).toBeDefined();
    const failed = events.messages.find((m) => m.data['event_type'] === 'PackageBuildFailed')!;
    expect(failed.data['exit_code']).not.toBe(0);
    expect((failed.data['log_tail'] as string[]).join('\n')).toContain('the widget is missing');
    const rebuilt = await cmd('package.build', { flake_ref: 'path:broken', attribute: ATTR });
    expect(rebuilt.data).toMatchObject({ status: 'ok', version: 4 });
  });

  it('answers 500 commands to other aggregates while a 3 s build runs, and a second build joins the first', async () => {
    fixtureFlake('slow', 'echo step one; /bin/sleep 3; echo done > $out');
    const progress = await collect(svc.client, `${svc.prefix}.progress.package.${packageId('path:slow', ATTR)}`);
    const first = cmd('package.build', { flake_ref: 'path:slow', attribute: ATTR });
    const second = cmd('package.build', { flake_ref: 'path:slow', attribute: ATTR });
    const others = await Promise.all(
      Array.from({ length: 500 }, (_, i) => cmd('module.create', { name: `busy${i}`, module: { options: {}, config: {}, imports: [] } })),
    );
    expect(others.every((r) => r.data['status'] === 'ok')).toBe(true);
    const [a, b] = await Promise.all([first, second]);
    expect(a.data, JSON.stringify(a.data)).toMatchObject({ status: 'ok', version: 2 });
    const finalA = (a.data['events'] as Array<{ event_type: string; event_id: string }>).at(-1)!;
    const finalB = (b.data['events'] as Array<{ event_type: string; event_id: string }>).at(-1)!;
    expect(finalA.event_type).toBe('PackageBuilt');
    expect(finalB.event_id).toBe(finalA.event_id);
    // The build's output streamed live while it ran.
    expect(progress.messages.map((m) => m.data['line'])).toContain('pkg> step one');
    progress.stop();
  });

  it('answers unavailable when a command outlives the command timeout, and still records its outcome', async () => {
    fixtureFlake('slower', '/bin/sleep 13; echo done > $out'); // outlives the 10 s command timeout
    const reply = await cmd('package.build', { flake_ref: 'path:slower', attribute: ATTR });
    expect(reply.data).toMatchObject({ status: 'error', code: 'unavailable' });
    expect(String(reply.data['message'])).toMatch(/still running/);
    const id = packageId('path:slower', ATTR);
    await expect
      .poll(() => events.messages.find((m) => m.data['aggregate_id'] === id && m.data['event_type'] === 'PackageBuilt'), { timeout: 30_000 })
      .toBeDefined();
  });
});
