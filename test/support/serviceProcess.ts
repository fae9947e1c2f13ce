/**
 * Runs the real service (`src/main.ts`, through tsx's loader, or the built
 * `dist/src/main.js`) as a child process, the way `npm start` does, and reads its JSON log
 * lines so tests can wait for what it says, never sleep.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { deferred } from './deferred.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Settings the service reads; removed from the inherited environment so each test states its own. */
const CONFIG_VARS = [
  'NATS_URL',
  'NATS_USER',
  'NATS_PASSWORD',
  'NATS_TOKEN',
  'NATS_NKEY_SEED',
  'NATS_CREDS',
  'NATS_TLS_CA',
  'NATS_TLS_CERT',
  'NATS_TLS_KEY',
  'NATS_WS_URL',
  'NATS_EMBEDDED',
  'NATS_RECONNECT_INITIAL_MS',
  'NATS_RECONNECT_FACTOR',
  'NATS_RECONNECT_MAX_MS',
  'NATS_RECONNECT_MAX_ATTEMPTS',
  'NIX_DOMAIN_PREFIX',
  'NIX_WORKSPACE',
  'INSPECTOR_PORT',
  'INSPECTOR_ENABLED',
  'INSPECTOR_HOST',
  'INSPECTOR_TOKEN',
  'NATS_INBOX_PREFIX',
  'LOG_LEVEL',
  'LOG_FORMAT',
  'NIX_PASSIVATION_IDLE_MS',
  'NIX_RESIDENT_CAP',
  'NIX_SNAPSHOT_EVERY',
  'NIX_COMMAND_TIMEOUT_MS',
  'NIX_ACTIVATION_ENABLED',
  'NIX_BINARY_CACHE_URL',
  'NIX_REPLICAS',
  'NIX_PARTITIONS',
  'NIX_LEASE_MS',
];

export interface LogLine {
  level?: string;
  msg?: string;
  component?: string;
  state?: string;
  [key: string]: unknown;
}

export interface ServiceProcess {
  readonly pid: number | undefined;
  /** Parsed JSON lines of stdout, in order. */
  readonly lines: readonly LogLine[];
  readonly stdout: string;
  readonly stderr: string;
  /** The working directory (a fresh temp dir unless given). */
  readonly cwd: string;
  /** Connection states in the order logged. */
  states(): string[];
  /** Resolves at exit. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolve with the first log line (past or future) that matches; reject at exit or after `timeoutMs`. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /**
   * The next log line matching, after the lines seen so far. Not for the effect of an action
   * you awaited first: a line that arrived meanwhile counts as seen and is never matched.
   * Take `lines.length` before the action and use {@link waitForLogFrom}.
   */
  waitForNextLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /**
   * The first log line matching at index `from` or later (past or future). With `from` taken
   * as `lines.length` before an action, a line the action causes counts even when it arrives
   * before the action's promise settles (the service can log a server's crash before this
   * process has seen the server exit).
   */
  waitForLogFrom(from: number, match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolve with the exit, or reject when it has not exited within `timeoutMs`. */
  waitForExit(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM, wait (bounded; SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ServiceProcessOptions {
  /** Environment on top of the inherited one (whose service settings are removed). */
  env?: Record<string, string>;
  args?: string[];
  cwd?: string;
  /** `source` runs src/main.ts with tsx's loader (default); `dist` runs the build. */
  mode?: 'source' | 'dist';
}

const running = new Set<ChildProcess>();

/** Start the service. The caller must `stop()` it (or call {@link killAllServiceProcesses}). */
export async function startServiceProcess(options: ServiceProcessOptions = {}): Promise<ServiceProcess> {
  const cwd = options.cwd ?? (await mkdtemp(join(tmpdir(), 'cim-svc-')));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !CONFIG_VARS.includes(k)) env[k] = v;
  Object.assign(env, { NIX_WORKSPACE: join(cwd, 'workspace'), INSPECTOR_PORT: '0', LOG_LEVEL: 'debug' }, options.env);

  const mode = options.mode ?? 'source';
  const entry = mode === 'dist' ? join(ROOT, 'dist', 'src', 'main.js') : join(ROOT, 'src', 'main.ts');
  if (mode === 'dist' && !existsSync(entry)) throw new Error(`${entry} is missing: run npm run build first`);
  // tsx's loader by absolute URL: the service runs in a temp cwd where `tsx` does not resolve.
  const tsxLoader = pathToFileURL(createRequire(join(ROOT, 'package.json')).resolve('tsx')).href;
  const nodeArgs = mode === 'dist' ? [entry] : ['--import', tsxLoader, entry];
  const child = spawn(process.execPath, [...nodeArgs, ...(options.args ?? [])], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);

  const lines: LogLine[] = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  const waiters = new Set<{ from: number; match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();

  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    stdout += chunk;
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const raw of parts) {
      if (!raw.trim()) continue;
      let line: LogLine;
      try {
        line = JSON.parse(raw) as LogLine;
      } catch {
        line = { msg: raw, level: 'raw' };
      }
      lines.push(line);
      for (const w of waiters) {
        if (lines.length - 1 >= w.from && w.match(line)) {
          waiters.delete(w);
          w.resolve(line);
        }
      }
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });

  const exit = deferred<{ code: number | null; signal: NodeJS.Signals | null }>();
  child.once('exit', (code, signal) => {
    running.delete(child);
    exit.resolve({ code, signal });
  });
  child.once('error', (e) => {
    running.delete(child);
    exit.reject(e);
  });
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void exit.promise.then((v) => (exitInfo = v)).catch(() => undefined);

  // The per-attempt lines would push everything else out of the tail; they are left out but
  // counted, with the last one, so a run of attempts (and whether it is still going) shows.
  const isAttempt = (l: LogLine): boolean => String(l.msg).startsWith('NATS reconnect attempt');
  const describeTail = (): string => {
    const attempts = lines.filter(isAttempt);
    const last = attempts.at(-1);
    const omitted = last ? ` (${attempts.length} "NATS reconnect attempt" lines left out; the last: ${JSON.stringify(last)})` : '';
    return `\n--- last log lines${omitted} ---\n${lines
      .filter((l) => !isAttempt(l))
      .slice(-25)
      .map((l) => JSON.stringify(l))
      .join('\n')}\n--- stderr ---\n${stderr.slice(-2000)}`;
  };

  const wait = (from: number, match: (l: LogLine) => boolean, timeoutMs: number): Promise<LogLine> => {
    const found = lines.slice(from).find(match);
    if (found) return Promise.resolve(found);
    const d = deferred<LogLine>();
    const waiter = { from, match, resolve: d.resolve };
    waiters.add(waiter);
    const timer = setTimeout(() => {
      waiters.delete(waiter);
      d.reject(new Error(`no matching log line within ${timeoutMs} ms${describeTail()}`));
    }, timeoutMs);
    void exit.promise.then(({ code, signal }) => {
      // A line may still be in the pipe when exit fires: give stdout its end first.
      setImmediate(() => {
        if (waiters.has(waiter)) {
          waiters.delete(waiter);
          d.reject(new Error(`the service exited (code ${code}, signal ${signal}) before a matching log line${describeTail()}`));
        }
      });
    });
    return d.promise.finally(() => clearTimeout(timer));
  };

  const proc: ServiceProcess = {
    get pid() {
      return child.pid;
    },
    lines,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    cwd,
    states: () => lines.filter((l) => l.component === 'connection' && typeof l.state === 'string').map((l) => l.state as string),
    exited: exit.promise,
    waitForLog: (match, timeoutMs = 20_000) => wait(0, match, timeoutMs),
    waitForNextLog: (match, timeoutMs = 20_000) => wait(lines.length, match, timeoutMs),
    waitForLogFrom: (from, match, timeoutMs = 20_000) => wait(from, match, timeoutMs),
    waitForExit: (timeoutMs = 20_000) => {
      if (exitInfo) return Promise.resolve(exitInfo);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the service did not exit within ${timeoutMs} ms${describeTail()}`)), timeoutMs);
        void exit.promise.then((v) => {
          clearTimeout(timer);
          resolve(v);
        });
      });
    },
    signal: (sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
    stop: async (graceMs = 15_000) => {
      if (exitInfo) return exitInfo;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exit.promise;
      clearTimeout(timer);
      return result;
    },
  };
  return proc;
}

/** SIGKILL every service process still running (afterAll safety net). */
export async function killAllServiceProcesses(): Promise<void> {
  const waits = [...running].map(
    (c) =>
      new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      }),
  );
  await Promise.all(waits);
}

/** Match the connection supervisor's state-change line. */
export const connectionState =
  (state: string) =>
  (l: LogLine): boolean =>
    l.component === 'connection' && l.state === state;
