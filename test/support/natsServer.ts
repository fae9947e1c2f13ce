/**
 * Starts a real `nats-server` for tests: loopback only, random ports (read from the ports
 * file), JetStream in a temp dir, optional extra config (auth, TLS, websocket). It can be
 * stopped, killed and restarted on the same ports, which the fault tests need.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnNatsServer, stopProcess } from './natsProcess.js';

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
    const started = await spawnNatsServer(confPath, portsDir);
    child = started.proc;
    port = started.port;
    const ws = started.ports.websocket?.[0];
    if (ws) wsPort = Number(new URL(ws.replace(/^wss?:/, 'http:')).port);
  };

  const waitExit = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    await stopProcess(proc, signal);
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
