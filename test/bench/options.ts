/**
 * Bench options (command line or `runBench(options)`) and the sizes they resolve to.
 * Full sizes follow SPEC §8; `smoke` shrinks everything so the run takes seconds and only
 * proves the bench still works (it judges nothing).
 */

export interface BenchOptions {
  /** Tiny sizes, a few seconds in all; figures are reported but not judged. */
  smoke?: boolean;
  /** Live aggregates for the memory figure (default 100,000; 1,000,000 for the full target). */
  aggregates?: number;
  /** Seconds of the sustained-throughput phase (default 60; smoke 1). */
  durationS?: number;
  /** Outstanding requests in the throughput phases (default 128). */
  window?: number;
  /** Where to write `<timestamp>.json` and `latest.md`; `false` writes nothing. */
  outDir?: string | false;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Run only these phases (see {@link PHASES}), plus what they need (commands need the limit). */
  only?: Phase[];
  /** Sample the service thread's allocations (V8 sampling heap profiler) in the judged command and query phases. */
  allocProfile?: boolean;
  /** Sample the service thread's CPU (V8 sampling profiler) in the judged command phase. */
  cpuProfile?: boolean;
  /** Add the cluster phase (SPEC §9: three-node NATS cluster, three service processes); `--only cluster` runs it alone. */
  cluster?: boolean;
}

/** The phases, in the order they run (`cluster` only when asked for: `--cluster` or `--only cluster`). */
export const PHASES = ['limit', 'commands', 'queries', 'build', 'rehydration', 'resume', 'memory', 'cluster'] as const;
export type Phase = (typeof PHASES)[number];

export interface RateStep {
  rate: number;
  durationMs: number;
}

export interface BenchSettings {
  mode: 'full' | 'smoke';
  /** Sample allocations in the judged command and query phases (`--alloc-profile`). */
  allocProfile: boolean;
  /** Sample the service thread's CPU in the judged command phase (`--cpu-profile`). */
  cpuProfile: boolean;
  /** Per-request timeout for measured phases. */
  timeoutMs: number;
  limit: { rate: number; durationMs: number; window: number; throughputMs: number; warmupMs: number };
  commands: {
    /** Aggregates the commands are spread over (SPEC: 1,000). */
    aggregates: number;
    /** The judged rate (SPEC: 1,000 cmd/s) comes first. */
    rates: RateStep[];
    warmupMs: number;
    window: number;
    sustainedMs: number;
    sustainedWarmupMs: number;
  };
  queries: { rate: number; durationMs: number };
  rehydration: { events: number; repeats: number; snapshotEvery: number };
  memory: { aggregates: number; window: number };
  resume: { restarts: number; deadlineMs: number };
}

/** SPEC §8 targets, in the units the bench reports. */
export const TARGETS = {
  commandRate: 1_000,
  commandAggregates: 1_000,
  commandP50Ms: 0.5,
  commandP99Ms: 2,
  commandP50VsLimit: 2.5,
  sustainedPerS: 10_000,
  sustainedVsEcho: 0.3,
  queryRate: 2_000,
  queryP99Ms: 1,
  /** Allocation budgets of the service thread on the hot path (issue 17). */
  commandAllocBytes: 10 * 1024,
  queryAllocBytes: 2 * 1024,
  rebuildEvents: 1_000,
  rebuildMs: 20,
  replayPerS: 200_000,
  residentAggregates: 1_000_000,
  residentHeapBytes: 4 * 1024 ** 3,
  resumeMs: 2_000,
  buildInFlightP99Ms: 2,
} as const;

export function resolveSettings(options: BenchOptions): BenchSettings {
  const window = options.window ?? (options.smoke ? 16 : 128);
  if (options.smoke) {
    return {
      mode: 'smoke',
      allocProfile: options.allocProfile ?? false,
      cpuProfile: options.cpuProfile ?? false,
      timeoutMs: 5_000,
      limit: { rate: 200, durationMs: 500, window, throughputMs: 500, warmupMs: 100 },
      commands: {
        aggregates: 20,
        rates: [{ rate: 200, durationMs: 500 }],
        warmupMs: 200,
        window,
        sustainedMs: (options.durationS ?? 1) * 1000,
        sustainedWarmupMs: 100,
      },
      queries: { rate: 200, durationMs: 300 },
      rehydration: { events: 50, repeats: 1, snapshotEvery: 20 },
      memory: { aggregates: options.aggregates ?? 200, window },
      resume: { restarts: 1, deadlineMs: 20_000 },
    };
  }
  const sustainedMs = (options.durationS ?? 60) * 1000;
  // Fixed-rate phases: 20 s at the judged rate (≥ 20 samples beyond p99.9), 10 s for the others.
  const phase = (ms: number): number => Math.min(ms, sustainedMs);
  return {
    mode: 'full',
    allocProfile: options.allocProfile ?? false,
    cpuProfile: options.cpuProfile ?? false,
    timeoutMs: 10_000,
    limit: { rate: TARGETS.commandRate, durationMs: phase(10_000), window, throughputMs: phase(10_000), warmupMs: 1_000 },
    commands: {
      aggregates: TARGETS.commandAggregates,
      rates: [
        { rate: TARGETS.commandRate, durationMs: phase(20_000) },
        { rate: 2_000, durationMs: phase(10_000) },
        { rate: 5_000, durationMs: phase(10_000) },
      ],
      warmupMs: 3_000,
      window,
      sustainedMs,
      sustainedWarmupMs: 2_000,
    },
    queries: { rate: TARGETS.queryRate, durationMs: phase(10_000) },
    rehydration: { events: TARGETS.rebuildEvents, repeats: 5, snapshotEvery: 100 },
    memory: { aggregates: options.aggregates ?? 100_000, window },
    resume: { restarts: 3, deadlineMs: 30_000 },
  };
}

export const USAGE = `Usage: npm run bench -- [--smoke] [--cluster] [--aggregates N] [--duration S] [--window W] [--out DIR | --no-write] [--only PHASES] [--alloc-profile] [--cpu-profile]

  --smoke          tiny sizes, a few seconds; proves the bench works, judges nothing
  --cluster        add the cluster phase: three-node NATS cluster, 3 service processes (failover, handoff, hop, 1 vs 3 instances, conflicts)
  --aggregates N   resident aggregates for the memory figure (default 100000, projected to 1,000,000; 1000000 measures the SPEC target)
  --duration S     seconds of the sustained-throughput phase (default 60)
  --window W       outstanding requests in throughput phases (default 128)
  --out DIR        where to write <timestamp>.json and latest.md (default bench-results/)
  --no-write       print the table only
  --only A,B       run only these phases: ${PHASES.join(', ')} (e.g. to profile one)
  --alloc-profile  sample the service thread's allocations in the judged command and query phases
                   (V8 sampling heap profiler; adds overhead: read its latencies with that in mind)
  --cpu-profile    sample the service thread's CPU in the judged command phase and print where it goes
                   (V8 sampling profiler, 200 µs; writes a .cpuprofile beside the results)`;

/** Parse the command line; throws with the usage text on a bad argument. */
export function parseArgs(argv: readonly string[]): BenchOptions & { help?: boolean } {
  const out: BenchOptions & { help?: boolean } = {};
  const positive = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n <= 0)
      throw new Error(`${flag} needs a positive number, got ${v ?? 'nothing'}\n\n${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = (argv[i] ?? '').split('=', 2) as [string, string | undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--smoke':
        out.smoke = true;
        break;
      case '--cluster':
        out.cluster = true;
        break;
      case '--aggregates':
        out.aggregates = Math.round(positive(flag, value()));
        break;
      case '--duration':
        out.durationS = positive(flag, value());
        break;
      case '--window':
        out.window = Math.round(positive(flag, value()));
        break;
      case '--out': {
        const v = value();
        if (!v) throw new Error(`--out needs a directory\n\n${USAGE}`);
        out.outDir = v;
        break;
      }
      case '--only': {
        const v = value() ?? '';
        const list = v
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean);
        const bad = list.filter((x) => !(PHASES as readonly string[]).includes(x));
        if (!list.length || bad.length) throw new Error(`--only takes phases from ${PHASES.join(', ')}; got ${v || 'nothing'}\n\n${USAGE}`);
        out.only = list as Phase[];
        break;
      }
      case '--alloc-profile':
        out.allocProfile = true;
        break;
      case '--cpu-profile':
        out.cpuProfile = true;
        break;
      case '--no-write':
        out.outDir = false;
        break;
      case '--help':
      case '-h':
        out.help = true;
        break;
      default:
        throw new Error(`unknown argument ${argv[i]}\n\n${USAGE}`);
    }
  }
  return out;
}
