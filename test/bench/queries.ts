/**
 * Query latency at 2,000 q/s (open loop) over the command phase's aggregates. The service is
 * asked first; while its queries do not answer `ok` (no read models yet) the figure says
 * what they answered instead of a number, and starts measuring by itself once they do. Then
 * the same queries again with commands beside them (1,000 cmd/s at 2,000 q/s).
 */
import type { TestService } from '../support/service.js';
import type { CommandFleet } from './commands.js';
import type { BenchContext } from './context.js';
import { judge, notMeasured, type Figure } from './figures.js';
import type { LoadResult } from './loadProtocol.js';
import { benchName } from './payloads.js';
import { join } from 'node:path';
import { startAllocationProfile } from './allocProfile.js';
import { TARGETS } from './options.js';
import { threadFigures, threadPhase } from './pauseReport.js';
import { watchThread } from './threadWatch.js';

export interface QueryResults {
  probe: Record<string, unknown>;
  run?: LoadResult;
  /** The same queries with commands beside them. */
  loaded?: LoadResult;
  figures: Figure[];
}

export async function measureQueries(ctx: BenchContext, svc: TestService, fleet: CommandFleet): Promise<QueryResults> {
  const section = 'queries';
  const name = `p99 at ${ctx.settings.queries.rate.toLocaleString('en-US')} q/s`;
  const target = { op: '<=' as const, value: TARGETS.queryP99Ms };
  const subject = `${svc.prefix}.query.module.get`;
  let probe: Record<string, unknown>;
  let why: string | undefined;
  try {
    const m = await ctx.admin.request(subject, JSON.stringify({ name: benchName(fleet.names, 0) }), { timeout: 2_000 });
    probe = m.json<Record<string, unknown>>();
    if (probe['status'] !== 'ok') why = `${String(probe['code'])}: ${String(probe['message'])}`;
  } catch (e) {
    why = e instanceof Error ? e.message : String(e);
    probe = { error: why };
  }
  if (why !== undefined) {
    return { probe, figures: [notMeasured(section, name, 'ms', `${subject} does not answer ok yet (${why})`, target)] };
  }
  const s = ctx.settings.queries;
  ctx.log(`queries: open loop ${s.rate}/s for ${s.durationMs / 1000} s`);
  const profile = ctx.settings.allocProfile ? await startAllocationProfile(`queries at ${s.rate}/s`) : undefined;
  const watch = watchThread({ stalls: true });
  const unwatched = await ctx.load.run({
    label: `query open loop ${s.rate}/s`,
    target: { kind: 'query', subject, names: fleet.names, from: 0, count: fleet.count },
    drive: { kind: 'open', rate: s.rate, durationMs: s.durationMs },
    timeoutMs: ctx.settings.timeoutMs,
  });
  const run = { ...unwatched, stalls: watch.stop() };
  const alloc = profile ? await profile.stop(run.finished, ctx.profileDir && join(ctx.profileDir, `alloc-queries-${s.rate}.heapprofile`)) : undefined;
  const threads = threadPhase(`queries ${s.rate}/s`, 'query', run, alloc);
  if (threads) ctx.threads.push(threads);
  const smoke = ctx.settings.mode === 'smoke';
  const loaded = await queriesUnderCommands(ctx, subject, fleet, run, smoke);
  return {
    probe,
    run,
    loaded: loaded.run,
    figures: [
      ...(threads ? threadFigures(section, { ...threads, phase: `${s.rate.toLocaleString('en-US')} q/s` }, TARGETS.queryAllocBytes, smoke, run.errors) : []),
      judge({
        section,
        name: `p50 at ${s.rate.toLocaleString('en-US')} q/s`,
        value: run.latency.p50,
        unit: 'ms',
        failures: run.errors,
        smoke,
      }),
      judge({ section, name, value: run.latency.p99, unit: 'ms', target, failures: run.errors, smoke }),
      ...loaded.figures,
    ],
  };
}

/**
 * The same queries while commands load the service (SPEC: queries answer from read models and
 * must not queue behind their catch-up or the workspace rendering): one paced stream, every
 * third request a `module.update` to the same aggregates, so the queries' rate stays the same.
 */
async function queriesUnderCommands(
  ctx: BenchContext,
  subject: string,
  fleet: CommandFleet,
  alone: LoadResult,
  smoke: boolean,
): Promise<{ run: LoadResult; figures: Figure[] }> {
  const s = ctx.settings.queries;
  const commandRate = s.rate / 2;
  const section = 'queries';
  const rates = `${s.rate.toLocaleString('en-US')} q/s during ${commandRate.toLocaleString('en-US')} cmd/s`;
  ctx.log(`queries: open loop ${s.rate}/s with ${commandRate} commands/s beside them for ${s.durationMs / 1000} s`);
  const watch = watchThread({ stalls: true });
  const unwatched = await ctx.load.run({
    label: `queries ${s.rate}/s under ${commandRate} cmd/s`,
    target: {
      kind: 'mix',
      measured: { kind: 'query', subject, names: fleet.names, from: 0, count: fleet.count },
      background: fleet.update,
      backgroundEvery: 3,
    },
    drive: { kind: 'open', rate: s.rate + commandRate, durationMs: s.durationMs },
    timeoutMs: ctx.settings.timeoutMs,
  });
  const run = { ...unwatched, stalls: watch.stop() };
  const threads = threadPhase(`queries ${s.rate}/s + commands ${commandRate}/s`, 'request', run);
  if (threads) ctx.threads.push(threads);
  const commands = run.backgroundLatency;
  const note = commands ? `the commands meanwhile: p50 ${commands.p50.toFixed(2)} ms, p99 ${commands.p99.toFixed(2)} ms` : undefined;
  return {
    run,
    figures: [
      judge({ section, name: `p50 at ${rates}`, value: run.latency.p50, unit: 'ms', failures: run.errors, smoke }),
      judge({
        section,
        name: `p99 at ${rates}`,
        value: run.latency.p99,
        unit: 'ms',
        ratio: { value: run.latency.p99 / alone.latency.p99, against: 'query p99 without commands' },
        failures: run.errors,
        smoke,
        ...(note ? { note } : {}),
      }),
    ],
  };
}
