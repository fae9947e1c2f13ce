/**
 * Several cluster instances in virtual time: one XState `SimulatedClock`, one in-memory KV
 * server, a connection per instance (which a test can cut), and a per-instance clock that can
 * be paused like a process under SIGSTOP (its timers wait; time goes on). `advance` moves time
 * in small steps and, after every step, checks the one safety property that matters: no
 * partition is owned by two instances.
 */
import { expect } from 'vitest';
import { SimulatedClock } from 'xstate';
import {
  MemoryKvServer,
  startCluster,
  type AcquiredInfo,
  type Cluster,
  type ClusterClock,
  type ClusterOptions,
  type LostInfo,
  type MemoryKvConnection,
} from '../../../src/cluster/index.js';

export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A clock whose timers can be held back (the process is stopped) while time goes on. */
export class PausableClock implements ClusterClock {
  private paused = false;
  private readonly held: (() => void)[] = [];
  private readonly live = new Map<number, number>();
  private next = 0;

  constructor(private readonly inner: SimulatedClock) {}

  now(): number {
    return this.inner.now();
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.next;
    const handle = this.inner.setTimeout(() => {
      this.live.delete(id);
      if (this.paused) this.held.push(fn);
      else fn();
    }, ms);
    this.live.set(id, handle);
    return id;
  }
  clearTimeout(id: unknown): void {
    const handle = this.live.get(id as number);
    if (handle !== undefined) this.inner.clearTimeout(handle);
    this.live.delete(id as number);
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    for (const fn of this.held.splice(0)) fn();
  }
}

export interface HookEvent {
  at: number;
  instance: string;
  hook: 'acquired' | 'release' | 'lost';
  partition: number;
  info?: AcquiredInfo | LostInfo;
}

export interface SimInstance {
  id: string;
  cluster: Cluster;
  conn: MemoryKvConnection;
  clock: PausableClock;
}

export interface Simulation {
  clock: SimulatedClock;
  server: MemoryKvServer;
  events: HookEvent[];
  instances: Map<string, SimInstance>;
  start(id: string, extra?: Partial<ClusterOptions>): Promise<SimInstance>;
  /** Advance virtual time by `ms` in steps, checking single ownership after each. */
  advance(ms: number, step?: number): Promise<void>;
  /** Advance until `done()` holds (bounded by `maxMs`); returns the virtual time it took. */
  until(done: () => boolean, maxMs: number, step?: number): Promise<number>;
  /** Partition → instances that own it now. */
  owners(): Map<number, string[]>;
  /** Stop every instance. */
  stopAll(): Promise<void>;
}

export interface SimOptions {
  partitions?: number;
  leaseMs?: number;
  kvTimeoutMs?: number;
  /** Time the release hook takes (virtual ms; default 0). */
  releaseMs?: number;
}

export function simulation(options: SimOptions = {}): Simulation {
  const clock = new SimulatedClock();
  const server = new MemoryKvServer({ clock, timeoutMs: options.kvTimeoutMs ?? 500 });
  const events: HookEvent[] = [];
  const instances = new Map<string, SimInstance>();

  const owners = (): Map<number, string[]> => {
    const out = new Map<number, string[]>();
    for (const inst of instances.values()) {
      for (let p = 0; p < inst.cluster.partitions; p++) {
        if (inst.cluster.owns(p)) out.set(p, [...(out.get(p) ?? []), inst.id]);
      }
    }
    return out;
  };

  const checkSingleOwners = (): void => {
    for (const [p, who] of owners()) {
      if (who.length > 1) expect.fail(`partition ${p} owned by ${who.join(' and ')} at ${clock.now()} ms`);
    }
  };

  const sim: Simulation = {
    clock,
    server,
    events,
    instances,
    async start(id, extra = {}) {
      const conn = server.connect();
      const own = new PausableClock(clock);
      const releaseMs = options.releaseMs ?? 0;
      const cluster = await startCluster({
        kv: conn,
        prefix: 'nix',
        instanceId: id,
        host: 'sim',
        version: 'test',
        partitions: options.partitions ?? 16,
        leaseMs: options.leaseMs ?? 3000,
        clock: own,
        hooks: {
          acquired: (partition, info) => {
            events.push({ at: clock.now(), instance: id, hook: 'acquired', partition, info });
          },
          release: (partition) => {
            events.push({ at: clock.now(), instance: id, hook: 'release', partition });
            if (releaseMs === 0) return Promise.resolve();
            return new Promise<void>((resolve) => own.setTimeout(resolve, releaseMs));
          },
          lost: (partition, info) => {
            events.push({ at: clock.now(), instance: id, hook: 'lost', partition, info });
          },
        },
        ...extra,
      });
      const inst = { id, cluster, conn, clock: own };
      instances.set(id, inst);
      await flush();
      checkSingleOwners();
      return inst;
    },
    async advance(ms, step = 10) {
      for (let t = 0; t < ms; t += step) {
        clock.increment(Math.min(step, ms - t));
        await flush();
        checkSingleOwners();
      }
    },
    async until(done, maxMs, step = 10) {
      const start = clock.now();
      while (!done()) {
        if (clock.now() - start >= maxMs) expect.fail(`condition not reached within ${maxMs} virtual ms`);
        clock.increment(step);
        await flush();
        checkSingleOwners();
      }
      return clock.now() - start;
    },
    owners,
    async stopAll() {
      for (const inst of instances.values()) await inst.cluster.stop();
    },
  };
  return sim;
}

/** Partitions each instance owns now. */
export function loads(sim: Simulation): Map<string, number> {
  const out = new Map<string, number>();
  for (const inst of sim.instances.values()) {
    let n = 0;
    for (let p = 0; p < inst.cluster.partitions; p++) if (inst.cluster.owns(p)) n++;
    out.set(inst.id, n);
  }
  return out;
}

/** True when every partition is owned by exactly one of `ids`, loads are within ±1, and everyone agrees on ownerOf. */
export function settled(sim: Simulation, ids: readonly string[], partitions: number): boolean {
  const owners = sim.owners();
  const floor = Math.floor(partitions / ids.length);
  const load = loads(sim);
  if (ids.some((id) => (load.get(id) ?? 0) < floor || (load.get(id) ?? 0) > floor + 1)) return false;
  for (let p = 0; p < partitions; p++) {
    const who = owners.get(p) ?? [];
    if (who.length !== 1 || !ids.includes(who[0] ?? '')) return false;
    for (const id of ids) {
      if (sim.instances.get(id)?.cluster.ownerOf(p) !== who[0]) return false;
    }
  }
  return true;
}
