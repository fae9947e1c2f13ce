/**
 * The embedded default: when no NATS URL is configured, nothing answers at
 * nats://127.0.0.1:4222 and `nats-server` is installed, the service runs one as a child
 * process, with JetStream under `<workspace>/.nats` and a websocket listener on loopback
 * for the inspector page. It is stopped when the service stops.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { delimiter, isAbsolute, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Config } from '../config.js';
import { ensureError } from '../errors.js';
import type { Logger } from '../logging.js';

export const EMBEDDED_HOST = '127.0.0.1';
export const EMBEDDED_PORT = 4222;

export interface EmbeddedServer {
  /** `nats://127.0.0.1:4222` */
  readonly url: string;
  /** `ws://127.0.0.1:<port>`: the inspector page connects here. */
  readonly wsUrl: string;
  /** The directory with the config, the ports file and the JetStream store. */
  readonly dir: string;
  readonly pid: number | undefined;
  /** Resolves when the process exits (for whatever reason). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after a grace period; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Does anything accept a TCP connection at host:port (within `timeoutMs`)? */
export function somethingListens(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const done = (answer: boolean): void => {
      socket.removeAllListeners();
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The absolute path of an executable on PATH (or the given path when it is executable), if any. */
export function findExecutable(name: string, env: Record<string, string | undefined> = process.env): string | undefined {
  const candidates =
    isAbsolute(name) || name.includes('/')
      ? [name]
      : (env['PATH'] ?? '')
          .split(delimiter)
          .filter(Boolean)
          .map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here: try the next directory
    }
  }
  return undefined;
}

export interface EmbeddedDecision {
  start: boolean;
  /** Why (logged). */
  reason: string;
  bin?: string;
}

/** Decide whether to run an embedded server, following SPEC §7. */
export async function shouldEmbed(config: Config, env: Record<string, string | undefined> = process.env): Promise<EmbeddedDecision> {
  if (config.natsUrlExplicit) return { start: false, reason: 'a NATS URL is configured' };
  if (!config.nats.embedded) return { start: false, reason: 'the embedded server is turned off (NATS_EMBEDDED=false)' };
  if (await somethingListens(EMBEDDED_HOST, EMBEDDED_PORT)) {
    return { start: false, reason: `a server already answers at nats://${EMBEDDED_HOST}:${EMBEDDED_PORT}` };
  }
  const bin = findExecutable(env['NATS_SERVER_BIN'] ?? 'nats-server', env);
  if (!bin) {
    return {
      start: false,
      reason: 'nats-server is not installed (apt-get install -y nats-server), so no embedded server can be started',
    };
  }
  return { start: true, reason: 'no NATS URL is configured and nothing answers at the default URL', bin };
}

export interface EmbeddedServerOptions {
  workspace: string;
  logger: Logger;
  bin?: string;
  host?: string;
  port?: number;
}

/** Start nats-server with JetStream in `<workspace>/.nats`; resolves once it listens (bounded: 15 s). */
export async function startEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const log = options.logger.child({ component: 'embedded-nats' });
  const host = options.host ?? EMBEDDED_HOST;
  const port = options.port ?? EMBEDDED_PORT;
  const dir = join(options.workspace, '.nats');
  const portsDir = join(dir, 'ports');
  const storeDir = join(dir, 'jetstream');
  await mkdir(storeDir, { recursive: true });
  await rm(portsDir, { recursive: true, force: true });
  await mkdir(portsDir, { recursive: true });
  const confPath = join(dir, 'nats-server.conf');
  const conf = [
    '# Written by cim-domain-nix for its embedded server; rewritten on every start.',
    'server_name: "cim-domain-nix-embedded"',
    `listen: ${JSON.stringify(`${host}:${port}`)}`,
    `ports_file_dir: ${JSON.stringify(portsDir)}`,
    `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
    `websocket { listen: ${JSON.stringify(`${host}:-1`)}, no_tls: true }`,
    '',
  ].join('\n');
  await writeFile(confPath, conf);

  const bin = options.bin ?? 'nats-server';
  // Its own process group: a Ctrl-C in the terminal reaches the service only, which then
  // stops the server after draining (otherwise the server would go first).
  const child: ChildProcess = spawn(bin, ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-4000);
    for (const line of chunk.split('\n')) {
      if (!line.trim()) continue;
      if (line.includes('[ERR]') || line.includes('[FTL]')) log.error({ line }, 'nats-server');
      // Plain websocket is intended here: it listens on loopback only.
      else if (line.includes('[WRN]') && !line.includes('Websocket not configured with TLS')) log.warn({ line }, 'nats-server');
      else log.debug({ line }, 'nats-server');
    }
  });

  let stopping = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  void exited.then(({ code, signal }) => {
    if (!stopping) log.error({ code, signal, stderr: tail }, 'the embedded nats-server exited unexpectedly');
  });

  const failedEarly = new Promise<never>((_, reject) => {
    child.once('error', (e) => reject(new Error(`cannot run ${bin}: ${e.message}; install it with: apt-get install -y nats-server`)));
    void exited.then(({ code, signal }) =>
      reject(new Error(`the embedded nats-server exited during start-up (code ${code}, signal ${signal}):\n${tail}`)),
    );
  });
  failedEarly.catch(() => undefined);

  let wsUrl: string;
  try {
    const ports = await Promise.race([readPortsFile(portsDir, child), failedEarly]);
    const ws = ports.websocket?.[0];
    if (!ws) throw new Error(`the embedded nats-server reports no websocket listener: ${JSON.stringify(ports)}`);
    wsUrl = ws;
  } catch (e) {
    stopping = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    throw ensureError(e);
  }

  const url = `nats://${host}:${port}`;
  let stopPromise: Promise<void> | undefined;
  const server: EmbeddedServer = {
    url,
    wsUrl,
    dir,
    pid: child.pid,
    exited,
    stop() {
      stopPromise ??= (async () => {
        stopping = true;
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const { code, signal } = await exited;
        clearTimeout(timer);
        log.info({ code, signal }, 'embedded nats-server stopped');
      })();
      return stopPromise;
    },
  };
  return server;
}

interface PortsFile {
  nats?: string[];
  websocket?: string[];
}

/** Poll the ports file nats-server writes once it listens (bounded: 15 s). */
async function readPortsFile(portsDir: string, child: ChildProcess): Promise<PortsFile> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const files = await readdir(portsDir).catch(() => [] as string[]);
    const mine = files.find((f) => f.endsWith(`_${child.pid}.ports`));
    if (mine) {
      const text = await readFile(join(portsDir, mine), 'utf8').catch(() => '');
      try {
        if (text.trim()) return JSON.parse(text) as PortsFile;
      } catch {
        // written but not complete yet: read again
      }
    }
    await delay(20);
  }
  throw new Error('the embedded nats-server did not report its ports within 15 s');
}
