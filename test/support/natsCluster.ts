/**
 * Starts a real three-node nats-server cluster for tests: loopback only, client ports picked
 * by the servers (read from their ports files), route ports picked free by binding port 0,
 * a `server_name` per node, JetStream in a temp dir per node. It returns once the cluster has
 * a JetStream meta leader and an R3 stream can be placed, so tests never wait on a cluster
 * that is still forming. Nodes can be killed (SIGKILL), stopped and restarted on the same ports
 * with their data, which the failover tests need.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { spawnNatsServer, stopProcess } from './natsProcess.js';

export interface NatsClusterOptions {
  /** Number of nodes (default 3). */
  nodes?: number;
  /** Cluster name (default `cim-test`). */
  name?: string;
  /** Extra config text appended to every node's file. */
  config?: string;
  /**
   * Write each node's whole config instead (e.g. a documented example with its hosts and ports
   * replaced): given the node's name, its route port, every node's route URL, its JetStream
   * directory and its client port (-1 at first start). `ports_file_dir` is appended.
   */
  template?: (node: { name: string; routePort: number; routes: string[]; storeDir: string; port: number }) => string;
}

export interface NatsClusterNode {
  /** `n1`, `n2`, … — also the node's `server_name`. */
  readonly name: string;
  /** `nats://127.0.0.1:<port>` (stable across restarts). */
  readonly url: string;
  readonly port: number;
  readonly routePort: number;
  readonly pid: number | undefined;
  /** True while the process runs. */
  readonly running: boolean;
}

export interface NatsCluster {
  readonly nodes: readonly NatsClusterNode[];
  /** Every node's client URL, for a client that fails over between them. */
  readonly urls: string[];
  /** The node by index (0-based) or name. */
  node(which: number | string): NatsClusterNode;
  /** SIGKILL a node and wait for its exit: a crashed machine. */
  kill(which: number | string): Promise<void>;
  /** SIGTERM (lame-duck free, graceful) and wait for its exit. */
  stop(which: number | string): Promise<void>;
  /** Start a stopped or killed node again on the same ports with its data; waits for a meta leader. */
  restart(which: number | string): Promise<void>;
  /** Resolve once JetStream has a meta leader and can place a stream with `replicas` (bounded). */
  waitReady(replicas?: number, timeoutMs?: number): Promise<void>;
  /** The `server_name` of the current leader of a stream (undefined while it has none). */
  streamLeader(stream: string): Promise<string | undefined>;
  /** Kill every node and remove the data directories. */
  dispose(): Promise<void>;
}

interface NodeState {
  name: string;
  dir: string;
  portsDir: string;
  confPath: string;
  port: number;
  routePort: number;
  child: ChildProcess | undefined;
  stderr: () => string;
}

/** Start the cluster and wait until JetStream can place an R3 stream on it. */
export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const count = options.nodes ?? 3;
  const clusterName = options.name ?? 'cim-test';
  const root = await mkdtemp(join(tmpdir(), 'cim-nats-cluster-'));
  const routePorts = await freePorts(count);
  const states: NodeState[] = [];
  for (let i = 0; i < count; i++) {
    const name = `n${i + 1}`;
    const dir = join(root, name);
    const portsDir = join(dir, 'ports');
    await mkdir(portsDir, { recursive: true });
    states.push({
      name,
      dir,
      portsDir,
      confPath: join(dir, 'server.conf'),
      port: -1,
      routePort: routePorts[i] ?? 0,
      child: undefined,
      stderr: () => '',
    });
  }

  const writeConfig = async (s: NodeState): Promise<void> => {
    if (options.template) {
      const text = options.template({
        name: s.name,
        routePort: s.routePort,
        routes: states.map((o) => `nats-route://127.0.0.1:${o.routePort}`),
        storeDir: join(s.dir, 'js'),
        port: s.port,
      });
      await writeFile(s.confPath, `${text}\nports_file_dir: "${s.portsDir}"\n`);
      return;
    }
    const routes = states.map((o) => `nats-route://127.0.0.1:${o.routePort}`).join(', ');
    const lines = [
      `server_name: "${s.name}"`,
      `listen: "127.0.0.1:${s.port}"`,
      `ports_file_dir: "${s.portsDir}"`,
      `jetstream { store_dir: "${join(s.dir, 'js')}", max_memory_store: 256MB, max_file_store: 2GB }`,
      `cluster { name: "${clusterName}", listen: "127.0.0.1:${s.routePort}", routes: [${routes}] }`,
    ];
    if (options.config) lines.push(options.config);
    await writeFile(s.confPath, lines.join('\n') + '\n');
  };

  const launch = async (s: NodeState): Promise<void> => {
    await rm(s.portsDir, { recursive: true, force: true });
    await mkdir(s.portsDir, { recursive: true });
    await writeConfig(s);
    const started = await spawnNatsServer(s.confPath, s.portsDir, `nats-server ${s.name}`);
    s.child = started.proc;
    s.port = started.port;
    s.stderr = started.stderr;
  };

  const waitExit = async (s: NodeState, signal: NodeJS.Signals): Promise<void> => {
    const proc = s.child;
    s.child = undefined;
    await stopProcess(proc, signal);
  };

  const pick = (which: number | string): NodeState => {
    const s = typeof which === 'number' ? states[which] : states.find((x) => x.name === which);
    if (!s) throw new Error(`no node ${String(which)} in this cluster (nodes: ${states.map((x) => x.name).join(', ')})`);
    return s;
  };

  const view = (s: NodeState): NatsClusterNode => ({
    name: s.name,
    get url() {
      return `nats://127.0.0.1:${s.port}`;
    },
    get port() {
      return s.port;
    },
    routePort: s.routePort,
    get pid() {
      return s.child?.pid;
    },
    get running() {
      return s.child !== undefined && s.child.exitCode === null && s.child.signalCode === null;
    },
  });

  const urlsOf = (): string[] => states.map((s) => `nats://127.0.0.1:${s.port}`);

  /** One client connected to the running nodes, for readiness checks. */
  const withClient = async <T>(fn: (nc: NatsConnection) => Promise<T>): Promise<T> => {
    const servers = states.filter((s) => s.child).map((s) => `nats://127.0.0.1:${s.port}`);
    const nc = await connect({ servers, timeout: 2_000, reconnect: false });
    try {
      return await fn(nc);
    } finally {
      await nc.close();
    }
  };

  const waitReady = async (replicas = count, timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let last = 'no attempt';
    while (Date.now() < deadline) {
      try {
        await withClient(async (nc) => {
          const jsm = await jetstreamManager(nc, { timeout: 2_000 });
          // Needs a meta leader; placing an R<n> stream needs n peers known to it.
          const probe = `HARNESS_PROBE_${process.pid}_${Date.now()}`;
          await jsm.streams.add({
            name: probe,
            subjects: [`harness.probe.${process.pid}.${Date.now()}`],
            num_replicas: replicas,
            storage: 'memory',
          });
          await jsm.streams.delete(probe);
        });
        return;
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
      }
      await delay(100);
    }
    const tails = states.map((s) => `--- ${s.name} ---\n${s.stderr().slice(-800)}`).join('\n');
    throw new Error(`the NATS cluster did not become ready for R${replicas} streams within ${timeoutMs} ms (last: ${last})\n${tails}`);
  };

  try {
    // All at once: each node's routes name the others, and the cluster forms as they come up.
    await Promise.all(states.map((s) => launch(s)));
    await waitReady(count);
  } catch (e) {
    await Promise.all(states.map((s) => waitExit(s, 'SIGKILL')));
    await rm(root, { recursive: true, force: true });
    throw e;
  }

  const cluster: NatsCluster = {
    nodes: states.map(view),
    get urls() {
      return urlsOf();
    },
    node: (which) => view(pick(which)),
    kill: (which) => waitExit(pick(which), 'SIGKILL'),
    stop: (which) => waitExit(pick(which), 'SIGTERM'),
    restart: async (which) => {
      const s = pick(which);
      await waitExit(s, 'SIGTERM');
      await launch(s);
      await waitReady(Math.min(count, states.filter((x) => x.child).length));
    },
    waitReady,
    streamLeader: (stream) =>
      withClient(async (nc) => {
        const jsm = await jetstreamManager(nc, { timeout: 2_000 });
        const info = await jsm.streams.info(stream);
        return info.cluster?.leader;
      }),
    dispose: async () => {
      await Promise.all(states.map((s) => waitExit(s, 'SIGKILL')));
      await rm(root, { recursive: true, force: true });
    },
  };
  return cluster;
}

/**
 * Environment for a service process on this cluster: every node's URL (so it fails over) and
 * the cluster settings. Pass it as `startServiceProcess({ env: clusterEnv(cluster, …) })`.
 */
export function clusterEnv(
  cluster: Pick<NatsCluster, 'urls'>,
  settings: { prefix: string; replicas?: number; partitions?: number; leaseMs?: number } & Record<string, unknown>,
): Record<string, string> {
  const env: Record<string, string> = {
    NATS_URL: cluster.urls.join(','),
    NIX_DOMAIN_PREFIX: settings.prefix,
    NIX_REPLICAS: String(settings.replicas ?? 3),
  };
  if (settings.partitions !== undefined) env['NIX_PARTITIONS'] = String(settings.partitions);
  if (settings.leaseMs !== undefined) env['NIX_LEASE_MS'] = String(settings.leaseMs);
  return env;
}

/** `n` distinct free loopback ports (bound to port 0, read, closed; all held until all are read). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const srv = createServer();
          srv.once('error', reject);
          srv.listen(0, '127.0.0.1', () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((srv) => {
    const addr = srv.address();
    if (addr === null || typeof addr === 'string') throw new Error('could not read a free port');
    return addr.port;
  });
  await Promise.all(servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
  return ports;
}
