/**
 * Draws a statechart (from the machine definition the service serves) as SVG: states laid
 * out left to right by {@link layoutChart}, transitions as labelled arrows (commands blue,
 * facts green, effect outcomes grey), the current state filled, a history state outlined.
 */
import type { Statechart } from '../../../src/inspection/wire.js';
import { fitChart, type ChartLayout, type Measure } from './chartLayout.js';
import { h, s } from './dom.js';

/** Baseline of a label's first line below its box's top padding, and the distance between lines (the layout's line height). */
const LINE_ASCENT = 9;
const LINE_HEIGHT = 13;

export interface ChartView {
  current?: string | undefined;
  /** State shown from the history slider (outlined). */
  past?: string | undefined;
  /** Dim the chart (the actor is passivated or stopped). */
  dim?: boolean;
  /** Draw the fact transitions only a replay takes (see `replayShortcuts`). */
  showReplay?: boolean;
}

/** Text widths in the fonts the chart's CSS uses (a canvas measures them; a little slack for rounding). */
export function canvasMeasure(): Measure {
  const ctx = document.createElement('canvas').getContext('2d');
  const root = getComputedStyle(document.documentElement);
  const sans = root.fontFamily || 'sans-serif';
  const mono = root.getPropertyValue('--mono').trim() || 'monospace';
  const fonts = { state: `600 13px ${sans}`, label: `11px ${mono}`, note: `11px ${mono}` };
  return (text, font) => {
    if (!ctx) return text.length * (font === 'state' ? 8.5 : 7);
    ctx.font = fonts[font];
    return ctx.measureText(text).width * 1.04 + 2;
  };
}

/** Smallest scale a chart is drawn at to fit its panel (below it, the panel scrolls). */
const MIN_SCALE = 0.5;

/**
 * Draws charts to fit a panel. Layouts are kept per machine, direction and panel size: the
 * chart redraws with every state change of the selected actor, its layout rarely changes.
 */
export class ChartDrawer {
  private readonly cache = new Map<string, { layout: ChartLayout; scale: number }>();

  constructor(private readonly measure: Measure) {}

  /** The SVG of `chart`, laid out to fit `box` (px). */
  draw(chart: Statechart, view: ChartView, box: { width: number; height: number }): SVGSVGElement {
    const showReplay = view.showReplay ?? false;
    const key = `${chart.type}|${chart.id}|${showReplay}|${Math.round(box.width)}|${Math.round(box.height)}`;
    let fit = this.cache.get(key);
    if (!fit) {
      fit = fitChart(chart, { showReplay, measure: this.measure, width: box.width, height: box.height });
      if (this.cache.size > 64) this.cache.clear();
      this.cache.set(key, fit);
    }
    return drawStatechart(chart, view, fit.layout, Math.max(MIN_SCALE, fit.scale));
  }
}

/** The SVG of `chart` laid out as `laid`, drawn at `scale`. */
export function drawStatechart(chart: Statechart, view: ChartView, laid: ChartLayout, scale = 1): SVGSVGElement {
  const { width, height } = laid;
  const svg = s('svg', {
    class: `chart${view.dim ? ' dim' : ''}`,
    viewBox: `0 0 ${width} ${height}`,
    width: Math.floor(width * scale),
    height: Math.floor(height * scale),
    role: 'img',
    'aria-label': `statechart of ${chart.id}${view.current ? `, current state ${view.current}` : ''}`,
  });
  svg.append(
    s(
      'defs',
      undefined,
      ...['command', 'fact', 'outcome', 'system'].map((role) =>
        s(
          'marker',
          { id: `arrow-${role}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
          s('path', { d: 'M0,0 L10,5 L0,10 z', class: `arrowhead ${role}` }),
        ),
      ),
    ),
  );
  if (laid.initial) {
    svg.append(s('circle', { cx: laid.initial.dot.x, cy: laid.initial.dot.y, r: 5, class: 'initial' }));
    svg.append(s('path', { d: laid.initial.path, class: 'edge system', 'marker-end': 'url(#arrow-system)' }));
  }
  // Edges first, then their labels above every edge, then the states.
  const labels: SVGGElement[] = [];
  for (const e of laid.edges) {
    const title = `${e.from} → ${e.to}: ${e.events.map((x) => x.event + (x.guarded ? ' [guarded]' : '')).join(', ')}`;
    const g = s('g', { class: `transition ${e.role}`, 'data-from': e.from, 'data-to': e.to });
    g.append(s('title', undefined, title));
    g.append(s('path', { d: e.path, class: `edge ${e.role}`, 'marker-end': `url(#arrow-${e.role})` }));
    svg.append(g);
    const l = e.label;
    const lg = s('g', { class: `transition-label ${e.role}` });
    lg.append(s('title', undefined, title));
    lg.append(s('rect', { x: l.x, y: l.y, width: l.w, height: l.h, rx: 3, class: 'edge-label-bg' }));
    lg.append(
      s(
        'text',
        { x: l.x + l.w / 2, y: l.y + 3 + LINE_ASCENT, class: `edge-label ${e.role}`, 'text-anchor': 'middle' },
        ...l.lines.map((line, i) => s('tspan', { x: l.x + l.w / 2, dy: i === 0 ? 0 : LINE_HEIGHT }, line)),
      ),
    );
    labels.push(lg);
  }
  svg.append(...labels);
  for (const box of laid.states.values()) {
    const cls = ['state'];
    if (box.key === view.current) cls.push('current');
    if (box.key === view.past) cls.push('past');
    if (box.final) cls.push('final');
    const g = s('g', { class: cls.join(' '), 'data-state': box.key, ...(box.key === view.current ? { 'aria-current': 'true' } : {}) });
    g.append(s('rect', { x: box.x, y: box.y, width: box.w, height: box.h, rx: 10 }));
    if (box.final) g.append(s('rect', { x: box.x + 3, y: box.y + 3, width: box.w - 6, height: box.h - 6, rx: 8, class: 'inner' }));
    g.append(s('text', { x: box.x + box.w / 2, y: box.y + box.h / 2 + 5, 'text-anchor': 'middle' }, box.key));
    svg.append(g);
  }
  if (laid.note) svg.append(s('text', { x: laid.note.x, y: laid.note.y + 11, class: 'always' }, laid.note.text));
  return svg;
}

/** The commands a state takes now, and those it refuses. */
export function commandsIn(chart: Statechart, state: string | undefined): { accepts: string[]; refuses: string[]; facts: string[] } {
  const st = chart.states.find((x) => x.key === state);
  const accepts = new Set<string>();
  const refuses = new Set<string>();
  const facts = new Set<string>();
  for (const t of [...(st?.transitions ?? []), ...chart.always]) {
    if (t.role === 'command') (t.refuses ? refuses : accepts).add(t.event);
    else if (t.role === 'fact') facts.add(t.event);
    else if (t.role === 'system' && chart.type === 'system') accepts.add(t.event);
  }
  for (const a of accepts) refuses.delete(a);
  return { accepts: [...accepts], refuses: [...refuses], facts: [...facts] };
}

/** The panel beside the chart: what the current state accepts. */
export function commandsPanel(chart: Statechart, state: string | undefined, past = false): HTMLElement {
  const { accepts, refuses } = commandsIn(chart, state);
  const isSystem = chart.type === 'system';
  const when = past ? `in ${state ?? '?'} (history)` : 'now';
  return h(
    'div',
    { class: 'commands', 'aria-label': `commands accepted ${when}` },
    h('h3', undefined, isSystem ? `Events handled ${when}` : `Accepts ${when}`),
    accepts.length
      ? h('ul', { class: 'accepts' }, ...accepts.map((c) => h('li', { 'data-command': c }, h('code', undefined, c))))
      : h('span', { class: 'muted' }, state ? 'no command in this state' : 'select an actor'),
    refuses.length ? h('h3', undefined, 'Refuses') : null,
    refuses.length ? h('ul', { class: 'refuses' }, ...refuses.map((c) => h('li', undefined, h('code', undefined, c)))) : null,
  );
}
