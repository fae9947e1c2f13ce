/**
 * Keeps `npm run bench` working: the smoke run (tiny sizes) must complete every phase with
 * no failed request. It judges nothing about speed — the machine running CI is noisy.
 * The cluster phase (`--cluster --smoke`) too: a three-node NATS cluster and seven service
 * process starts, every figure measured, no failed command.
 */
import { describe, expect, it } from 'vitest';
import { benchProblems, runBench } from '../../bench/run.js';

describe('benchmark smoke run', () => {
  it('completes every phase without a failed request (with the CPU profile of the command phase)', async () => {
    const lines: string[] = [];
    const result = await runBench({ smoke: true, cpuProfile: true, outDir: false, log: (l) => lines.push(l) });
    expect(benchProblems(result), lines.join('\n')).toEqual([]);
    expect(result.figures.length).toBeGreaterThan(10);
    // --cpu-profile names where the service thread's time went in the judged command phase.
    expect(lines.find((l) => l.startsWith('cpu profile, commands at')), lines.join('\n')).toMatch(/µs busy per operation/);
    // Queries are measured alone and with commands beside them.
    const underLoad = result.figures.find((f) => f.section === 'queries' && /^p99 at .* q\/s during .* cmd\/s$/.test(f.name));
    expect(underLoad?.value, JSON.stringify(underLoad)).toBeGreaterThan(0);
    expect(result.phases.map((p) => p.phase)).not.toContain('cluster');
  }, 180_000);

  it('completes the cluster phase (--cluster --only cluster) with every figure measured and no failed command', async () => {
    const lines: string[] = [];
    const result = await runBench({ smoke: true, cluster: true, only: ['cluster'], outDir: false, log: (l) => lines.push(l) });
    expect(benchProblems(result), lines.join('\n')).toEqual([]);
    const cluster = result.figures.filter((f) => f.section.startsWith('several instances'));
    const sections = new Set(cluster.map((f) => f.section.replace(/ \(.*$/, '')));
    expect([...sections].sort()).toEqual([
      'several instances: failover',
      'several instances: forwarding hop',
      'several instances: handoff per partition',
      'several instances: optimistic-concurrency conflicts between 3 instances',
      'several instances: throughput',
    ]);
    expect(cluster.filter((f) => f.value === null).map((f) => `${f.section} — ${f.name}`)).toEqual([]);
    expect(result.phases.map((p) => p.phase)).toEqual(['cluster']);
  }, 300_000);
});
