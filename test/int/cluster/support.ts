/**
 * In-process cluster instances on a real NATS cluster, for the cluster integration tests:
 * each with its own connection (to a different first node), hook events stamped with
 * `performance.now()`, an ownership sampler that fails the test if two instances ever own
 * one partition at once, and a clock that can be paused like a process under SIGSTOP.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { realClock, startCluster, type Cluster, type ClusterClock, type ClusterOptions } from '../../../src/cluster/index.js';
import type { NatsCluster } from '../../support/natsCluster.js';

export interface HookEvent {
  at: number;
  instance: string;
  hook: 'acquired' | 'release' | 'released' | 'lost';
  partition: number;
  takeover?: boolean;
  previousOwner?: string | undefined;
}

/** The real clock, whose timers can be held back while "stopped" (SIGSTOP) as time goes on. */
export class PausableRealClock implements ClusterClock {
  private paused = false;
  private held: (() => void)[] = [];
  now(): number {
    return realClock.now();
  }
  setTimeout(fn: () => void, ms: number): unknown {
    return realClock.setTimeout(() => {
      if (this.paused) this.held.push(fn);
      else fn();
    }, ms);
  }
  clearTimeout(handle: unknown): void {
    realClock.clearTimeout(handle);
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    for (const fn of this.held.splice(0)) fn();
  }
}

export interface Instance {
  id: string;
  nc: NatsConnection;
  cluster: Cluster;
  clock: PausableRealClock;
}

export interface Fleet {
  events: HookEvent[];
  instances: Map<string, Instance>;
  /** Pairs (partition, instances) seen owning one partition at once by the sampler. */
  violations: string[];
  start(id: string, extra?: Partial<ClusterOptions>): Promise<Instance>;
  /** Crash: stop heartbeats abruptly and drop the connection (no release, no leave). */
  crash(id: string): Promise<void>;
  owners(): Map<number, string[]>;
  /** Every partition owned by exactly one of `ids`, and all of them agree on the owner. */
  settled(ids: readonly string[]): boolean;
  dispose(): Promise<void>;
}

export function fleet(nats: NatsCluster, prefix: string, options: { partitions: number; leaseMs?: number; replicas?: number }): Fleet {
  const events: HookEvent[] = [];
  const instances = new Map<string, Instance>();
  const violations: string[] = [];
  let started = 0;

  const owners = (): Map<number, string[]> => {
    const out = new Map<number, string[]>();
    for (const inst of instances.values()) {
      for (let p = 0; p < options.partitions; p++) if (inst.cluster.owns(p)) out.set(p, [...(out.get(p) ?? []), inst.id]);
    }
    return out;
  };
  const sampler = setInterval(() => {
    for (const [p, who] of owners())
      if (who.length > 1) violations.push(`partition ${p}: ${who.join(', ')} at ${performance.now().toFixed(0)}`);
  }, 5);

  const f: Fleet = {
    events,
    instances,
    violations,
    async start(id, extra = {}) {
      const urls = nats.urls;
      const first = started++ % urls.length;
      // Each instance starts on another node, and fails over to the rest.
      const servers = [...urls.slice(first), ...urls.slice(0, first)];
      const nc = await connect({ servers, noRandomize: true, maxReconnectAttempts: -1, reconnectTimeWait: 250, name: id });
      const clock = new PausableRealClock();
      const cluster = await startCluster({
        nc,
        prefix,
        instanceId: id,
        host: 'int-test',
        version: 'test',
        partitions: options.partitions,
        leaseMs: options.leaseMs ?? 3000,
        replicas: options.replicas ?? 3,
        clock,
        hooks: {
          acquired: (partition, info) => {
            events.push({
              at: performance.now(),
              instance: id,
              hook: 'acquired',
              partition,
              takeover: info.takeover,
              previousOwner: info.previousOwner,
            });
          },
          release: (partition) => {
            events.push({ at: performance.now(), instance: id, hook: 'release', partition });
            return Promise.resolve();
          },
          lost: (partition) => {
            events.push({ at: performance.now(), instance: id, hook: 'lost', partition });
          },
        },
        ...extra,
      });
      const inst = { id, nc, cluster, clock };
      instances.set(id, inst);
      return inst;
    },
    async crash(id) {
      const inst = instances.get(id);
      if (!inst) throw new Error(`no instance ${id}`);
      await inst.cluster.stop();
      await inst.nc.close();
      instances.delete(id);
    },
    owners,
    settled(ids) {
      const o = owners();
      const loads = new Map<string, number>();
      for (const who of o.values()) for (const id of who) loads.set(id, (loads.get(id) ?? 0) + 1);
      const floor = Math.floor(options.partitions / ids.length);
      if (ids.some((id) => (loads.get(id) ?? 0) < floor || (loads.get(id) ?? 0) > floor + 1)) return false;
      for (let p = 0; p < options.partitions; p++) {
        const who = o.get(p) ?? [];
        if (who.length !== 1 || !ids.includes(who[0] ?? '')) return false;
        for (const id of ids) if (instances.get(id)?.cluster.ownerOf(p) !== who[0]) return false;
      }
      return true;
    },
    async dispose() {
      clearInterval(sampler);
      for (const inst of instances.values()) {
        await inst.cluster.stop();
        await inst.nc.close();
      }
      instances.clear();
    },
  };
  return f;
}

/** Partitions each instance owns. */
export function loadsOf(f: Fleet): Record<string, number> {
  const out: Record<string, number> = {};
  for (const who of f.owners().values()) for (const id of who) out[id] = (out[id] ?? 0) + 1;
  return out;
}

let counter = 0;
/** A unique subject prefix per test, so tests sharing the NATS cluster never see each other. */
export function uniquePrefix(label = 'cl'): string {
  counter++;
  return `${label}${process.pid}x${counter}${Math.floor(Math.random() * 1e6)}`;
}

/** min / median / max of a list of milliseconds, as text. */
export function spread(ms: number[]): string {
  if (ms.length === 0) return 'none';
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return `min ${at(0).toFixed(0)} ms, median ${at(0.5).toFixed(0)} ms, max ${(s.at(-1) ?? 0).toFixed(0)} ms`;
}
