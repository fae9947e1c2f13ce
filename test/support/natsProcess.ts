/**
 * One `nats-server` process for tests, as the single server and every cluster node start it:
 * spawned on a config file, its ports read from the ports file it writes, and known to accept
 * connections before this resolves (a server that dies on the way fails with its stderr).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const BIN = process.env['NATS_SERVER_BIN'] ?? 'nats-server';

export interface PortsFile {
  nats?: string[];
  client?: string[];
  websocket?: string[];
  monitoring?: string[];
}

export interface NatsProcess {
  readonly proc: ChildProcess;
  /** The client port (from the ports file). */
  readonly port: number;
  readonly ports: PortsFile;
  /** The last 4,000 characters the server wrote to stderr. */
  stderr(): string;
}

/** Spawn `nats-server -c confPath` and resolve once it accepts connections; `label` names it in errors. */
export async function spawnNatsServer(confPath: string, portsDir: string, label = 'nats-server'): Promise<NatsProcess> {
  const proc = spawn(BIN, ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<never>((_, reject) => {
    proc.once('error', (e) => reject(new Error(`nats-server could not start (${e.message}); install it: apt-get install -y nats-server`)));
    proc.once('exit', (code, signal) => reject(new Error(`${label} exited early (code ${code}, signal ${signal}):\n${stderr}`)));
  });
  // The race only protects start-up; later exits are expected (stop/kill).
  exited.catch(() => undefined);
  const ports = await Promise.race([readPortsFile(portsDir, proc), exited]);
  const client = ports.nats?.[0] ?? ports.client?.[0];
  if (!client) throw new Error(`${label}: ports file has no client URL: ${JSON.stringify(ports)}`);
  const port = Number(new URL(client.replace(/^nats:/, 'http:')).port);
  // The ports file says it listens; make sure it does, and that it did not die right after.
  const deadline = Date.now() + 5_000;
  while (!(await accepts(port))) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`${label} exited right after start (code ${proc.exitCode}, signal ${proc.signalCode}):\n${stderr}`);
    }
    if (Date.now() > deadline) throw new Error(`${label} wrote its ports file but does not accept connections on ${port}:\n${stderr}`);
    await delay(20);
  }
  return { proc, port, ports, stderr: () => stderr };
}

/** Signal a process and wait for its exit (nothing when it is gone already). */
export async function stopProcess(proc: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const done = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill(signal);
  await done;
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
