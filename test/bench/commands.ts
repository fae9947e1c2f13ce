/**
 * Commands through the real service: round trip (stored in JetStream, published on the seed
 * subject, replied) at fixed offered rates in an open loop, and the maximum sustained
 * throughput with a bounded window. Every command yields exactly one event: `module.create`
 * once per aggregate, then `module.update` with a new body each time.
 */
import type { TestService } from '../support/service.js';
import type { BenchContext } from './context.js';
import { judge, type Figure } from './figures.js';
import { cpuNote, type LimitResults } from './limit.js';
import { join } from 'node:path';
import { startAllocationProfile, type AllocProfileSummary } from './allocProfile.js';
import { cpuProfileLines, startCpuProfile } from './cpuProfile.js';
import { cpuPerRequest } from './machine.js';
import type { LoadResult, TargetSpec } from './loadProtocol.js';
import { TARGETS } from './options.js';
import { threadFigures, threadPhase } from './pauseReport.js';
import { watchThread, type ThreadReport } from './threadWatch.js';

export interface CommandResults {
  create: LoadResult;
  warmup: LoadResult;
  rates: LoadResult[];
  sustained: LoadResult;
  figures: Figure[];
}

/** The aggregates the command phases address, and the subjects to address them. */
export interface CommandFleet {
  names: string;
  count: number;
  create: TargetSpec;
  update: TargetSpec;
}

export function commandFleet(svc: TestService, names: string, count: number): CommandFleet {
  const p = svc.prefix;
  return {
    names,
    count,
    create: { kind: 'command', action: 'create', subject: `${p}.cmd.module.create`, names, from: 0, count },
    update: { kind: 'command', action: 'update', subject: `${p}.cmd.module.update`, names, from: 0, count },
  };
}

/** Create the fleet's aggregates (one `module.create` each, window-bounded). */
export async function createFleet(ctx: BenchContext, fleet: CommandFleet, window: number): Promise<LoadResult> {
  return ctx.load.run({
    label: `create ${fleet.count} aggregates`,
    target: fleet.create,
    drive: { kind: 'window', window: Math.min(window, fleet.count), total: fleet.count },
    timeoutMs: ctx.settings.timeoutMs,
  });
}

export async function measureCommands(
  ctx: BenchContext,
  svc: TestService,
  fleet: CommandFleet,
  limit: LimitResults,
): Promise<CommandResults> {
  const s = ctx.settings.commands;
  const smoke = ctx.settings.mode === 'smoke';
  ctx.log(`commands: creating ${fleet.count} aggregates`);
  const create = await createFleet(ctx, fleet, s.window);
  const first = s.rates[0]!;
  ctx.log(`commands: warm-up ${first.rate}/s for ${s.warmupMs / 1000} s`);
  const warmup = await ctx.load.run({
    label: 'command warm-up',
    target: fleet.update,
    drive: { kind: 'open', rate: first.rate, durationMs: s.warmupMs },
    timeoutMs: ctx.settings.timeoutMs,
  });
  const rates: LoadResult[] = [];
  let alloc: AllocProfileSummary | undefined;
  for (const step of s.rates) {
    ctx.log(`commands: open loop ${step.rate}/s for ${step.durationMs / 1000} s over ${fleet.count} aggregates`);
    // The judged rate samples what is allocated; the next one what scavenges do not collect.
    const what = rates.length === 0 ? 'allocated' : 'promoted';
    const profile = ctx.settings.allocProfile && rates.length < 2 ? await startAllocationProfile(`commands at ${step.rate}/s`, what) : undefined;
    const cpu = ctx.settings.cpuProfile && rates.length === 0 ? await startCpuProfile(`commands at ${step.rate}/s`) : undefined;
    const watch = watchThread({ stalls: true });
    const r = await ctx.load.run({
      label: `command open loop ${step.rate}/s`,
      target: fleet.update,
      drive: { kind: 'open', rate: step.rate, durationMs: step.durationMs },
      timeoutMs: ctx.settings.timeoutMs,
    });
    const stalls = watch.stop();
    if (cpu) for (const line of cpuProfileLines(await cpu.stop(r.finished, ctx.profileDir && join(ctx.profileDir, `cpu-commands-${step.rate}.cpuprofile`)))) ctx.log(line);
    const sampled = profile ? await profile.stop(r.finished, ctx.profileDir && join(ctx.profileDir, `${what}-commands-${step.rate}.heapprofile`)) : undefined;
    if (rates.length === 0) alloc = sampled;
    const watched = { ...r, stalls };
    rates.push(watched);
    const t = threadPhase(`commands ${step.rate}/s`, 'command', watched, sampled);
    if (t) ctx.threads.push(t);
  }
  ctx.log(`commands: sustained throughput, window ${s.window}, ${s.sustainedMs / 1000} s`);
  const sustainedWatch = watchThread({ stalls: true });
  const sustainedRun = await cpuPerRequest(
    () => ctx.server.pid,
    () =>
      ctx.load.run({
        label: `command window ${s.window}`,
        target: fleet.update,
        drive: { kind: 'window', window: s.window, durationMs: s.sustainedMs, warmupMs: s.sustainedWarmupMs },
        timeoutMs: ctx.settings.timeoutMs,
      }),
  );
  const sustained = { ...sustainedRun, stalls: sustainedWatch.stop() };
  const sustainedThreads = threadPhase(`commands, window ${s.window}`, 'command', sustained);
  if (sustainedThreads) ctx.threads.push(sustainedThreads);

  const figures: Figure[] = [];
  const section = `command round trip (stored + published + replied), open loop over ${fleet.count} aggregates`;
  const j = rates[0]!;
  const failures = mergeFailures(create.errors, j.errors);
  const limitP50 = limit.echoLatency.latency.p50 + limit.jsLatency.latency.p50;
  const limitP99 = limit.echoLatency.latency.p99 + limit.jsLatency.latency.p99;
  const against50 = 'echo p50 + JetStream p50';
  const lagNote = j.sendLag ? `scheduler lag p99 ${j.sendLag.p99.toFixed(3)} ms (included)` : undefined;
  const judged = first.rate === TARGETS.commandRate;
  figures.push(
    judge({
      section,
      name: `p50 at ${first.rate} cmd/s`,
      value: j.latency.p50,
      unit: 'ms',
      ...(judged ? { target: { op: '<=' as const, value: TARGETS.commandP50Ms } } : {}),
      ratio: { value: j.latency.p50 / limitP50, against: against50 },
      failures,
      smoke,
    }),
    judge({ section, name: `p90 at ${first.rate} cmd/s`, value: j.latency.p90, unit: 'ms', failures, smoke }),
    judge({
      section,
      name: `p99 at ${first.rate} cmd/s`,
      value: j.latency.p99,
      unit: 'ms',
      ...(judged ? { target: { op: '<=' as const, value: TARGETS.commandP99Ms } } : {}),
      ratio: { value: j.latency.p99 / limitP99, against: 'echo p99 + JetStream p99' },
      failures,
      smoke,
      ...(j.stalls ? { note: stallNote(j.stalls, j.finished) } : {}),
    }),
    judge({ section, name: `p99.9 at ${first.rate} cmd/s`, value: j.latency.p999, unit: 'ms', failures, smoke }),
    judge({
      section,
      name: `max at ${first.rate} cmd/s`,
      value: j.latency.max,
      unit: 'ms',
      failures,
      smoke,
      ...(lagNote ? { note: lagNote } : {}),
    }),
    judge({
      section,
      name: `p50 ÷ (${against50})`,
      value: j.latency.p50 / limitP50,
      unit: '×',
      ...(judged ? { target: { op: '<=' as const, value: TARGETS.commandP50VsLimit } } : {}),
      failures,
      smoke,
      note: `limit ${limitP50.toFixed(3)} ms = ${limit.echoLatency.latency.p50.toFixed(3)} + ${limit.jsLatency.latency.p50.toFixed(3)}`,
    }),
  );
  const judgedThreads = threadPhase(`${first.rate}/s`, 'command', j, alloc);
  if (judgedThreads) figures.push(...threadFigures(section, judgedThreads, judged ? TARGETS.commandAllocBytes : undefined, smoke, failures));
  for (const r of rates.slice(1)) {
    const rate = r.drive.kind === 'open' ? r.drive.rate : 0;
    const note = r.overloaded ? 'overloaded: the open loop stopped when too many requests were waiting' : undefined;
    figures.push(
      judge({
        section,
        name: `p50 at ${rate} cmd/s`,
        value: r.latency.p50,
        unit: 'ms',
        failures: r.errors,
        smoke,
        ...(note ? { note } : {}),
      }),
      judge({
        section,
        name: `p99 at ${rate} cmd/s`,
        value: r.latency.p99,
        unit: 'ms',
        failures: r.errors,
        smoke,
        ...(r.stalls ? { note: stallNote(r.stalls, r.finished) } : {}),
      }),
    );
  }

  const tSection = `sustained commands, one event each (window ${s.window}, ${(s.sustainedMs / 1000).toFixed(0)} s)`;
  const echoThr = limit.echoThroughput.throughput;
  figures.push(
    judge({
      section: tSection,
      name: 'throughput',
      value: sustained.throughput,
      unit: 'cmd/s',
      target: { op: '>=', value: TARGETS.sustainedPerS },
      ratio: { value: sustained.throughput / echoThr, against: 'echo throughput' },
      failures: sustained.errors,
      smoke,
    }),
    judge({
      section: tSection,
      name: 'throughput ÷ echo throughput',
      value: sustained.throughput / echoThr,
      unit: '%',
      target: { op: '>=', value: TARGETS.sustainedVsEcho },
      failures: sustained.errors,
      smoke,
      note: `echo ${Math.round(echoThr).toLocaleString('en-US')} req/s`,
    }),
    judge({
      section: tSection,
      name: 'service CPU per command (main thread)',
      value: sustained.cpu.mainUs ?? NaN,
      unit: 'µs',
      ...(sustained.cpu.mainUs !== undefined && limit.echoThroughput.cpu?.mainUs
        ? { ratio: { value: sustained.cpu.mainUs / limit.echoThroughput.cpu.mainUs, against: 'echo responder CPU per request' } }
        : {}),
      failures: sustained.errors,
      smoke,
      note: `${cpuNote({ mainUs: undefined, serverUs: sustained.cpu.serverUs }, '')}; at this cost one core serves ${
        sustained.cpu.mainUs ? Math.round(1e6 / sustained.cpu.mainUs).toLocaleString('en-US') : '?'
      } cmd/s`,
    }),
    judge({
      section: tSection,
      name: 'latency p50 (closed loop)',
      value: sustained.latency.p50,
      unit: 'ms',
      failures: sustained.errors,
      smoke,
    }),
    judge({
      section: tSection,
      name: 'latency p99 (closed loop)',
      value: sustained.latency.p99,
      unit: 'ms',
      failures: sustained.errors,
      smoke,
      note: stallNote(sustained.stalls, sustained.finished),
    }),
  );
  return { create, warmup, rates, sustained, figures };
}

export function mergeFailures(...all: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of all) for (const [k, v] of Object.entries(f)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** "service thread: event-loop delay p99 3.1 ms, max 12 ms; GC 120 pauses, max 4.2 ms, 310 ms in all; 9.1 KiB per request". */
export function stallNote(s: ThreadReport, requests?: number): string {
  const per = requests ? `; ${(s.allocatedBytes / requests / 1024).toFixed(1)} KiB allocated per request` : '';
  return `service thread: event-loop delay p99 ${s.loopDelay.p99.toFixed(1)} ms, max ${s.loopDelay.max.toFixed(1)} ms; GC ${s.gc.count} pauses, max ${s.gc.maxMs.toFixed(1)} ms, ${s.gc.totalMs.toFixed(0)} ms in all${per}`;
}
