/**
 * The command-line client as a user runs it: `bin/cim-domain-nix.js` as a child process
 * against a real service and NATS server. Every subcommand, its --help, a failing case of
 * each, and the exit codes (0 ok, 1 error answer, 2 usage or invalid payload, 3 unreachable).
 */
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { startTestService, uniquePrefix, type TestService } from '../../support/service.js';
import { collect, type Collector } from '../../support/collect.js';
import { nonce, shellFlake, write } from '../../support/nix/workspace.js';
import { cmd, moduleBody } from '../queries/support.js';
import { runCli, spawnCli } from './cliProcess.js';

let server: NatsServer;
let svc: TestService;
let cmdErrors: Collector;
let conn: Record<string, string>;

beforeAll(async () => {
  server = await startNatsServer();
  svc = await startTestService(server);
  cmdErrors = await collect(svc.client, `${svc.prefix}.error.cmd.>`);
  // Connection settings the way a user gives them: environment variables.
  conn = { NATS_URL: server.url, NIX_DOMAIN_PREFIX: svc.prefix };
});

afterAll(async () => {
  cmdErrors?.stop();
  await svc?.stop();
  await server?.dispose();
});

const ATTR = 'packages.x86_64-linux.default';

/** A flake written by hand, committed to git so nix sees it. */
function fixtureFlake(dir: string, script: string): void {
  const path = join(svc.workspace, dir);
  write(join(path, 'flake.nix'), shellFlake(script, nonce()));
  spawnSync('git', ['init', '-q'], { cwd: path });
  spawnSync('git', ['add', 'flake.nix'], { cwd: path });
}

describe('cli: help and usage', () => {
  it('prints the command list with --help (exit 0), and usage without a command (exit 2)', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const c of ['serve', 'health', 'send', 'query', 'watch', 'build']) expect(help.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(help.stdout).toMatch(/Exit codes: 0 ok/);
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/^Usage: cim-domain-nix <command>/);
  });

  it('has --help for every subcommand, and per command and query the fields', async () => {
    for (const sub of ['health', 'send', 'query', 'watch', 'build']) {
      const r = await runCli([sub, '--help']);
      expect(r.code, sub).toBe(0);
      expect(r.stdout, sub).toMatch(new RegExp(`^Usage: cim-domain-nix ${sub}`));
    }
    const fields = await runCli(['send', 'flake.create', '--help']);
    expect(fields.stdout).toMatch(/--description\s+string \(required\)/);
    expect(fields.stdout).toMatch(/--template\s+minimal\|rust/);
    const q = await runCli(['query', 'package.list', '--help']);
    expect(q.stdout).toMatch(/--state\s+building\|built\|failed\|cached \(repeat the flag for several\)/);
    const serve = await runCli(['serve', '--help']);
    expect(serve.code).toBe(0);
    expect(serve.stdout).toMatch(/NIX_DOMAIN_PREFIX/);
  });

  it('rejects an unknown command and an unknown query with exit 2', async () => {
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    const badQuery = await runCli(['query', 'flake.explode'], conn);
    expect(badQuery.code).toBe(2);
    expect(badQuery.stderr).toMatch(/unknown query 'flake\.explode'; queries: flake\.get/);
  });
});

describe('cli: health', () => {
  it('prints the health of the service (exit 0), as JSON with --json', async () => {
    const human = await runCli(['health'], conn);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^status: healthy$/m);
    expect(human.stdout).toMatch(/^service: cim-domain-nix$/m);
    const json = await runCli(['health', '--json'], conn);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'healthy', service: 'cim-domain-nix' });
  });

  it('exits 3 with a message saying what to do when NATS cannot be reached', async () => {
    const r = await runCli(['health', '--server', 'nats://127.0.0.1:1']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
    expect(r.stderr).toMatch(/cim-domain-nix serve/);
  });
});

describe('cli: send', () => {
  it('sends a command given as flags and prints the reply (exit 0)', async () => {
    const r = await runCli(['send', 'flake.create', '--path', 'cli/one', '--description', '123', '--template', 'minimal'], conn);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok: flake\.create -> flake [0-9a-f-]{36} version 1$/m);
    expect(r.stdout).toMatch(/FlakeCreated\s+\S+\.event\.flake\.created/);
  });

  it('takes a JSON argument, JSON from stdin, and nested fields', async () => {
    const fromArg = await runCli(['send', 'module.create', JSON.stringify({ name: 'cli-a', module: moduleBody(1) }), '--json'], conn);
    expect(fromArg.code).toBe(0);
    expect(JSON.parse(fromArg.stdout)).toMatchObject({ status: 'ok', version: 1, events: [{ event_type: 'ModuleCreated' }] });
    const fromStdin = await runCli(['send', 'module', 'create', '-'], conn, JSON.stringify({ name: 'cli-b', module: moduleBody(2) }));
    expect(fromStdin.code).toBe(0);
    const nested = await runCli(
      ['send', 'module.update', '--name', 'cli-b', '--module.config', '{"services.nginx.enable":true}', '--module.imports', 'base'],
      conn,
    );
    expect(nested.code).toBe(0);
    expect(nested.stdout).toMatch(/version 2$/m);
  });

  it('validates before sending: a bad payload exits 2, names the field, and sends nothing', async () => {
    const r = await runCli(['send', 'flake.create', '--path', 'cli/two', '--template', 'bogus'], conn);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/description: is required/);
    expect(r.stderr).toMatch(/template: /);
    expect(r.stderr).toMatch(/nothing was sent/);
    // The service would have recorded a rejected command on the error topic; a later good one goes through alone.
    await cmd(svc, 'module.create', { name: `after-${randomUUID().slice(0, 8)}`, module: moduleBody() });
    expect(cmdErrors.messages.filter((m) => m.subject.endsWith('.flake.create'))).toEqual([]);
  });

  it('exits 1 when the service refuses the command, with its code and message', async () => {
    const r = await runCli(['send', 'flake.create', '--path', 'cli/one', '--description', 'again', '--template', 'minimal'], conn);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error \(already_exists\): /m);
    const unknownCommand = await runCli(['send', 'flake.destroy', '--path', 'x'], conn);
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toMatch(/unknown command 'flake.destroy'; commands: flake\.create/);
  });
});

describe('cli: query', () => {
  beforeAll(async () => {
    for (let i = 0; i < 5; i++) await cmd(svc, 'module.create', { name: `q-${i}`, module: moduleBody(i) });
  });

  it('prints a record (exit 0), and JSON with --json', async () => {
    const human = await runCli(['query', 'module.get', '--name', 'q-3'], conn);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^name: q-3$/m);
    expect(human.stdout).toMatch(/^state: active$/m);
    const json = await runCli(['query', 'module', 'get', '--name', 'q-3', '--json'], conn);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'ok', module: { name: 'q-3', version: 1 } });
  });

  it('prints a list as a table, with the cursor of the next page, and every page with --all', async () => {
    const page = await runCli(['query', 'module.list', '--name_prefix', 'q-', '--limit', '2'], conn);
    expect(page.code).toBe(0);
    expect(page.stdout.split('\n')[0]).toMatch(/^NAME\s+STATE\s+FILE\s+VERSION\s+UPDATED$/);
    expect(page.stdout).toMatch(/^q-0\s+active/m);
    expect(page.stdout).toMatch(/^more: add --cursor \S+ \(or --all\)$/m);
    const all = await runCli(['query', 'module.list', '--name_prefix', 'q-', '--limit', '2', '--all', '--json'], conn);
    const body = JSON.parse(all.stdout) as { items: Array<{ name: string }>; next_cursor: string | null };
    expect(body.items.map((m) => m.name)).toEqual(['q-0', 'q-1', 'q-2', 'q-3', 'q-4']);
    expect(body.next_cursor).toBeNull();
  });

  it('exits 1 for not_found, 2 for a payload the schema refuses, 3 when no service has the prefix', async () => {
    const missing = await runCli(['query', 'module.get', '--name', 'nobody'], conn);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error \(not_found\): no module 'nobody' is known/m);
    const invalid = await runCli(['query', 'module.list', '--limit', '5000'], conn);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/limit: must be at most 1000/);
    const elsewhere = await runCli(['query', 'module.list', '--prefix', 'nobodyhere'], conn);
    expect(elsewhere.code).toBe(3);
    expect(elsewhere.stderr).toMatch(/nobody answers on nobodyhere\.query\.module\.list/);
  });
});

describe('cli: watch', () => {
  it('prints events as they happen and stops after --count (exit 0)', async () => {
    const watcher = spawnCli(['watch', 'module.>', '--count', '2'], conn);
    await watcher.waitFor(/watching \S+\.event\.module\.>/);
    await cmd(svc, 'module.create', { name: 'w-1', module: moduleBody() });
    await cmd(svc, 'module.delete', { name: 'w-1' });
    const r = await watcher.done;
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}ModuleCreated\s+module [0-9a-f]{8} v1 {2}name=w-1/);
    expect(lines[1]).toMatch(/ModuleDeleted\s+module [0-9a-f]{8} v2/);
  });

  it('prints JSON lines with --json, rejections with --errors, and stops on SIGINT (exit 0)', async () => {
    const watcher = spawnCli(['watch', '--errors', '--json'], conn);
    await watcher.waitFor(/watching .*\.error\.>/);
    await cmd(svc, 'overlay.create', { name: 'w-ov', overlay: { overrides: {}, additions: {} } });
    await svc.client.request(`${svc.prefix}.cmd.overlay.create`, '{broken', { timeout: 5_000 });
    await watcher.waitFor(/"kind":"error"/, 'stdout');
    watcher.child.kill('SIGINT');
    const r = await watcher.done;
    expect(r.code).toBe(0);
    const messages = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; subject: string; data: Record<string, unknown> });
    expect(messages.find((m) => m.kind === 'event')).toMatchObject({
      subject: `${svc.prefix}.event.overlay.created`,
      data: { name: 'w-ov' },
    });
    expect(messages.find((m) => m.kind === 'error')).toMatchObject({
      subject: `${svc.prefix}.error.cmd.overlay.create`,
      data: { code: 'invalid_json' },
    });
  });

  it('refuses a pattern that is not a subject pattern (exit 2)', async () => {
    const r = await runCli(['watch', 'package..built'], conn);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not a subject pattern/);
  });
});

describe('cli: build', () => {
  it('shows the progress lines and events live, then the store path (exit 0)', async () => {
    fixtureFlake('cli-build', 'echo compiling-the-thing; echo linking-the-thing; echo done > $out');
    const r = await runCli(['build', 'path:cli-build'], conn);
    expect(r.stderr).toMatch(/^building path:cli-build#packages\.x86_64-linux\.default/m);
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/PackageBuildStarted\s+package/);
    expect(out).toMatch(/\| package [0-9a-f]{8} {2}pkg> compiling-the-thing/);
    expect(out).toMatch(/PackageBuilt\s+package/);
    expect(out).toMatch(/^built path:cli-build#packages\.x86_64-linux\.default in \d/m);
    expect(out).toMatch(/^ {2}out: \/nix\/store\/[a-z0-9]{32}-pkg$/m);
    // In order: started, the build's own lines, built.
    expect(out.indexOf('PackageBuildStarted')).toBeLessThan(out.indexOf('compiling-the-thing'));
    expect(out.indexOf('compiling-the-thing')).toBeLessThan(out.indexOf('PackageBuilt'));
  });

  it('exits 1 for a failing build and shows the end of its log', async () => {
    fixtureFlake('cli-broken', 'echo "error: the flux capacitor is missing" >&2; exit 3');
    const r = await runCli(['build', '--flake_ref', 'path:cli-broken', '--attribute', ATTR], conn);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/PackageBuildFailed\s+package/);
    expect(r.stderr).toMatch(/^build failed: /m);
    expect(r.stderr).toMatch(/the flux capacitor is missing/);
  });

  it('exits 2 for an attribute that is not an attribute path, before sending', async () => {
    const r = await runCli(['build', 'path:x#not..valid'], conn);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/attribute: must be a dotted attribute path/);
  });
});

describe('cli: serve', () => {
  it('runs the service until SIGTERM (exit 0), and the other commands talk to it', async () => {
    const prefix = uniquePrefix('serve');
    const workspace = await mkdtemp(join(tmpdir(), 'cim-ws-serve-'));
    const service = spawnCli(['serve'], {
      NATS_URL: server.url,
      NIX_DOMAIN_PREFIX: prefix,
      NIX_WORKSPACE: workspace,
      INSPECTOR_PORT: '0',
      LOG_LEVEL: 'info',
    });
    try {
      await service.waitFor(/cim-domain-nix is running/, 'stdout');
      const sent = await runCli(['send', 'config.create', '--name', 'served', '--configuration.hostname', 'served'], {
        NATS_URL: server.url,
        NIX_DOMAIN_PREFIX: prefix,
      });
      expect(sent.code).toBe(0);
      const got = await runCli(['query', 'config.get', '--name', 'served', '--min_sequence', '1', '--json'], {
        NATS_URL: server.url,
        NIX_DOMAIN_PREFIX: prefix,
      });
      expect(JSON.parse(got.stdout)).toMatchObject({
        status: 'ok',
        config: { name: 'served', state: 'created', configuration: { hostname: 'served', system: 'x86_64-linux' } },
      });
    } finally {
      service.child.kill('SIGTERM');
    }
    const end = await service.done;
    await rm(workspace, { recursive: true, force: true });
    expect(end.code).toBe(0);
    expect(end.stdout).toMatch(/cim-domain-nix stopped/);
  });
});
