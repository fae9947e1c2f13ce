/**
 * The machine the figures were taken on, and how quiet it was: CPU, cores, memory, versions,
 * load average, how late a thread wakes from a sub-millisecond sleep (the floor under every
 * tail latency here), and how much CPU other processes took during each phase.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { summarize, type LatencySummary } from './stats.js';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  node: string;
  natsServer: string;
  os: string;
  loadAverageAtStart: number[];
}

export function machineInfo(): MachineInfo {
  const bin = process.env['NATS_SERVER_BIN'] ?? 'nats-server';
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 5_000 });
  const natsServer = (v.stdout || v.stderr || '').trim().replace(/^nats-server:\s*/, '') || 'unknown';
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryBytes: totalmem(),
    node: process.version,
    natsServer,
    os: `${process.platform} ${release()}`,
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/**
 * How late this thread wakes from sleeps of 1 ms (sub-ms `Atomics.wait`), `count` times:
 * on a busy shared machine the scheduler alone puts milliseconds into the tail.
 */
export function wakeLateness(count = 1_000): LatencySummary {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const now = (): number => Number(process.hrtime.bigint()) / 1e6;
  const late: number[] = [];
  let t = now();
  for (let i = 0; i < count; i++) {
    t += 1;
    for (let rest = t - now(); rest > 0; rest = t - now()) if (rest > 0.03) Atomics.wait(cell, 0, 0, rest - 0.03);
    late.push(now() - t);
    t = Math.max(t, now() - 1);
  }
  return summarize(late);
}

interface CpuSample {
  at: number;
  busy: number;
  total: number;
  self: number;
  children: number;
  server: number;
  serverPid: number | undefined;
}

/** CPU use during a phase, in cores (1 = one core busy the whole time). */
export interface CpuUse {
  /** This process (service, load generator, clock). */
  bench: number;
  /** Child processes of this process that ended in the phase (nix, git run by the service). */
  children: number;
  /** nats-server; undefined (with `others` and `children`) when the server was restarted in the phase. */
  natsServer: number | undefined;
  /** Everything else on the machine: the noise. */
  others: number | undefined;
}

/** [own ticks, ticks of waited-for children] of a process. */
function procTicks(pid: number | undefined): [number, number] {
  if (!pid) return [0, 0];
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime are fields 14–17 of the whole line (11–14 after the name).
    return [Number(fields[11]) + Number(fields[12]), Number(fields[13]) + Number(fields[14])];
  } catch {
    return [0, 0];
  }
}

function sample(serverPid: number | undefined): CpuSample | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const n = line.trim().split(/\s+/).slice(1).map(Number);
    const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (n[3] ?? 0) + (n[4] ?? 0);
    const [self, children] = procTicks(process.pid);
    return { at: Date.now(), busy: total - idle, total, self, children, server: procTicks(serverPid)[0], serverPid };
  } catch {
    return undefined;
  }
}

/** Start measuring CPU use; `stop()` gives the use since start (undefined off Linux). */
export function cpuMeter(serverPid: () => number | undefined): { stop(): CpuUse | undefined } {
  const a = sample(serverPid());
  return {
    stop: () => {
      const b = sample(serverPid());
      if (!a || !b || b.total <= a.total) return undefined;
      const cores = cpus().length;
      // /proc/stat counts all cores; per-process ticks are in the same unit (USER_HZ).
      const perCore = (b.total - a.total) / cores;
      const bench = (b.self - a.self) / perCore;
      const r = (x: number): number => Math.round(x * 100) / 100;
      // A restarted server is a new process, and the old one's whole CPU time lands in this
      // process's reaped-children count: the split of that phase cannot be told.
      if (a.serverPid !== b.serverPid) return { bench: r(bench), children: NaN, natsServer: undefined, others: undefined };
      const natsServer = (b.server - a.server) / perCore;
      const children = (b.children - a.children) / perCore;
      const others = Math.max(0, (b.busy - a.busy) / perCore - bench - natsServer - children);
      return { bench: r(bench), children: r(children), natsServer: r(natsServer), others: r(others) };
    },
  };
}

/** Milliseconds of CPU a process (or, with `tid`, one of its threads) has used; undefined off Linux. */
export function cpuMs(pid: number | undefined, tid?: number): number | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // USER_HZ is 100 on Linux: one tick is 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** CPU per request of a run: the main thread (where the service or the echo responder runs) and nats-server. */
export interface CpuPerRequest {
  /** µs of main-thread CPU per finished request. */
  mainUs: number | undefined;
  /** µs of nats-server CPU per finished request. */
  serverUs: number | undefined;
}

/** Measure main-thread and server CPU around `fn`, per request it reports finished. */
export async function cpuPerRequest<T extends { finished: number }>(
  serverPid: () => number | undefined,
  fn: () => Promise<T>,
): Promise<T & { cpu: CpuPerRequest }> {
  const mainA = cpuMs(process.pid, process.pid);
  const pidA = serverPid();
  const serverA = cpuMs(pidA);
  const r = await fn();
  const mainB = cpuMs(process.pid, process.pid);
  const serverB = serverPid() === pidA ? cpuMs(pidA) : undefined;
  const per = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined || b === undefined || r.finished === 0 ? undefined : ((b - a) * 1000) / r.finished;
  return { ...r, cpu: { mainUs: per(mainA, mainB), serverUs: per(serverA, serverB) } };
}
