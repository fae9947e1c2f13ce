/**
 * What the service thread spends its CPU on: V8's sampling CPU profiler (through
 * `node:inspector`) over one phase. The whole profile is written as a `.cpuprofile` (open it
 * in Chrome DevTools → Performance, or speedscope); the summary names the functions and the
 * modules with the most self time per operation, beside idle, GC and native time, so a
 * "running code" stall or a high CPU per command can be read off by name.
 */
import { Session } from 'node:inspector/promises';
import { writeFile } from 'node:fs/promises';
import { moduleOf } from './allocProfile.js';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface CpuSite {
  site: string;
  /** Microseconds of self time per operation. */
  usPerOp: number;
  /** Share of the thread's busy time (idle excluded). */
  share: number;
}

export interface CpuProfileSummary {
  label: string;
  ops: number;
  /** Sampled busy time (not idle) per operation, µs. */
  busyUsPerOp: number;
  /** Share of the wall time the thread sat idle (waiting in the event loop). */
  idleShare: number;
  topFunctions: CpuSite[];
  topModules: CpuSite[];
  file?: string;
}

/** V8's own pseudo-frames: not code of ours or of a package. */
const PSEUDO = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

export async function startCpuProfile(label: string): Promise<{ stop(ops: number, file?: string): Promise<CpuProfileSummary> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  // 200 µs: fine enough for a command of ~100 µs, coarse enough to cost little.
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return {
    stop: async (ops, file) => {
      const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
      await session.post('Profiler.disable');
      session.disconnect();
      if (file) await writeFile(file, JSON.stringify(profile));
      return { ...summariseCpu(label, profile, ops), ...(file ? { file } : {}) };
    },
  };
}

export function summariseCpu(label: string, profile: CpuProfile, ops: number, top = 15): CpuProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const dt = profile.timeDeltas[i] ?? 0;
    if (!node) continue;
    const f = node.callFrame;
    if (f.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    busy += dt;
    const isPseudo = PSEUDO.has(f.functionName);
    const fn = isPseudo ? f.functionName : `${f.functionName || '(anonymous)'} (${moduleOf(f.url) || 'native'}${f.url ? `:${f.lineNumber + 1}` : ''})`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + dt);
    const mod = isPseudo ? f.functionName : moduleOf(f.url);
    byModule.set(mod, (byModule.get(mod) ?? 0) + dt);
  }
  const per = Math.max(1, ops);
  const rank = (m: Map<string, number>): CpuSite[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([site, us]) => ({ site, usPerOp: us / per, share: busy ? us / busy : 0 }));
  return { label, ops, busyUsPerOp: busy / per, idleShare: idle + busy ? idle / (idle + busy) : 0, topFunctions: rank(byFunction), topModules: rank(byModule) };
}

/** The summary as a few log lines. */
export function cpuProfileLines(s: CpuProfileSummary): string[] {
  const row = (x: CpuSite): string => `  ${x.usPerOp.toFixed(1).padStart(7)} µs  ${(x.share * 100).toFixed(1).padStart(5)} %  ${x.site}`;
  return [
    `cpu profile, ${s.label}: ${s.busyUsPerOp.toFixed(0)} µs busy per operation, idle ${(s.idleShare * 100).toFixed(0)} % of the time${s.file ? ` (${s.file})` : ''}`,
    ' by module (self time per operation, share of busy time):',
    ...s.topModules.map(row),
    ' by function:',
    ...s.topFunctions.map(row),
  ];
}
