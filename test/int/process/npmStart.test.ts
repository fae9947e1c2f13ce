/**
 * `npm start` under a process manager: a SIGTERM to the pid of the process `npm start`
 * created (npm itself, not its process group) stops the service and its embedded
 * nats-server within a few seconds, and frees their ports.
 *
 * Runs `npm start` exactly as a user does (ensure-deps, build, then the service) with the
 * workspace in a temp dir and the inspector on a free port. The embedded server always
 * listens on 127.0.0.1:4222, so the test waits (bounded) for that port to be free, as the
 * embedded-server test does (and starts again should another server take the port while
 * npm start builds), and kills whatever it started in afterAll.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeSettings } from '../../../src/config.js';
import { somethingListens } from '../../../src/messaging/embeddedServer.js';
import { deferred } from '../../support/deferred.js';
import { ROOT, type LogLine } from '../../support/serviceProcess.js';

const started: { npm?: ChildProcess; pids: number[]; dir?: string } = { pids: [] };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

afterAll(async () => {
  if (started.npm?.exitCode === null && started.npm.signalCode === null) started.npm.kill('SIGKILL');
  for (const pid of started.pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  if (started.dir) await rm(started.dir, { recursive: true, force: true, maxRetries: 10 });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The environment of a user's shell: no service settings, no npm variables of the test runner. */
function userEnv(extra: Record<string, string>): Record<string, string> {
  const drop = new Set([...describeSettings().map((s) => s.env), 'LOG_FORMAT']);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !drop.has(k) && !/^npm_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

interface NpmStart {
  npm: ChildProcess;
  lines: LogLine[];
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** `running` once the service runs; `busy` when another server took 4222 first (the service then has no embedded one). */
  ready: Promise<'running' | 'busy'>;
}

/** `npm start` as a user runs it, reading the JSON log lines among npm's own output. */
function npmStart(env: Record<string, string>): NpmStart {
  const npm = spawn('npm', ['start'], { cwd: ROOT, env: userEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  started.npm = npm;
  const exited = deferred<{ code: number | null; signal: NodeJS.Signals | null }>();
  npm.once('exit', (code, signal) => exited.resolve({ code, signal }));
  const lines: LogLine[] = [];
  const ready = deferred<'running' | 'busy'>();
  let output = '';
  let partial = '';
  npm.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const raw of parts) {
      if (!raw.startsWith('{')) continue;
      const line = JSON.parse(raw) as LogLine;
      lines.push(line);
      for (const key of ['pid', 'server_pid']) {
        const pid = line[key];
        if (typeof pid === 'number' && !started.pids.includes(pid)) started.pids.push(pid);
      }
      if (line.msg === 'no embedded nats-server' && String(line['reason']).startsWith('a server already answers')) ready.resolve('busy');
      if (line.msg === 'cim-domain-nix is running') ready.resolve('running');
    }
  });
  npm.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  void exited.promise.then(({ code, signal }) =>
    ready.reject(new Error(`npm start exited (code ${code}, signal ${signal}) before the service ran:\n${output.slice(-4000)}`)),
  );
  return { npm, lines, output: () => output, exited: exited.promise, ready: ready.promise };
}

describe('npm start', () => {
  it(
    'stops the service and its embedded nats-server within a few seconds of a SIGTERM to the npm process',
    { timeout: 600_000 },
    async () => {
      started.dir = await mkdtemp(join(tmpdir(), 'cim-npm-start-'));
      const inspectorPort = await freePort();
      const env = { NIX_WORKSPACE: join(started.dir, 'workspace'), INSPECTOR_PORT: String(inspectorPort), LOG_LEVEL: 'info' };
      let run: NpmStart | undefined;
      // 4222 is shared with other suites (and other checkouts): another server may take it
      // while npm start builds. Then this run has no embedded server: stop it and try again.
      for (let attempt = 1; attempt <= 3 && run === undefined; attempt++) {
        await expect
          .poll(() => somethingListens('127.0.0.1', 4222), {
            timeout: 120_000,
            interval: 250,
            message: 'port 4222 stayed busy: stop whatever listens there (this test needs the embedded server)',
          })
          .toBe(false);
        const candidate = npmStart(env);
        if ((await candidate.ready) === 'running') run = candidate;
        else {
          candidate.npm.kill('SIGTERM');
          await candidate.exited;
        }
      }
      expect(run, 'port 4222 was taken by another server during three attempts').toBeDefined();
      const { npm, lines, output, exited } = run!;

      const embedded = lines.find(
        (l) => typeof l.msg === 'string' && l.msg.startsWith('embedded nats-server running at nats://127.0.0.1:4222'),
      );
      expect(embedded, output().slice(-4000)).toBeDefined();
      const serverPid = embedded!['server_pid'] as number;
      const servicePid = embedded!['pid'] as number;
      expect(servicePid).not.toBe(npm.pid);
      expect(alive(servicePid) && alive(serverPid)).toBe(true);
      expect(await somethingListens('127.0.0.1', inspectorPort)).toBe(true);

      // What a process manager does: SIGTERM to the pid it started, not to its group.
      npm.kill('SIGTERM');
      await expect.poll(() => alive(servicePid) || alive(serverPid), { timeout: 5_000, interval: 100 }).toBe(false);
      expect(await somethingListens('127.0.0.1', 4222)).toBe(false);
      expect(await somethingListens('127.0.0.1', inspectorPort)).toBe(false);
      expect(await exited, output().slice(-2000)).toEqual({ code: 0, signal: null });
      expect(lines.some((l) => l.msg === 'embedded nats-server stopped')).toBe(true);
      expect(lines.find((l) => l.msg === 'cim-domain-nix stopped')).toMatchObject({ exit_code: 0 });
    },
  );
});
