/**
 * Keeps `npm run bench` working: the smoke run (tiny sizes) must complete every phase with
 * no failed request. It judges nothing about speed — the machine running CI is noisy.
 */
import { describe, expect, it } from 'vitest';
import { benchProblems, runBench } from '../../bench/run.js';

describe('benchmark smoke run', () => {
  it('completes every phase without a failed request', async () => {
    const lines: string[] = [];
    const result = await runBench({ smoke: true, outDir: false, log: (l) => lines.push(l) });
    expect(benchProblems(result), lines.join('\n')).toEqual([]);
    expect(result.figures.length).toBeGreaterThan(10);
  }, 180_000);
});
