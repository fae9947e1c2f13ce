/**
 * Where a statechart's states, transitions and labels go, computed by dagre (a layered graph
 * layout, bundled into the page, so it works offline). Every edge label is a node of its own
 * in dagre's layering, between the ranks of its source and target, so labels never overlap
 * each other or a state, and the chart is sized to hold them all. Pure: text widths come from
 * the caller's `measure`, so the layout is the same in the page and in a test.
 */
import type { Statechart, StatechartTransition } from '../../../src/inspection/wire.js';
import { layoutGraph, newGraph } from './dagre.js';

/** Width in px of `text` in the chart's state or label font. */
export type Measure = (text: string, font: 'state' | 'label' | 'note') => number;

export type Role = StatechartTransition['role'];

export interface PlacedState {
  key: string;
  /** Top-left corner and size. */
  x: number;
  y: number;
  w: number;
  h: number;
  final: boolean;
}

export interface PlacedLabel {
  /** One line per event (at most {@link LABEL_LINES}, the last may say how many more). */
  lines: string[];
  /** Top-left corner and size of the label's box (text and background). */
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface PlacedEdge {
  from: string;
  to: string;
  role: Role;
  events: StatechartTransition[];
  /** SVG path data of the edge. */
  path: string;
  label: PlacedLabel;
}

export interface ChartLayout {
  width: number;
  height: number;
  states: Map<string, PlacedState>;
  edges: PlacedEdge[];
  /** The initial-state marker: a dot at `from`, an arrow into the initial state. */
  initial: { path: string; dot: { x: number; y: number } } | undefined;
  /** The transitions every state takes, as a line under the chart. */
  note: { text: string; x: number; y: number } | undefined;
}

const STATE_H = 36;
const STATE_MIN_W = 92;
/** Height of one label line, and the padding around a label's lines. */
const LINE_H = 13;
const LABEL_PAD = 5;
/** Most lines a label shows; more events are counted on the last line. */
export const LABEL_LINES = 3;
const PAD = 12;
const START = '\u0000start';

/** The event as shown: the aggregate prefix dropped (`flake.created` → `created`). */
export function label(event: string): string {
  const dot = event.indexOf('.');
  return dot > 0 && !event.startsWith('effect.') ? event.slice(dot + 1) : event;
}

/**
 * A fact transition S → T on fact F is a replay shortcut when a command takes S to a waiting
 * state P that reaches T on the same F: live, the aggregate goes S → P → T; only a replay of
 * the stored facts (no commands) jumps S → T. Hidden unless asked for, they crowd the chart.
 */
export function replayShortcuts(chart: Statechart): Set<string> {
  const byKey = new Map(chart.states.map((st) => [st.key, st]));
  const out = new Set<string>();
  for (const st of chart.states) {
    for (const t of st.transitions) {
      if (t.role !== 'fact' || t.target === st.key) continue;
      const viaCommand = st.transitions.some(
        (c) =>
          c.role === 'command' &&
          !c.refuses &&
          c.target !== st.key &&
          (byKey.get(c.target)?.transitions ?? []).some((f) => f.event === t.event && f.target === t.target),
      );
      if (viaCommand) out.add(`${st.key}|${t.event}|${t.target}`);
    }
  }
  return out;
}

/** The drawn edges: one per (source, target) pair, self-transitions, refusals and (unless shown) replay shortcuts left out. */
export function chartEdges(chart: Statechart, showReplay: boolean): { from: string; to: string; events: StatechartTransition[] }[] {
  const map = new Map<string, { from: string; to: string; events: StatechartTransition[] }>();
  const hidden = showReplay ? new Set<string>() : replayShortcuts(chart);
  for (const st of chart.states) {
    for (const t of st.transitions) {
      if (t.target === st.key || t.refuses || hidden.has(`${st.key}|${t.event}|${t.target}`)) continue;
      const k = `${st.key}->${t.target}`;
      let e = map.get(k);
      if (!e) map.set(k, (e = { from: st.key, to: t.target, events: [] }));
      if (!e.events.some((x) => x.event === t.event)) e.events.push(t);
    }
  }
  return [...map.values()];
}

/** The label of an edge: one line per event, at most {@link LABEL_LINES} (the last then counts the rest). */
export function edgeLines(events: readonly StatechartTransition[]): string[] {
  const names = events.map((x) => label(x.event) + (x.guarded ? '?' : ''));
  if (names.length <= LABEL_LINES) return names;
  return [...names.slice(0, LABEL_LINES - 1), `+${names.length - LABEL_LINES + 1} more`];
}

/** The colour class of an edge: a fact wins over a command, a command over the rest. */
function roleOf(events: readonly StatechartTransition[]): Role {
  if (events.some((x) => x.role === 'fact')) return 'fact';
  if (events.some((x) => x.role === 'command')) return 'command';
  return events[0]?.role ?? 'system';
}

export type Direction = 'LR' | 'TB';

/** Lay the chart out from the initial state: left to right (`LR`, the default) or top to bottom (`TB`). */
export function layoutChart(chart: Statechart, opts: { showReplay: boolean; measure: Measure; direction?: Direction }): ChartLayout {
  const { measure } = opts;
  const g = newGraph();
  g.setGraph({ rankdir: opts.direction ?? 'LR', nodesep: 14, ranksep: 22, edgesep: 10, marginx: PAD, marginy: PAD });
  g.setDefaultEdgeLabel(() => ({}));
  for (const st of chart.states)
    g.setNode(st.key, { width: Math.max(STATE_MIN_W, Math.ceil(measure(st.key, 'state')) + 28), height: STATE_H });
  const hasInitial = chart.states.some((st) => st.key === chart.initial);
  if (hasInitial) {
    g.setNode(START, { width: 10, height: 10 });
    g.setEdge(START, chart.initial, { minlen: 1 }, START);
  }
  const edges = chartEdges(chart, opts.showReplay);
  const texts = new Map<string, string[]>();
  for (const e of edges) {
    const lines = edgeLines(e.events);
    const name = `${e.from}->${e.to}`;
    texts.set(name, lines);
    const width = Math.ceil(Math.max(...lines.map((l) => measure(l, 'label')))) + 2 * LABEL_PAD;
    g.setEdge(e.from, e.to, { width, height: lines.length * LINE_H + LABEL_PAD, labelpos: 'c' }, name);
  }
  layoutGraph(g);

  const states = new Map<string, PlacedState>();
  for (const st of chart.states) {
    const n = g.node(st.key);
    states.set(st.key, { key: st.key, x: n.x - n.width / 2, y: n.y - n.height / 2, w: n.width, h: n.height, final: st.final });
  }
  const placed: PlacedEdge[] = edges.map((e) => {
    const name = `${e.from}->${e.to}`;
    const el = g.edge(e.from, e.to, name);
    return {
      from: e.from,
      to: e.to,
      role: roleOf(e.events),
      events: e.events,
      path: basis(el.points),
      label: { lines: texts.get(name) ?? [], x: el.x - el.width / 2, y: el.y - el.height / 2, w: el.width, h: el.height },
    };
  });
  let initial: ChartLayout['initial'];
  if (hasInitial) {
    const s = g.node(START);
    const el = g.edge(START, chart.initial, START);
    initial = { dot: { x: s.x, y: s.y }, path: basis(el.points) };
  }
  const graph = g.graph();
  let width = Math.ceil(graph.width);
  let height = Math.ceil(graph.height);
  let note: ChartLayout['note'];
  if (chart.always.length > 0) {
    const text = `in any state: ${[...new Set(chart.always.map((t) => `${t.event} → ${t.target}`))].join(', ')}`;
    note = { text, x: PAD, y: height + 8 };
    height += 22;
    width = Math.max(width, Math.ceil(measure(text, 'note')) + 2 * PAD);
  }
  return { width, height, states, edges: placed, initial, note };
}

/**
 * The layout that shows the chart largest in a `width` × `height` box: left to right, or top
 * to bottom when that is larger (narrow windows), with the scale (≤ 1) that makes it fit.
 */
export function fitChart(
  chart: Statechart,
  opts: { showReplay: boolean; measure: Measure; width: number; height: number },
): { layout: ChartLayout; scale: number } {
  let best: { layout: ChartLayout; scale: number } | undefined;
  for (const direction of ['LR', 'TB'] as const) {
    const laid = layoutChart(chart, { ...opts, direction });
    const scale = Math.min(1, opts.width / laid.width, opts.height / laid.height);
    // Left to right unless top to bottom is clearly larger.
    if (!best || scale > best.scale * 1.05) best = { layout: laid, scale };
  }
  return best!;
}

/** A smooth path through `points` (a uniform B-spline, as d3's curveBasis draws it). */
export function basis(points: readonly { x: number; y: number }[]): string {
  const f = (n: number): string => String(Math.round(n * 10) / 10);
  if (points.length === 0) return '';
  const p0 = points[0]!;
  if (points.length === 1) return `M${f(p0.x)},${f(p0.y)}`;
  if (points.length === 2) return `M${f(p0.x)},${f(p0.y)}L${f(points[1]!.x)},${f(points[1]!.y)}`;
  let d = `M${f(p0.x)},${f(p0.y)}`;
  let x0 = p0.x;
  let y0 = p0.y;
  let x1 = points[1]!.x;
  let y1 = points[1]!.y;
  d += `L${f((5 * x0 + x1) / 6)},${f((5 * y0 + y1) / 6)}`;
  for (let i = 2; i < points.length; i++) {
    const { x, y } = points[i]!;
    d += `C${f((2 * x0 + x1) / 3)},${f((2 * y0 + y1) / 3)} ${f((x0 + 2 * x1) / 3)},${f((y0 + 2 * y1) / 3)} ${f((x0 + 4 * x1 + x) / 6)},${f((y0 + 4 * y1 + y) / 6)}`;
    x0 = x1;
    y0 = y1;
    x1 = x;
    y1 = y;
  }
  d += `C${f((2 * x0 + x1) / 3)},${f((2 * y0 + y1) / 3)} ${f((x0 + 2 * x1) / 3)},${f((y0 + 2 * y1) / 3)} ${f(x1)},${f(y1)}`;
  return d;
}
