/**
 * The bench's output: one JSON document with every raw result, and a Markdown table of the
 * figures headed by the machine they were taken on.
 */
import { formatBytes, formatTarget, formatValue, type Figure } from './figures.js';
import type { CpuUse, MachineInfo } from './machine.js';
import type { BenchSettings } from './options.js';
import type { LatencySummary } from './stats.js';
import { renderThreads, type ThreadPhase } from './pauseReport.js';

/** CPU use of one phase (cores), to show how noisy the machine was. */
export interface PhaseCpu {
  phase: string;
  seconds: number;
  cpu: CpuUse | undefined;
}

export interface BenchResult {
  schema: 1;
  mode: BenchSettings['mode'];
  startedAt: string;
  finishedAt: string;
  durationS: number;
  machine: MachineInfo & { loadAverageAtEnd: number[]; wakeLateness: LatencySummary };
  settings: BenchSettings;
  figures: Figure[];
  /** Phases that threw: the bench went on with the others. */
  failedPhases: { phase: string; error: string }[];
  phases: PhaseCpu[];
  /** The watched phases: what the service thread allocated and what paused it. */
  threads: ThreadPhase[];
  /** Raw results of every phase, by phase name. */
  raw: Record<string, unknown>;
}

const VERDICT: Record<Figure['verdict'], string> = {
  pass: '✅ pass',
  fail: '❌ fail',
  info: '',
  'not judged': 'not judged (smoke)',
  'not measured': '— not measured',
};

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderMarkdown(r: BenchResult): string {
  const m = r.machine;
  const lines: string[] = [];
  lines.push(`# cim-domain-nix benchmark (${r.mode})`);
  lines.push('');
  lines.push(`${r.startedAt} · ${r.durationS.toFixed(0)} s`);
  lines.push('');
  lines.push(`- **CPU**: ${m.cpuModel}, ${m.cores} cores · **memory** ${formatBytes(m.memoryBytes)} · ${m.os}`);
  lines.push(`- **Node** ${m.node} · **nats-server** ${m.natsServer} (loopback, JetStream file storage in a temp dir)`);
  const flags = [...process.execArgv.filter((a) => a.startsWith('--max-')), ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/).filter((a) => a.startsWith('--max-'))];
  lines.push(`- **V8 heap flags** ${flags.length ? flags.join(' ') : 'none'} (the service runs in this process; \`npm start\` uses --max-semi-space-size=64 too)`);
  lines.push(
    `- **noise**: load average ${m.loadAverageAtStart.join(' ')} at start, ${m.loadAverageAtEnd.join(' ')} at end; a 1 ms sleep wakes late by p50 ${m.wakeLateness.p50.toFixed(3)} ms, p99 ${m.wakeLateness.p99.toFixed(3)} ms, max ${m.wakeLateness.max.toFixed(3)} ms`,
  );
  if (r.mode === 'smoke') lines.push('- **smoke run**: tiny sizes; the figures prove the bench works and are not judged');
  lines.push('');
  lines.push('| figure | value | target | ratio | result |');
  lines.push('|---|---|---|---|---|');
  let section = '';
  for (const f of r.figures) {
    if (f.section !== section) {
      section = f.section;
      lines.push(`| **${cell(section)}** | | | | |`);
    }
    const value = f.verdict === 'not measured' ? `not measured: ${f.note ?? ''}` : formatValue(f.value, f.unit);
    const ratio = f.ratio ? `${f.ratio.value.toFixed(2)}× ${f.ratio.against}` : '';
    const note = f.verdict !== 'not measured' && f.note ? ` <br><sub>${f.note}</sub>` : '';
    lines.push(
      `| ${cell(f.name)}${cell(note)} | ${cell(value)} | ${cell(formatTarget(f.target, f.unit))} | ${cell(ratio)} | ${VERDICT[f.verdict]} |`,
    );
  }
  lines.push('');
  if (r.failedPhases.length) {
    lines.push('**Phases that failed** (the others ran):');
    lines.push('');
    for (const p of r.failedPhases) lines.push(`- ${p.phase}: ${cell(p.error.split('\n')[0] ?? '')}`);
    lines.push('');
  }
  const judged = r.figures.filter((f) => f.verdict === 'pass' || f.verdict === 'fail');
  const failed = judged.filter((f) => f.verdict === 'fail');
  const missing = r.figures.filter((f) => f.verdict === 'not measured');
  lines.push(
    `Targets: ${judged.length - failed.length} of ${judged.length} met${failed.length ? ` (missed: ${failed.map((f) => `${f.section} — ${f.name}`).join('; ')})` : ''}${missing.length ? `; ${missing.length} not measured` : ''}.`,
  );
  lines.push('');
  lines.push(
    'CPU per phase (cores; "others" is load from outside the bench; children count when they end; "?" where a server restart hides the split):',
  );
  lines.push('');
  lines.push('| phase | s | bench process | its children (nix, git) | nats-server | others |');
  lines.push('|---|---|---|---|---|---|');
  for (const p of r.phases) {
    // Below ~0.3 s the 10 ms tick of /proc/stat makes the split meaningless.
    const c = p.seconds >= 0.3 ? p.cpu : undefined;
    const f = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '?' : x.toFixed(2));
    lines.push(
      `| ${cell(p.phase)} | ${p.seconds.toFixed(1)} | ${f(c?.bench)} | ${f(c?.children)} | ${f(c?.natsServer)} | ${f(c?.others)} |`,
    );
  }
  lines.push('');
  lines.push(...renderThreads(r.threads ?? []));
  lines.push(
    'Reproduce: `npm run bench` (full), `npm run bench -- --smoke` (seconds), `--aggregates 1000000` for the full memory target, `--alloc-profile` for where the allocations come from, `--cpu-profile` for what the service thread spends its CPU on, `--cluster` (or `--only cluster`) for several instances on a three-node NATS cluster (its nats-servers count as "others" above).',
  );
  return lines.join('\n') + '\n';
}
