/**
 * Where the service thread's allocations come from: V8's sampling heap profiler (through
 * `node:inspector`) over one phase, counting collected objects too, so the profile shows
 * what was allocated, not only what is still alive. The whole profile is written as a
 * `.heapprofile` (open it in Chrome DevTools → Memory); the summary names the top
 * functions and the top modules by bytes per operation.
 */
import { Session } from 'node:inspector/promises';
import { writeFile } from 'node:fs/promises';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  callFrame: CallFrame;
  selfSize: number;
  children: ProfileNode[];
}
interface SamplingHeapProfile {
  head: ProfileNode;
}

export interface AllocSite {
  /** `function (file:line)` or a module (`nats-core`, `src/runtime/aggregateSlot.ts`). */
  site: string;
  bytesPerOp: number;
  share: number;
}

export interface AllocProfileSummary {
  label: string;
  what: 'allocated' | 'promoted';
  ops: number;
  /** Sampled bytes per operation (an estimate: the sampler scales each sample to the interval). */
  bytesPerOp: number;
  topFunctions: AllocSite[];
  topModules: AllocSite[];
  /** The whole profile's file, when written. */
  file?: string;
}

const SAMPLING_INTERVAL = 8 * 1024;

/** Where a frame's code lives: a package, one of our files, or Node/V8 itself. */
export function moduleOf(url: string): string {
  if (!url) return '(V8 / native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? url);
  }
  if (url.startsWith('node:')) return url;
  const at = url.search(/\/(src|machines|test)\//);
  return at === -1 ? url : url.slice(at + 1);
}

function shortUrl(url: string): string {
  const m = moduleOf(url);
  if (m.startsWith('@') || !m.includes('/')) {
    const nm = url.lastIndexOf('/node_modules/');
    return nm === -1 ? m : url.slice(nm + '/node_modules/'.length);
  }
  return m;
}

/**
 * Start sampling on this thread; `stop` summarises (and writes the profile when `file` is
 * given). `allocated` counts every sampled allocation; `promoted` only what no scavenge
 * collected: what was promoted to the old generation (or is still young at the end), the
 * data that makes scavenges long and mark-compacts frequent.
 */
export async function startAllocationProfile(
  label: string,
  what: 'allocated' | 'promoted' = 'allocated',
): Promise<{ stop(ops: number, file?: string): Promise<AllocProfileSummary> }> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: SAMPLING_INTERVAL,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: what === 'allocated',
  });
  return {
    stop: async (ops, file) => {
      const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: SamplingHeapProfile };
      await session.post('HeapProfiler.disable');
      session.disconnect();
      if (file) await writeFile(file, JSON.stringify(profile));
      return { ...summarise(label, what, profile, ops), ...(file ? { file } : {}) };
    },
  };
}

export function summarise(label: string, what: AllocProfileSummary['what'], profile: SamplingHeapProfile, ops: number, top = 20): AllocProfileSummary {
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  let total = 0;
  const walk = (n: ProfileNode): void => {
    if (n.selfSize > 0) {
      const f = n.callFrame;
      const fn = `${f.functionName || '(anonymous)'} (${shortUrl(f.url) || 'native'}${f.url ? `:${f.lineNumber + 1}` : ''})`;
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + n.selfSize);
      const mod = moduleOf(f.url);
      byModule.set(mod, (byModule.get(mod) ?? 0) + n.selfSize);
      total += n.selfSize;
    }
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  const per = Math.max(1, ops);
  const rank = (m: Map<string, number>): AllocSite[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([site, bytes]) => ({ site, bytesPerOp: bytes / per, share: total ? bytes / total : 0 }));
  return { label, what, ops, bytesPerOp: total / per, topFunctions: rank(byFunction), topModules: rank(byModule) };
}
