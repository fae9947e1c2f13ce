/**
 * Query latency at 2,000 q/s (open loop) over the command phase's aggregates. The service is
 * asked first; while its queries do not answer `ok` (no read models yet) the figure says
 * what they answered instead of a number, and starts measuring by itself once they do.
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
  return {
    probe,
    run,
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
    ],
  };
}
