/**
 * What stops a thread during a phase, named: every garbage-collection pause (its kind, its
 * length, the heap before and after it, what survived and was promoted), the bytes the
 * thread allocated, its event-loop delay as a histogram, and — on the main thread — each
 * stall of the loop over 2 ms with its cause: a GC pause, the thread waiting for a CPU
 * (Linux `schedstat`: the scheduler ran something else), or the thread running code.
 *
 * Allocation is read from V8's own heap figures around each collection (`v8.GCProfiler`):
 * what was in use before a collection minus what was left after the previous one, summed.
 * It needs no sampling and costs nothing between collections.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { constants, monitorEventLoopDelay, PerformanceObserver, performance, type PerformanceEntry } from 'node:perf_hooks';
import { GCProfiler, getHeapStatistics } from 'node:v8';

/** A GC pause as the report lists it. */
export interface GcPause {
  /** ms since the watch started. */
  at: number;
  kind: GcKind;
  ms: number;
  /** Heap in use before and after (bytes); young = new space. */
  heapBefore: number;
  heapAfter: number;
  youngBefore: number;
  youngAfter: number;
  /** Old-generation growth during the pause (promotion, for a scavenge). */
  promoted: number;
}

export type GcKind = 'scavenge' | 'mark-compact' | 'incremental marking' | 'weak callbacks' | 'other';

export interface GcKindStats {
  count: number;
  totalMs: number;
  maxMs: number;
}

/** A stall of the event loop over the threshold, and what it was. */
export interface LoopStall {
  at: number;
  ms: number;
  /** GC pauses inside the stall's window, ms. */
  gcMs: number;
  /** The thread's time on a CPU and waiting for one in the window (undefined off Linux). */
  cpuMs: number | undefined;
  waitMs: number | undefined;
  cause: 'gc' | 'waiting for a CPU' | 'running code' | 'unknown';
}

export interface ThreadReport {
  /** Length of the watch, s. */
  seconds: number;
  /** Bytes allocated by this thread's JavaScript heap. */
  allocatedBytes: number;
  gc: {
    count: number;
    totalMs: number;
    maxMs: number;
    byKind: Partial<Record<GcKind, GcKindStats>>;
    /** Bytes promoted to the old generation by scavenges. */
    promotedBytes: number;
    /** Mean bytes left in the young generation after a scavenge (the survivors it copied). */
    meanSurvivorBytes: number;
    /** Bytes scavenges copied (survivors kept young plus promoted): their work, whatever the machine's speed. */
    copiedBytes: number;
    /** The most one scavenge copied: what the longest scavenge had to move. */
    maxCopiedBytes: number;
    /** Every pause over the threshold (at most {@link MAX_LISTED}). */
    pauses: GcPause[];
    pausesOver: number;
  };
  /** Event-loop delay beyond the monitor's 2 ms timer, ms. */
  loopDelay: { p50: number; p90: number; p99: number; p999: number; max: number; samples: number };
  /** Main thread only: stalls over the threshold, by cause. */
  stalls?: { count: number; byCause: Record<LoopStall['cause'], number>; list: LoopStall[]; cpuMs: number | undefined; waitMs: number | undefined };
}

/** Pauses and stalls longer than this are listed one by one. */
export const LISTED_OVER_MS = 2;
const MAX_LISTED = 200;

const KIND: Record<number, GcKind> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};

interface HeapFigures {
  usedHeapSize: number;
}
interface SpaceFigures {
  spaceName: string;
  spaceUsedSize: number;
}
interface GcStat {
  gcType: string;
  cost: number;
  beforeGC: { heapStatistics: HeapFigures; heapSpaceStatistics: SpaceFigures[] };
  afterGC: { heapStatistics: HeapFigures; heapSpaceStatistics: SpaceFigures[] };
}

/** A `gc` performance entry's kind (Node keeps it in `detail`). */
function kindOf(e: PerformanceEntry): GcKind {
  const detail = (e as PerformanceEntry & { detail?: { kind?: number } }).detail;
  return KIND[detail?.kind ?? -1] ?? 'other';
}

function space(list: SpaceFigures[], name: string): number {
  for (const s of list) if (s.spaceName === name) return s.spaceUsedSize;
  return 0;
}
const young = (list: SpaceFigures[]): number => space(list, 'new_space') + space(list, 'new_large_object_space');
const old = (list: SpaceFigures[]): number => space(list, 'old_space') + space(list, 'large_object_space');

/** The main thread's run and wait time (ns) from `/proc/self/task/<pid>/schedstat`, read without allocating. */
class SchedStat {
  private fd: number | undefined;
  private readonly buf = Buffer.alloc(96);

  constructor() {
    try {
      this.fd = openSync(`/proc/self/task/${process.pid}/schedstat`, 'r');
    } catch {
      this.fd = undefined;
    }
  }

  get available(): boolean {
    return this.fd !== undefined;
  }

  /** [run ns, wait ns] into `out`; false when unavailable. */
  read(out: Float64Array): boolean {
    if (this.fd === undefined) return false;
    let n: number;
    try {
      n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
    } catch {
      return false;
    }
    let field = 0;
    let value = 0;
    for (let i = 0; i < n && field < 2; i++) {
      const c = this.buf[i]!;
      if (c >= 48 && c <= 57) value = value * 10 + (c - 48);
      else {
        out[field++] = value;
        value = 0;
      }
    }
    return field >= 2;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * Watch this thread until `stop()`. `stalls: true` (the main thread, where the service runs)
 * also samples the loop every 2 ms and names each stall.
 */
export function watchThread(options: { stalls?: boolean } = {}): { stop(): ThreadReport } {
  const t0 = performance.now();
  const heap0 = getHeapStatistics().used_heap_size;
  const profiler = new GCProfiler();
  profiler.start();
  const entries: { start: number; ms: number; kind: GcKind }[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = kindOf(e);
      entries.push({ start: e.startTime, ms: e.duration, kind });
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const loop = monitorEventLoopDelay({ resolution: 2 });
  loop.enable();

  const rawStalls: { at: number; from: number; ms: number; cpuNs: number; waitNs: number }[] = [];
  let sampler: NodeJS.Timeout | undefined;
  const sched = options.stalls ? new SchedStat() : undefined;
  const first = new Float64Array(2);
  const last = new Float64Array(2);
  const cur = new Float64Array(2);
  const haveSched = sched?.read(first) ?? false;
  if (options.stalls) {
    const INTERVAL = 2;
    last.set(first);
    let prev = performance.now();
    sampler = setInterval(() => {
      const now = performance.now();
      const late = now - prev - INTERVAL;
      if (late > LISTED_OVER_MS) {
        const ok = sched?.read(cur) ?? false;
        if (rawStalls.length < 10_000) {
          rawStalls.push({ at: now, from: prev, ms: late, cpuNs: ok ? cur[0]! - last[0]! : NaN, waitNs: ok ? cur[1]! - last[1]! : NaN });
        }
        if (ok) last.set(cur);
      } else if (haveSched) {
        sched!.read(last);
      }
      prev = now;
    }, INTERVAL);
  }

  return {
    stop: () => {
      if (sampler) clearInterval(sampler);
      const end = new Float64Array(2);
      const schedEnd = sched?.read(end) ?? false;
      sched?.close();
      loop.disable();
      const stats = (profiler.stop() as { statistics?: GcStat[] } | undefined)?.statistics ?? [];
      // Entries of the last pauses may still sit in the observer's buffer.
      for (const e of observer.takeRecords?.() ?? []) {
        const kind = kindOf(e);
        entries.push({ start: e.startTime, ms: e.duration, kind });
      }
      observer.disconnect();
      const t1 = performance.now();
      const heap1 = getHeapStatistics().used_heap_size;

      // Allocation: in use before each collection minus what the previous one left.
      let allocated = 0;
      let after = heap0;
      let promoted = 0;
      let survivors = 0;
      let scavenges = 0;
      let copied = 0;
      let maxCopied = 0;
      for (const s of stats) {
        allocated += Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - after);
        after = s.afterGC.heapStatistics.usedHeapSize;
        if (s.gcType === 'Scavenge') {
          scavenges++;
          const up = Math.max(0, old(s.afterGC.heapSpaceStatistics) - old(s.beforeGC.heapSpaceStatistics));
          const kept = young(s.afterGC.heapSpaceStatistics);
          promoted += up;
          survivors += kept;
          copied += up + kept;
          maxCopied = Math.max(maxCopied, up + kept);
        }
      }
      allocated += Math.max(0, heap1 - after);

      const byKind: Partial<Record<GcKind, GcKindStats>> = {};
      let totalMs = 0;
      let maxMs = 0;
      const pauses: GcPause[] = [];
      let pausesOver = 0;
      const pairs = pair(entries, stats);
      entries.forEach((e, i) => {
        const k = (byKind[e.kind] ??= { count: 0, totalMs: 0, maxMs: 0 });
        k.count++;
        k.totalMs += e.ms;
        k.maxMs = Math.max(k.maxMs, e.ms);
        totalMs += e.ms;
        maxMs = Math.max(maxMs, e.ms);
        if (e.ms <= LISTED_OVER_MS) return;
        pausesOver++;
        if (pauses.length >= MAX_LISTED) return;
        const s = pairs[i];
        pauses.push({
          at: e.start - t0,
          kind: e.kind,
          ms: e.ms,
          heapBefore: s?.beforeGC.heapStatistics.usedHeapSize ?? NaN,
          heapAfter: s?.afterGC.heapStatistics.usedHeapSize ?? NaN,
          youngBefore: s ? young(s.beforeGC.heapSpaceStatistics) : NaN,
          youngAfter: s ? young(s.afterGC.heapSpaceStatistics) : NaN,
          promoted: s ? old(s.afterGC.heapSpaceStatistics) - old(s.beforeGC.heapSpaceStatistics) : NaN,
        });
      });

      const ms = (ns: number): number => Math.max(0, ns / 1e6 - 2);
      const report: ThreadReport = {
        seconds: (t1 - t0) / 1000,
        allocatedBytes: allocated,
        gc: {
          count: entries.length,
          totalMs,
          maxMs,
          byKind,
          promotedBytes: promoted,
          meanSurvivorBytes: scavenges ? survivors / scavenges : 0,
          copiedBytes: copied,
          maxCopiedBytes: maxCopied,
          pauses,
          pausesOver,
        },
        loopDelay: {
          p50: ms(loop.percentile(50)),
          p90: ms(loop.percentile(90)),
          p99: ms(loop.percentile(99)),
          p999: ms(loop.percentile(99.9)),
          max: ms(loop.max),
          samples: loop.count,
        },
      };
      if (options.stalls) {
        const byCause: Record<LoopStall['cause'], number> = { gc: 0, 'waiting for a CPU': 0, 'running code': 0, unknown: 0 };
        const list: LoopStall[] = rawStalls.map((s) => {
          let gcMs = 0;
          for (const e of entries) {
            const a = Math.max(e.start, s.from);
            const b = Math.min(e.start + e.ms, s.at);
            if (b > a) gcMs += b - a;
          }
          const cpuMs = Number.isNaN(s.cpuNs) ? undefined : s.cpuNs / 1e6;
          const waitMs = Number.isNaN(s.waitNs) ? undefined : s.waitNs / 1e6;
          let cause: LoopStall['cause'];
          if (gcMs >= s.ms / 2) cause = 'gc';
          else if (waitMs === undefined) cause = 'unknown';
          else if (waitMs >= s.ms / 2) cause = 'waiting for a CPU';
          else cause = 'running code';
          byCause[cause]++;
          return { at: s.at - t0, ms: s.ms, gcMs, cpuMs, waitMs, cause };
        });
        report.stalls = {
          count: list.length,
          byCause,
          list: list.slice(0, MAX_LISTED),
          cpuMs: haveSched && schedEnd ? (end[0]! - first[0]!) / 1e6 : undefined,
          waitMs: haveSched && schedEnd ? (end[1]! - first[1]!) / 1e6 : undefined,
        };
      }
      return report;
    },
  };
}

const PROFILER_KIND: Record<string, GcKind> = {
  Scavenge: 'scavenge',
  MinorMarkCompact: 'scavenge',
  MinorMarkSweep: 'scavenge',
  MarkSweepCompact: 'mark-compact',
  IncrementalMarking: 'incremental marking',
  ProcessWeakCallbacks: 'weak callbacks',
};

/**
 * The profiler's record of each observed pause. Both see the same collections in the same
 * order, but either may miss one at the edges of the watch: the two sequences are aligned
 * on their kinds, and a pause the profiler did not record gets none.
 */
function pair(entries: readonly { kind: GcKind; ms: number }[], stats: readonly GcStat[]): (GcStat | undefined)[] {
  const out: (GcStat | undefined)[] = new Array<GcStat | undefined>(entries.length).fill(undefined);
  let j = 0;
  for (let i = 0; i < entries.length && j < stats.length; i++) {
    // Look a few records ahead for the same kind and a cost within 10 % (the same pause).
    for (let k = j; k < Math.min(stats.length, j + 4); k++) {
      const s = stats[k]!;
      const e = entries[i]!;
      if ((PROFILER_KIND[s.gcType] ?? 'other') === e.kind && Math.abs(s.cost / 1000 - e.ms) <= Math.max(0.5, e.ms * 0.1)) {
        out[i] = s;
        j = k + 1;
        break;
      }
    }
  }
  return out;
}

/** GC time and pause counts scaled to 20 s of load (the figure the README compares). */
export function per20s(report: ThreadReport): { gcMs: number; pauses: number; pausesOver: number } {
  const f = report.seconds > 0 ? 20 / report.seconds : 0;
  return { gcMs: report.gc.totalMs * f, pauses: report.gc.count * f, pausesOver: report.gc.pausesOver * f };
}
