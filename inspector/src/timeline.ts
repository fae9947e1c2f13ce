/**
 * The timeline (commands, outcomes, transitions, stored events and replies, newest first)
 * and the sequence view (one correlation ID across every aggregate it touched: client,
 * aggregates, effects and the event store as lanes, messages in time order).
 */
import type { InspectRecord } from '../../src/inspection/wire.js';
import { clock, h, s, short } from './dom.js';
import { correlationOf, keyOf } from './store.js';

/** Most rows the timeline renders. */
export const TIMELINE_ROWS = 400;

export interface TimelineFilter {
  /** Only this actor's records. */
  actor?: string | undefined;
  correlation?: string | undefined;
  /** Show the actions executed and state records that changed nothing. */
  details: boolean;
}

/** A state record whose state did not change and that took no transition: noise unless asked for. */
function quiet(r: InspectRecord): boolean {
  return r.k === 'state' && r.transitions.every((t) => t.from === t.to) && r.transitions.length <= 1 && r.actor.type !== 'system';
}

export function visible(r: InspectRecord, f: TimelineFilter): boolean {
  if (!f.details && quiet(r)) return false;
  if (f.actor && keyOf(r.actor.type, r.actor.id) !== f.actor) return false;
  if (f.correlation && correlationOf(r) !== f.correlation) return false;
  return true;
}

/** One line of text for a record: [icon, kind, text]. With `details`, the actions executed too. */
export function describe(r: InspectRecord, details = false): { icon: string; kind: string; text: string } {
  switch (r.k) {
    case 'event':
      if (r.origin === 'command') return { icon: '⇢', kind: 'command', text: r.event };
      if (r.origin === 'outcome') {
        const p = r.payload as { kind?: string; message?: string } | undefined;
        return { icon: '⇠', kind: 'outcome', text: `${r.event}${p?.kind ? ` (${p.kind})` : ''}${p?.message ? `: ${p.message}` : ''}` };
      }
      return { icon: '•', kind: 'system', text: r.event };
    case 'state': {
      const steps = r.transitions.map(
        (t) => `${t.from} → ${t.to} on ${t.event}${details && t.actions.length ? ` [${t.actions.join(', ')}]` : ''}`,
      );
      const acts = details && r.actions.length ? `  ·  ${r.actions.join(' · ')}` : '';
      const ver = r.version !== undefined ? `  (v${r.version})` : '';
      return { icon: '→', kind: 'transition', text: `${steps.length ? steps.join(', then ') : `stays ${r.state}`}${ver}${acts}` };
    }
    case 'stored':
      return {
        icon: '✎',
        kind: 'stored',
        text: `${r.event_type} #${r.sequence} stored  event ${short(r.event_id)} ← ${short(r.causation_id)}`,
      };
    case 'reply':
      return r.status === 'ok'
        ? { icon: '↩', kind: 'reply', text: `reply ok to ${r.command}${r.version !== undefined ? ` (v${r.version})` : ''}` }
        : { icon: '↩', kind: 'reply error', text: `reply ${r.code ?? 'error'} to ${r.command}: ${r.message ?? ''}` };
    case 'spawned':
      return { icon: '✦', kind: 'lifecycle', text: `spawned in ${r.state}` };
    case 'rehydrated':
      return {
        icon: '⟳',
        kind: 'lifecycle',
        text: `rehydrated in ${r.state} from ${r.replayed} event${r.replayed === 1 ? '' : 's'}${r.from_snapshot ? ' + snapshot' : ''}`,
      };
    case 'passivated':
      return { icon: '⏸', kind: 'lifecycle', text: `passivated in ${r.state}` };
    case 'stopped':
      return { icon: '■', kind: 'lifecycle', text: `stopped (${r.reason})` };
  }
}

export interface TimelineOptions {
  onCorrelation(correlation: string): void;
  onActor(type: string, id: string): void;
}

/** The timeline rows for `records` (already filtered, newest first). */
export function timelineView(records: readonly InspectRecord[], opts: TimelineOptions, showActor: boolean, details = false): HTMLElement {
  if (records.length === 0) return h('p', { class: 'empty-note' }, 'Nothing yet: records appear here as commands arrive.');
  const list = h('ol', { class: 'timeline', 'aria-label': 'timeline, newest first' });
  for (const r of records) {
    const d = describe(r, details);
    const corr = correlationOf(r);
    const cause = 'cause' in r && r.cause ? r.cause : undefined;
    list.append(
      h(
        'li',
        {
          class: `tl ${d.kind}`,
          'data-kind': r.k,
          ...(corr ? { 'data-correlation': corr } : {}),
          title: cause
            ? `message ${cause.message_id}\ncorrelation ${cause.correlation_id}\ncausation ${cause.causation_id}`
            : r.k === 'stored'
              ? `event ${r.event_id}\ncorrelation ${r.correlation_id}\ncausation ${r.causation_id}\nsubject ${r.subject}`
              : '',
        },
        h('span', { class: 'time mono muted' }, clock(r.at)),
        showActor
          ? h(
              'button',
              { class: 'link actor mono', type: 'button', onclick: () => opts.onActor(r.actor.type, r.actor.id) },
              `${r.actor.type} ${r.actor.type === 'system' ? r.actor.id : short(r.actor.id)}`,
            )
          : null,
        h('span', { class: 'icon', 'aria-hidden': 'true' }, d.icon),
        h('span', { class: 'text' }, d.text),
        corr
          ? h(
              'button',
              { class: 'chip mono', type: 'button', title: `show correlation ${corr}`, onclick: () => opts.onCorrelation(corr) },
              short(corr),
            )
          : h('span'),
      ),
    );
  }
  return list;
}

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
  const laneLabel = new Map<string, string>([['client', 'client (NATS)']]);
  const lane = (r: InspectRecord): string => {
    const key = keyOf(r.actor.type, r.actor.id);
    if (!lanes.includes(key)) {
      lanes.push(key);
      laneLabel.set(key, `${r.actor.type} ${short(r.actor.id)}`);
    }
    return key;
  };
  for (const r of mine) lane(r);
  const hasEffects = mine.some((r) => r.k === 'event' && r.origin === 'outcome');
  const hasStore = mine.some((r) => r.k === 'stored');
  if (hasEffects) {
    lanes.push('effects');
    laneLabel.set('effects', 'Nix effects');
  }
  if (hasStore) {
    lanes.push('store');
    laneLabel.set('store', 'event store');
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
  const laneW = lanes.length > 5 ? 150 : 170;
  const rowH = 30;
  const top = 44;
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
    const g = s('g', { class: 'lane' });
    g.append(s('rect', { x: cx - laneW / 2 + 10, y: 6, width: laneW - 20, height: 26, rx: 6 }));
    g.append(s('text', { x: cx, y: 23, 'text-anchor': 'middle' }, laneLabel.get(l) ?? l));
    g.append(s('line', { x1: cx, y1: 32, x2: cx, y2: height - 6, class: 'lifeline' }));
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
        return h(
          'button',
          { class: 'chip', type: 'button', onclick: () => opts.onActor(type!, rest.join(':')) },
          `${type} ${short(rest.join(':'))}`,
        );
      }),
    ),
    h('div', { class: 'scroll-x' }, svg),
  );
}
