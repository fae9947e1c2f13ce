/**
 * The sequence view: one correlation ID across every aggregate it touched: the client, each
 * aggregate (by name), Nix effects and the event store as lanes, messages in time order.
 */
import type { InspectRecord } from '../../../src/inspection/wire.js';
import { correlationOf, keyOf } from '../state/store.js';
import { clock, h, s, short } from './dom.js';
import { describe, type TimelineOptions } from './timeline.js';

interface Message {
  from: string;
  to: string;
  label: string;
  kind: string;
  at: number;
}

/** The sequence diagram of one correlation ID. */
export function sequenceView(correlation: string, records: readonly InspectRecord[], opts: TimelineOptions): HTMLElement {
  const mine = records.filter((r) => correlationOf(r) === correlation);
  if (mine.length === 0) {
    return h(
      'p',
      { class: 'empty-note' },
      `No records with correlation ${correlation} in this page's memory (it keeps what arrived since it was opened).`,
    );
  }
  const lanes: string[] = ['client'];
  /** Lane → [kind line, name line]: an aggregate's lane shows its type over its name. */
  const laneLabel = new Map<string, [string, string | undefined]>([['client', ['client (NATS)', undefined]]]);
  const lane = (r: InspectRecord): string => {
    const key = keyOf(r.actor.type, r.actor.id);
    if (!lanes.includes(key)) {
      lanes.push(key);
      laneLabel.set(key, [r.actor.type, opts.nameOf(r.actor.type, r.actor.id)]);
    }
    return key;
  };
  for (const r of mine) lane(r);
  const hasEffects = mine.some((r) => r.k === 'event' && r.origin === 'outcome');
  const hasStore = mine.some((r) => r.k === 'stored');
  if (hasEffects) {
    lanes.push('effects');
    laneLabel.set('effects', ['Nix effects', undefined]);
  }
  if (hasStore) {
    lanes.push('store');
    laneLabel.set('store', ['event store', undefined]);
  }
  const messages: Message[] = [];
  for (const r of mine) {
    const me = lane(r);
    switch (r.k) {
      case 'event':
        if (r.origin === 'command')
          messages.push({ from: 'client', to: me, label: `${r.event}  msg ${short(r.cause?.message_id)}`, kind: 'command', at: r.at });
        else if (r.origin === 'outcome') messages.push({ from: 'effects', to: me, label: r.event, kind: 'outcome', at: r.at });
        break;
      case 'state':
        for (const t of r.transitions)
          if (t.from !== t.to) messages.push({ from: me, to: me, label: `${t.from} → ${t.to}`, kind: 'transition', at: r.at });
        break;
      case 'stored':
        messages.push({
          from: me,
          to: 'store',
          label: `${r.event_type} #${r.sequence}  ${short(r.event_id)} ← ${short(r.causation_id)}`,
          kind: 'stored',
          at: r.at,
        });
        break;
      case 'reply':
        messages.push({
          from: me,
          to: 'client',
          label: r.status === 'ok' ? `ok ${r.command}` : `${r.code ?? 'error'} ${r.command}`,
          kind: r.status === 'ok' ? 'reply' : 'reply error',
          at: r.at,
        });
        break;
      default:
        messages.push({ from: me, to: me, label: describe(r).text, kind: 'lifecycle', at: r.at });
    }
  }
  // Lanes as wide as their names need, within 150–240 px (longer names end in an ellipsis).
  const longest = Math.max(0, ...[...laneLabel.values()].map(([kind, name]) => Math.max(kind.length, name?.length ?? 0)));
  const laneW = Math.min(240, Math.max(lanes.length > 5 ? 150 : 170, Math.ceil(longest * 7.2) + 30));
  const rowH = 30;
  const top = 54;
  // Names longer than the lane box end in an ellipsis (the whole name is in the tooltip).
  const fit = (text: string): string => {
    const max = Math.floor((laneW - 28) / 7.2);
    return text.length > max ? `${text.slice(0, max - 1)}…` : text;
  };
  const width = lanes.length * laneW;
  const height = top + messages.length * rowH + 20;
  const x = (l: string): number => lanes.indexOf(l) * laneW + laneW / 2;
  const svg = s('svg', {
    class: 'sequence',
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-label': `sequence of correlation ${correlation}`,
  });
  svg.append(
    s(
      'defs',
      undefined,
      s(
        'marker',
        { id: 'seq-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        s('path', { d: 'M0,0 L10,5 L0,10 z' }),
      ),
    ),
  );
  for (const l of lanes) {
    const cx = x(l);
    const [kind, name] = laneLabel.get(l) ?? [l, undefined];
    const g = s('g', { class: 'lane', 'data-lane': l });
    g.append(s('title', undefined, name === undefined ? kind : `${kind} ${name}\n${l.slice(l.indexOf(':') + 1)}`));
    g.append(s('rect', { x: cx - laneW / 2 + 10, y: 4, width: laneW - 20, height: 38, rx: 6 }));
    g.append(
      name === undefined
        ? s('text', { x: cx, y: 27, 'text-anchor': 'middle' }, kind)
        : s(
            'text',
            { x: cx, y: 18, 'text-anchor': 'middle' },
            s('tspan', { class: 'lane-kind' }, kind),
            s('tspan', { x: cx, dy: 16, class: 'lane-name' }, ` ${fit(name)}`),
          ),
    );
    g.append(s('line', { x1: cx, y1: 42, x2: cx, y2: height - 6, class: 'lifeline' }));
    svg.append(g);
  }
  messages.forEach((m, i) => {
    const y = top + i * rowH + 10;
    const g = s('g', { class: `msg ${m.kind}`, 'data-kind': m.kind });
    g.append(s('title', undefined, `${clock(m.at)} ${m.label}`));
    if (m.from === m.to) {
      const cx = x(m.from);
      g.append(s('path', { d: `M${cx},${y - 6} h22 v12 h-20`, class: 'arrow', 'marker-end': 'url(#seq-arrow)' }));
      g.append(s('text', { x: cx + 28, y: y + 4 }, m.label));
    } else {
      const x1 = x(m.from);
      const x2 = x(m.to);
      g.append(s('line', { x1, y1: y, x2: x2 + (x2 > x1 ? -3 : 3), y2: y, class: 'arrow', 'marker-end': 'url(#seq-arrow)' }));
      g.append(s('text', { x: (x1 + x2) / 2, y: y - 5, 'text-anchor': 'middle' }, m.label));
    }
    svg.append(g);
  });
  const actors = lanes.filter((l) => l.includes(':'));
  return h(
    'div',
    { class: 'sequence-wrap' },
    h(
      'p',
      { class: 'seq-head' },
      'Correlation ',
      h('code', undefined, correlation),
      ` · ${actors.length} aggregate${actors.length === 1 ? '' : 's'} · ${messages.length} messages `,
      ...actors.map((k) => {
        const [type, ...rest] = k.split(':');
        const id = rest.join(':');
        return h(
          'button',
          { class: 'chip', type: 'button', title: `${type} ${id}`, onclick: () => opts.onActor(type!, id) },
          `${type} ${opts.nameOf(type!, id)}`,
        );
      }),
    ),
    h('div', { class: 'scroll-x' }, svg),
  );
}
