/**
 * Starts a real `nats-server` for tests: loopback only, random ports (read from the ports
 * file), JetStream in a temp dir, optional extra config (auth, TLS, websocket). It can be
 * stopped, killed and restarted on the same ports, which the fault tests need.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export interface NatsServerOptions {
  /** Extra nats-server config text, appended to the generated file (auth, tls, accounts…). */
  config?: string;
  /** Open a websocket listener on a random loopback port (no TLS). */
  websocket?: boolean;
  /** Enable JetStream (default true). */
  jetstream?: boolean;
  /** Reuse this directory for JetStream data and config (to restart a server with its data). */
  dir?: string;
}

export interface NatsServer {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** `ws://127.0.0.1:<port>` when websocket was asked for. */
  readonly wsUrl: string | undefined;
  /** The directory with the config file and JetStream data. */
  readonly dir: string;
  readonly pid: number | undefined;
  /** Graceful stop (SIGTERM), waits for exit. */
  stop(): Promise<void>;
  /** SIGKILL, waits for exit: the fault tests' crash. */
  kill(): Promise<void>;
  /** Start again on the same ports with the same data. */
  restart(): Promise<void>;
  /** Stop and remove the data directory. */
  dispose(): Promise<void>;
}

const BIN = process.env['NATS_SERVER_BIN'] ?? 'nats-server';

/** Start a server and resolve once its ports file says it listens. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'cim-nats-')));
  const portsDir = join(dir, 'ports');
  await mkdir(portsDir, { recursive: true });
  const confPath = join(dir, 'server.conf');

  let port = -1;
  let wsPort = -1;
  let child: ChildProcess | undefined;

  const writeConfig = async (): Promise<void> => {
    const lines = [
      `listen: "127.0.0.1:${port}"`,
      `server_name: "test-${process.pid}"`,
      `ports_file_dir: "${portsDir}"`,
      'max_payload: 8MB',
    ];
    if (options.jetstream !== false) {
      lines.push(`jetstream { store_dir: "${join(dir, 'js')}", max_memory_store: 256MB, max_file_store: 4GB }`);
    }
    if (options.websocket) {
      lines.push(`websocket { listen: "127.0.0.1:${wsPort}", no_tls: true }`);
    }
    if (options.config) lines.push(options.config);
    await writeFile(confPath, lines.join('\n') + '\n');
  };

  const launch = async (): Promise<void> => {
    await rm(portsDir, { recursive: true, force: true });
    await mkdir(portsDir, { recursive: true });
    await writeConfig();
    const proc = spawn(BIN, ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const exited = new Promise<never>((_, reject) => {
      proc.once('error', (e) => reject(new Error(`nats-server could not start (${e.message}); install it: apt-get install -y nats-server`)));
      proc.once('exit', (code, signal) =>
        reject(new Error(`nats-server exited early (code ${code}, signal ${signal}):\n${stderr}`)),
      );
    });
    const ports = await Promise.race([readPortsFile(portsDir, proc), exited]);
    // The race only protects start-up; later exits are expected (stop/kill).
    exited.catch(() => undefined);
    const client = ports.nats?.[0] ?? ports.client?.[0];
    if (!client) throw new Error(`nats-server ports file has no client URL: ${JSON.stringify(ports)}`);
    port = Number(new URL(client.replace(/^nats:/, 'http:')).port);
    const ws = ports.websocket?.[0];
    if (ws) wsPort = Number(new URL(ws.replace(/^wss?:/, 'http:')).port);
    // The ports file says it listens; make sure it does, and that it did not die right after.
    const deadline = Date.now() + 5_000;
    while (!(await accepts(port))) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`nats-server exited right after start (code ${proc.exitCode}, signal ${proc.signalCode}):\n${stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`nats-server wrote its ports file but does not accept connections on ${port}:\n${stderr}`);
      await delay(20);
    }
  };

  const waitExit = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const done = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await done;
  };

  await launch();

  const server: NatsServer = {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get wsUrl() {
      return options.websocket ? `ws://127.0.0.1:${wsPort}` : undefined;
    },
    dir,
    get pid() {
      return child?.pid;
    },
    stop: () => waitExit('SIGTERM'),
    kill: () => waitExit('SIGKILL'),
    restart: async () => {
      await waitExit('SIGTERM');
      await launch();
    },
    dispose: async () => {
      await waitExit('SIGKILL');
      if (!options.dir) await rm(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Does something accept a TCP connection on the loopback port? */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

interface PortsFile {
  nats?: string[];
  client?: string[];
  websocket?: string[];
  monitoring?: string[];
}

/** Poll the ports file the server writes once it listens (bounded: 10 s). */
async function readPortsFile(portsDir: string, proc: ChildProcess): Promise<PortsFile> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const files = await readdir(portsDir).catch(() => [] as string[]);
    const mine = files.find((f) => f.endsWith(`_${proc.pid}.ports`));
    if (mine) {
      const text = await readFile(join(portsDir, mine), 'utf8').catch(() => '');
      if (text.trim()) {
        try {
          return JSON.parse(text) as PortsFile;
        } catch {
          // written but not complete yet: read again
        }
      }
    }
    await delay(10);
  }
  throw new Error('nats-server did not write its ports file within 10 s');
}
