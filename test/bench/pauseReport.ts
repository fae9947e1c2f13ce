/**
 * The service thread's side of a phase, in figures and tables: bytes allocated per
 * operation (against the budget), GC time and pauses per 20 s, the event-loop delay, every
 * pause over 2 ms named by kind with the heap before and after, the loop's stalls by cause,
 * and — with `--alloc-profile` — where the allocations come from.
 */
import type { AllocProfileSummary } from './allocProfile.js';
import { formatBytes, judge, type Figure } from './figures.js';
import type { LoadResult } from './loadProtocol.js';
import { LISTED_OVER_MS, per20s, type ThreadReport } from './threadWatch.js';

/** One watched phase: the service thread, the load generator's thread, how many operations. */
export interface ThreadPhase {
  phase: string;
  /** `command`, `query`. */
  op: string;
  ops: number;
  service: ThreadReport;
  client?: ThreadReport;
  alloc?: AllocProfileSummary;
}

/** A watched phase from a load result the caller watched (undefined when it was not). */
export function threadPhase(phase: string, op: string, r: LoadResult, alloc?: AllocProfileSummary): ThreadPhase | undefined {
  if (!r.stalls) return undefined;
  return { phase, op, ops: r.finished, service: r.stalls, ...(r.client ? { client: r.client } : {}), ...(alloc ? { alloc } : {}) };
}

/** Allocation per operation (judged against `budget` bytes) and GC per 20 s, as figures of `section`. */
export function threadFigures(section: string, t: ThreadPhase, budget: number | undefined, smoke: boolean, failures?: Record<string, number>): Figure[] {
  const g = per20s(t.service);
  const perOp = t.ops > 0 ? t.service.allocatedBytes / t.ops : NaN;
  const kinds = kindNote(t.service);
  return [
    judge({
      section,
      name: `allocated per ${t.op} (service thread, ${t.phase})`,
      value: perOp,
      unit: 'bytes',
      ...(budget !== undefined ? { target: { op: '<=' as const, value: budget } } : {}),
      ...(failures ? { failures } : {}),
      smoke,
      note: `promoted by scavenges ${formatBytes(t.service.gc.promotedBytes / Math.max(1, t.ops))} per ${t.op}; mean survivors of a scavenge ${formatBytes(t.service.gc.meanSurvivorBytes)}${t.alloc ? `; sampled ${formatBytes(t.alloc.bytesPerOp)} per ${t.op}` : ''}`,
    }),
    judge({
      section,
      name: `GC time per 20 s (service thread, ${t.phase})`,
      value: g.gcMs,
      unit: 'ms',
      smoke,
      note: `${g.pauses.toFixed(0)} pauses per 20 s (${kinds}); ${g.pausesOver.toFixed(0)} over ${LISTED_OVER_MS} ms, longest ${t.service.gc.maxMs.toFixed(1)} ms; loop delay p99 ${t.service.loopDelay.p99.toFixed(1)} ms, max ${t.service.loopDelay.max.toFixed(1)} ms`,
    }),
  ];
}

function kindNote(r: ThreadReport): string {
  const parts = Object.entries(r.gc.byKind).map(([k, s]) => `${k} ${s.count}× ${s.totalMs.toFixed(0)} ms, max ${s.maxMs.toFixed(1)}`);
  return parts.join('; ') || 'none';
}

/** Pauses listed per phase in the Markdown (the JSON keeps up to 200). */
const LISTED_PER_PHASE = 40;

const plural = (op: string): string => (op.endsWith('y') ? `${op.slice(0, -1)}ies` : `${op}s`);

const mib = (n: number): string => (Number.isFinite(n) ? (n / 1024 ** 2).toFixed(1) : '?');

/** The Markdown of every watched phase: summary, pause table, stalls, allocation sites. */
export function renderThreads(phases: readonly ThreadPhase[]): string[] {
  if (!phases.length) return [];
  const out: string[] = [];
  out.push('## What pauses the service thread');
  out.push('');
  out.push(
    `Per watched phase: bytes the service thread allocated per operation, its GC (scaled to 20 s), its event-loop delay (2 ms timer) and its stalls over ${LISTED_OVER_MS} ms by cause (GC; waiting for a CPU, from the thread's schedstat: another thread or process had the core; running code); the load generator's own thread beside it (its pauses delay the replies it times).`,
  );
  out.push('');
  out.push('| phase | per op | GC per 20 s | pauses per 20 s (> 2 ms) | longest | loop delay p99 · max | stalls > 2 ms: GC · CPU wait · code | CPU · wait (s) | load generator GC per 20 s · longest |');
  out.push('|---|---|---|---|---|---|---|---|---|');
  for (const t of phases) {
    const s = t.service;
    const g = per20s(s);
    const st = s.stalls;
    const c = t.client ? per20s(t.client) : undefined;
    out.push(
      `| ${t.phase} (${t.ops.toLocaleString('en-US')} ${plural(t.op)}, ${s.seconds.toFixed(0)} s) | ${formatBytes(s.allocatedBytes / Math.max(1, t.ops))} | ${g.gcMs.toFixed(0)} ms | ${g.pauses.toFixed(0)} (${g.pausesOver.toFixed(0)}) | ${s.gc.maxMs.toFixed(1)} ms | ${s.loopDelay.p99.toFixed(1)} · ${s.loopDelay.max.toFixed(1)} ms | ${
        st ? `${st.byCause.gc} · ${st.byCause['waiting for a CPU']} · ${st.byCause['running code'] + st.byCause.unknown}` : '—'
      } | ${st?.cpuMs !== undefined ? `${(st.cpuMs / 1000).toFixed(1)} · ${((st.waitMs ?? 0) / 1000).toFixed(1)}` : '—'} | ${c && t.client ? `${c.gcMs.toFixed(0)} ms · ${t.client.gc.maxMs.toFixed(1)} ms` : '—'} |`,
    );
  }
  out.push('');
  out.push(`Every GC pause of the service thread over ${LISTED_OVER_MS} ms (heap in MiB; young = new space; promoted = old-generation growth in the pause):`);
  out.push('');
  out.push('| phase | at (s) | kind | ms | heap before → after | young before → after | promoted |');
  out.push('|---|---|---|---|---|---|---|');
  let any = false;
  for (const t of phases) {
    for (const p of t.service.gc.pauses.slice(0, LISTED_PER_PHASE)) {
      any = true;
      out.push(
        `| ${t.phase} | ${(p.at / 1000).toFixed(2)} | ${p.kind} | ${p.ms.toFixed(1)} | ${mib(p.heapBefore)} → ${mib(p.heapAfter)} | ${mib(p.youngBefore)} → ${mib(p.youngAfter)} | ${mib(p.promoted)} |`,
      );
    }
    const shown = Math.min(LISTED_PER_PHASE, t.service.gc.pauses.length);
    if (t.service.gc.pausesOver > shown) out.push(`| ${t.phase} | … | ${t.service.gc.pausesOver - shown} more (in the JSON) | | | | |`);
  }
  if (!any) out.push('| — | | none | | | | |');
  out.push('');
  const stalls = phases.flatMap((t) => (t.service.stalls?.list ?? []).filter((s) => s.cause !== 'gc').map((s) => ({ phase: t.phase, s })));
  if (stalls.length) {
    out.push(`Stalls of the service thread's loop over ${LISTED_OVER_MS} ms that were not GC (the 20 longest; CPU and wait are the thread's in the stall's window):`);
    out.push('');
    out.push('| phase | at (s) | ms | cause | on CPU ms | waiting ms | GC ms |');
    out.push('|---|---|---|---|---|---|---|');
    for (const { phase, s } of stalls.sort((a, b) => b.s.ms - a.s.ms).slice(0, 20)) {
      out.push(
        `| ${phase} | ${(s.at / 1000).toFixed(2)} | ${s.ms.toFixed(1)} | ${s.cause} | ${s.cpuMs?.toFixed(1) ?? '?'} | ${s.waitMs?.toFixed(1) ?? '?'} | ${s.gcMs.toFixed(1)} |`,
      );
    }
    out.push('');
  }
  for (const t of phases) {
    if (!t.alloc) continue;
    const a = t.alloc;
    const what =
      a.what === 'allocated'
        ? `Where the service thread's allocations come from, ${t.phase}`
        : `What the service thread allocated in ${t.phase} that no scavenge collected (promoted to the old generation: what makes scavenges long and mark-compacts frequent)`;
    out.push(`${what} (sampling heap profiler, ${formatBytes(a.bytesPerOp)} per ${t.op} sampled${a.file ? `; whole profile: \`${a.file}\`` : ''}):`);
    out.push('');
    out.push('| module | per op | share | | function | per op | share |');
    out.push('|---|---|---|---|---|---|---|');
    const n = Math.max(a.topModules.length, a.topFunctions.length);
    for (let i = 0; i < n; i++) {
      const m = a.topModules[i];
      const f = a.topFunctions[i];
      const cell = (x: typeof m): string => (x ? `${x.site.replace(/\|/g, '\\|')} | ${formatBytes(x.bytesPerOp)} | ${(x.share * 100).toFixed(1)} %` : ' | | ');
      out.push(`| ${cell(m)} | | ${cell(f)} |`);
    }
    out.push('');
  }
  return out;
}

