/**
 * Draws a statechart (from the machine definition the service serves) as SVG: states in
 * columns by distance from the initial state, transitions as labelled arrows (commands blue,
 * facts green, effect outcomes grey), the current state filled, a history state outlined.
 */
import type { Statechart, StatechartTransition } from '../../src/inspection/wire.js';
import { h, s } from './dom.js';

const W = 120;
const H = 40;
const GAP_X = 124;
const GAP_Y = 30;
const PAD = 24;

interface Box {
  key: string;
  x: number;
  y: number;
  col: number;
  final: boolean;
}

interface Edge {
  from: string;
  to: string;
  events: StatechartTransition[];
}

/** The event as shown: the aggregate prefix dropped (`flake.created` → `created`). */
export function label(event: string): string {
  const dot = event.indexOf('.');
  return dot > 0 && !event.startsWith('effect.') ? event.slice(dot + 1) : event;
}

function layout(chart: Statechart): { boxes: Map<string, Box>; width: number; height: number } {
  const depth = new Map<string, number>();
  const byKey = new Map(chart.states.map((st) => [st.key, st]));
  const queue: string[] = [];
  if (byKey.has(chart.initial)) {
    depth.set(chart.initial, 0);
    queue.push(chart.initial);
  }
  while (queue.length > 0) {
    const key = queue.shift()!;
    const d = depth.get(key)!;
    for (const t of byKey.get(key)?.transitions ?? []) {
      if (t.target !== key && byKey.has(t.target) && !depth.has(t.target)) {
        depth.set(t.target, d + 1);
        queue.push(t.target);
      }
    }
  }
  let maxDepth = Math.max(0, ...depth.values());
  for (const t of chart.always) {
    if (!depth.has(t.target) && byKey.has(t.target)) depth.set(t.target, ++maxDepth);
  }
  for (const st of chart.states) if (!depth.has(st.key)) depth.set(st.key, maxDepth + 1);
  const columns = new Map<number, string[]>();
  for (const st of chart.states) {
    const d = depth.get(st.key)!;
    const col = columns.get(d) ?? [];
    col.push(st.key);
    columns.set(d, col);
  }
  const tallest = Math.max(...[...columns.values()].map((c) => c.length));
  const boxes = new Map<string, Box>();
  const cols = [...columns.keys()].sort((a, b) => a - b);
  cols.forEach((d, ci) => {
    const keys = columns.get(d)!;
    const offset = ((tallest - keys.length) * (H + GAP_Y)) / 2;
    keys.forEach((key, i) => {
      boxes.set(key, {
        key,
        col: ci,
        x: PAD + ci * (W + GAP_X),
        y: PAD + 18 + offset + i * (H + GAP_Y),
        final: byKey.get(key)?.final ?? false,
      });
    });
  });
  return {
    boxes,
    width: PAD * 2 + cols.length * W + (cols.length - 1) * GAP_X + 70,
    height: PAD * 2 + 18 + tallest * H + (tallest - 1) * GAP_Y + 44,
  };
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

function edges(chart: Statechart, showReplay: boolean): Edge[] {
  const map = new Map<string, Edge>();
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

export interface ChartView {
  current?: string | undefined;
  /** State shown from the history slider (outlined). */
  past?: string | undefined;
  /** Dim the chart (the actor is passivated or stopped). */
  dim?: boolean;
  /** Draw the fact transitions only a replay takes (see {@link replayShortcuts}). */
  showReplay?: boolean;
}

/** The SVG of `chart`. */
export function drawStatechart(chart: Statechart, view: ChartView): SVGSVGElement {
  const { boxes, width, height } = layout(chart);
  const svg = s('svg', {
    class: `chart${view.dim ? ' dim' : ''}`,
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
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
  // Initial marker.
  const init = boxes.get(chart.initial);
  if (init) {
    svg.append(s('circle', { cx: init.x - 14, cy: init.y + H / 2, r: 5, class: 'initial' }));
    svg.append(
      s('line', {
        x1: init.x - 9,
        y1: init.y + H / 2,
        x2: init.x - 1,
        y2: init.y + H / 2,
        class: 'edge system',
        'marker-end': 'url(#arrow-system)',
      }),
    );
  }
  const back = new Map<number, number>();
  const side = new Map<number, number>();
  for (const e of edges(chart, view.showReplay ?? false)) {
    const a = boxes.get(e.from);
    const b = boxes.get(e.to);
    if (!a || !b) continue;
    const role = e.events.some((x) => x.role === 'fact')
      ? 'fact'
      : e.events.some((x) => x.role === 'command')
        ? 'command'
        : e.events[0]!.role;
    let d: string;
    let lx: number;
    let ly: number;
    if (b.col > a.col) {
      const x1 = a.x + W;
      const y1 = a.y + H / 2;
      const x2 = b.x;
      const y2 = b.y + H / 2;
      const mx = (x1 + x2) / 2;
      d = `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 2},${y2}`;
      lx = mx;
      // Above a straight edge, beside a bent one.
      ly = y1 === y2 ? y1 - 10 : (y1 + y2) / 2;
    } else if (b.col === a.col) {
      // Same column: an arc on the right of the column, one lane further out per edge.
      const n = (side.get(a.col) ?? 0) + 1;
      side.set(a.col, n);
      const x = a.x + W;
      const y1 = a.y + H / 2 + (b.y > a.y ? 6 : -6);
      const y2 = b.y + H / 2 + (b.y > a.y ? -6 : 6);
      const bulge = x + 14 + n * 12;
      d = `M${x},${y1} C${bulge},${y1} ${bulge},${y2} ${x + 2},${y2}`;
      lx = bulge + 4;
      ly = (y1 + y2) / 2 + 4;
    } else {
      // Back edge: a loop under the boxes.
      const n = (back.get(b.col) ?? 0) + 1;
      back.set(b.col, n);
      const x1 = a.x + W / 2 + 10;
      const y1 = a.y + H;
      const x2 = b.x + W / 2 - 10;
      const y2 = b.y + H;
      const dip = Math.max(y1, y2) + 16 + n * 12;
      d = `M${x1},${y1} C${x1},${dip} ${x2},${dip} ${x2},${y2 + 2}`;
      lx = (x1 + x2) / 2;
      ly = dip - 4;
    }
    const g = s('g', { class: `transition ${role}` });
    g.append(s('title', undefined, `${e.from} → ${e.to}: ${e.events.map((x) => x.event + (x.guarded ? ' [guarded]' : '')).join(', ')}`));
    g.append(s('path', { d, class: `edge ${role}`, 'marker-end': `url(#arrow-${role})` }));
    const names = e.events.map((x) => label(x.event) + (x.guarded ? '?' : ''));
    const text = names.length > 2 ? `${names.slice(0, 2).join(', ')} +${names.length - 2}` : names.join(', ');
    const tw = text.length * 6.4 + 8;
    // Arcs within a column carry their events in the tooltip only: labels there pile up.
    if (b.col !== a.col) {
      g.append(s('rect', { x: lx - tw / 2, y: ly - 9, width: tw, height: 16, rx: 3, class: 'edge-label-bg' }));
      g.append(s('text', { x: lx, y: ly + 3, class: `edge-label ${role}`, 'text-anchor': 'middle' }, text));
    }
    svg.append(g);
  }
  for (const box of boxes.values()) {
    const cls = ['state'];
    if (box.key === view.current) cls.push('current');
    if (box.key === view.past) cls.push('past');
    if (box.final) cls.push('final');
    const g = s('g', { class: cls.join(' '), 'data-state': box.key, ...(box.key === view.current ? { 'aria-current': 'true' } : {}) });
    g.append(s('rect', { x: box.x, y: box.y, width: W, height: H, rx: 10 }));
    if (box.final) g.append(s('rect', { x: box.x + 3, y: box.y + 3, width: W - 6, height: H - 6, rx: 8, class: 'inner' }));
    g.append(s('text', { x: box.x + W / 2, y: box.y + H / 2 + 5, 'text-anchor': 'middle' }, box.key));
    svg.append(g);
  }
  if (chart.always.length > 0) {
    const text = `in any state: ${[...new Set(chart.always.map((t) => `${t.event} → ${t.target}`))].join(', ')}`;
    svg.append(s('text', { x: PAD, y: height - 12, class: 'always' }, text));
  }
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
