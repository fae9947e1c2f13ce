/**
 * Resident memory: the service's heap (after full GC) with N live aggregates against the
 * heap before they existed, per aggregate, and what that makes of 1,000,000 (the SPEC's
 * figure: measured when N is 1,000,000, projected linearly otherwise, and labelled so).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString, getHeapStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { TestService } from '../support/service.js';
import { commandFleet, mergeFailures } from './commands.js';
import { health, removePrefixState, startBenchService, stopBenchService, type BenchContext } from './context.js';
import { formatBytes, judge, type Figure } from './figures.js';
import type { LoadResult } from './loadProtocol.js';
import { TARGETS } from './options.js';

export interface MemoryResults {
  aggregates: number;
  live: number | undefined;
  heapBeforeBytes: number;
  heapAfterBytes: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  perAggregateBytes: number;
  /** Heap with 1,000,000 live aggregates: measured (N ≥ 1,000,000) or projected. */
  heapAtTargetBytes: number;
  projected: boolean;
  create: LoadResult;
  figures: Figure[];
}

/** `global.gc` without `--expose-gc` on the command line. */
function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function settledHeap(gc: () => void): number {
  // Twice: the first pass may only make more garbage collectable (weak refs, finalizers).
  gc();
  gc();
  return getHeapStatistics().used_heap_size;
}

export async function measureMemory(ctx: BenchContext): Promise<MemoryResults> {
  const s = ctx.settings.memory;
  const smoke = ctx.settings.mode === 'smoke';
  const gc = exposeGc();
  // Rendering 100,000 module files is not what this figure measures (and takes minutes):
  // a file named `modules` in the workspace makes each scheduled write fail at once, after
  // the event is stored, so the aggregates, their events and ledgers are the real ones.
  const workspace = await mkdtemp(join(tmpdir(), 'cim-bench-ws-'));
  await writeFile(join(workspace, 'modules'), 'keeps the bench from rendering module files\n');
  const svc: TestService = await startBenchService(ctx, 'mem', {
    NIX_RESIDENT_CAP: String(Math.max(10_000_000, s.aggregates * 2)),
    NIX_WORKSPACE: workspace,
  });
  try {
    const fleet = commandFleet(svc, 'mem', s.aggregates);
    const heapBeforeBytes = settledHeap(gc);
    const rssBeforeBytes = process.memoryUsage().rss;
    ctx.log(`memory: creating ${s.aggregates.toLocaleString('en-US')} live aggregates`);
    // In chunks, stopping before the heap limit: an out-of-memory crash would lose the report.
    const limit = getHeapStatistics().heap_size_limit;
    const chunk = Math.max(1, Math.min(50_000, s.aggregates));
    const chunks: LoadResult[] = [];
    let created = 0;
    let stoppedEarly: string | undefined;
    while (created < s.aggregates) {
      const count = Math.min(chunk, s.aggregates - created);
      chunks.push(
        await ctx.load.run({
          label: `create aggregates ${created}..${created + count - 1}`,
          target: { ...fleet.create, from: created, count } as typeof fleet.create,
          drive: { kind: 'window', window: Math.min(s.window, count), total: count },
          timeoutMs: ctx.settings.timeoutMs,
        }),
      );
      created += count;
      const used = getHeapStatistics().used_heap_size;
      if (created < s.aggregates && used > 0.8 * limit) {
        stoppedEarly = `stopped at ${created.toLocaleString('en-US')} aggregates: the heap (${formatBytes(used)}) neared its limit ${formatBytes(limit)}`;
        break;
      }
    }
    const create = combine(chunks);
    // Replies leave before the last bookkeeping: wait until every actor counts as live (bounded).
    let live: number | undefined;
    let awake: number | undefined;
    const end = ctx.now() + 30_000;
    while (ctx.now() < end) {
      const counts = (await health(ctx.admin, 10_000).catch(() => undefined))?.aggregates;
      live = counts?.live;
      awake = counts?.awake;
      if (live !== undefined && live >= created) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const heapAfterBytes = settledHeap(gc);
    const rssAfterBytes = process.memoryUsage().rss;
    const perAggregateBytes = (heapAfterBytes - heapBeforeBytes) / created;
    const projected = created < TARGETS.residentAggregates;
    const heapAtTargetBytes = projected ? heapBeforeBytes + perAggregateBytes * TARGETS.residentAggregates : heapAfterBytes;

    const section = 'resident aggregates';
    const n = created.toLocaleString('en-US');
    const liveNote = live === created ? undefined : `the service reports ${live ?? 'no'} live aggregates, not ${n}`;
    const figures: Figure[] = [
      judge({
        section,
        name: `heap per resident aggregate (${n} resident)`,
        value: perAggregateBytes,
        unit: 'bytes',
        failures: create.errors,
        smoke,
        note: [
          `${awake ?? '?'} awake (running actors, NIX_AWAKE_CAP), the rest asleep as persisted snapshots; workspace rendering off (see memory.ts); heap after GC ${formatBytes(heapBeforeBytes)} → ${formatBytes(heapAfterBytes)}; RSS ${formatBytes(rssBeforeBytes)} → ${formatBytes(rssAfterBytes)}`,
          liveNote,
        ]
          .concat(stoppedEarly ?? [])
          .filter(Boolean)
          .join('; '),
      }),
      judge({
        section,
        name: `heap with ${TARGETS.residentAggregates.toLocaleString('en-US')} resident aggregates${projected ? ' (projected)' : ''}`,
        value: heapAtTargetBytes,
        unit: 'bytes',
        target: { op: '<=', value: TARGETS.residentHeapBytes },
        failures: create.errors,
        smoke,
        ...(projected ? { note: `linear projection from ${n}; run with --aggregates 1000000 to measure it` } : {}),
      }),
    ];
    return {
      aggregates: created,
      live,
      heapBeforeBytes,
      heapAfterBytes,
      rssBeforeBytes,
      rssAfterBytes,
      perAggregateBytes,
      heapAtTargetBytes,
      projected,
      create,
      figures,
    };
  } finally {
    await stopBenchService(svc);
    await removePrefixState(ctx.admin, svc.prefix);
    // Bounded retries: a late write (a detached git) can make the first removal fail.
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await rm(workspace, { recursive: true, force: true });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
}

/** One result for the chunks of a creation run. */
function combine(results: LoadResult[]): LoadResult {
  const first = results[0]!;
  const errorMessages: Record<string, string> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.errorMessages)) errorMessages[k] ??= v;
  const measuredMs = results.reduce((a, r) => a + r.measuredMs, 0);
  const finished = results.reduce((a, r) => a + r.finished, 0);
  return {
    ...first,
    label: `create ${finished} aggregates`,
    sent: results.reduce((a, r) => a + r.sent, 0),
    finished,
    ok: results.reduce((a, r) => a + r.ok, 0),
    errors: mergeFailures(...results.map((r) => r.errors)),
    errorMessages,
    throughput: (finished / Math.max(1e-9, measuredMs)) * 1000,
    measuredMs,
    incomplete: results.some((r) => r.incomplete),
  };
}
