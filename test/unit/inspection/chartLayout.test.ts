/**
 * The statechart layout of the inspector page (inspector/src/views/chartLayout.ts), checked
 * without a browser: for every machine the service serves, in both directions, with and
 * without the replay-only paths, no edge label overlaps another label or a state, and every
 * label and state lies inside the chart. Text widths come from a fixed-width measure here
 * (the page measures its real fonts; test/e2e/inspectorLayout.test.ts checks the result there).
 */
import { describe, expect, it } from 'vitest';
import { fitChart, layoutChart, type ChartLayout } from '../../../inspector/src/views/chartLayout.js';
import { machinesDocument } from '../../../src/inspection/statecharts.js';

const measure = (text: string, font: 'state' | 'label' | 'note'): number => text.length * (font === 'state' ? 8.6 : 6.9) + 2;

interface Rect {
  what: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

const overlap = (a: Rect, b: Rect): boolean =>
  Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x) > 0.5 && Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y) > 0.5;

function faults(name: string, laid: ChartLayout): string[] {
  const out: string[] = [];
  const states: Rect[] = [...laid.states.values()].map((s) => ({ what: `state ${s.key}`, x: s.x, y: s.y, w: s.w, h: s.h }));
  const labels: Rect[] = laid.edges.map((e) => ({ what: `label ${e.from}→${e.to} "${e.label.lines.join(' / ')}"`, ...e.label }));
  const inside = (r: Rect): boolean => r.x >= 0 && r.y >= 0 && r.x + r.w <= laid.width + 0.5 && r.y + r.h <= laid.height + 0.5;
  labels.forEach((a, i) => {
    for (const b of labels.slice(i + 1)) if (overlap(a, b)) out.push(`${name}: ${a.what} overlaps ${b.what}`);
    for (const s of states) if (overlap(a, s)) out.push(`${name}: ${a.what} overlaps ${s.what}`);
  });
  for (const r of [...labels, ...states]) if (!inside(r)) out.push(`${name}: ${r.what} is outside the chart`);
  states.forEach((a, i) => {
    for (const b of states.slice(i + 1)) if (overlap(a, b)) out.push(`${name}: ${a.what} overlaps ${b.what}`);
  });
  return out;
}

const charts = (() => {
  const doc = machinesDocument();
  return [...doc.aggregates, ...doc.system];
})();

describe('statechart layout', () => {
  it('keeps every edge label clear of the other labels and of the states, inside the chart, for every machine', () => {
    const found: string[] = [];
    for (const chart of charts)
      for (const direction of ['LR', 'TB'] as const)
        for (const showReplay of [false, true]) {
          const laid = layoutChart(chart, { showReplay, measure, direction });
          expect(laid.edges.length, chart.id).toBeGreaterThan(0);
          found.push(...faults(`${chart.id} ${direction}${showReplay ? ' +replay' : ''}`, laid));
        }
    expect(found).toEqual([]);
  });

  it('draws every transition between two states once, with each of its events on the label (at most three lines)', () => {
    const config = charts.find((c) => c.id === 'config')!;
    const laid = layoutChart(config, { showReplay: true, measure });
    const pairs = laid.edges.map((e) => `${e.from}->${e.to}`);
    expect(new Set(pairs).size).toBe(pairs.length);
    for (const e of laid.edges) {
      expect(e.label.lines.length).toBeLessThanOrEqual(3);
      expect(e.label.lines.length).toBe(Math.min(3, e.events.length));
    }
    expect(laid.edges.find((e) => e.from === 'activating' && e.to === 'created')?.label.lines).toEqual(['activation_failed?']);
  });

  it('fits a chart into a narrow box by turning it top to bottom when that shows it larger', () => {
    const config = charts.find((c) => c.id === 'config')!;
    const wide = fitChart(config, { showReplay: false, measure, width: 2_000, height: 400 });
    expect(wide.scale).toBe(1);
    expect(wide.layout.width).toBeGreaterThan(wide.layout.height);
    const narrow = fitChart(config, { showReplay: false, measure, width: 700, height: 340 });
    const lr = layoutChart(config, { showReplay: false, measure, direction: 'LR' });
    expect(narrow.scale).toBeGreaterThan(Math.min(700 / lr.width, 340 / lr.height));
    expect(narrow.scale).toBeLessThanOrEqual(1);
  });
});
