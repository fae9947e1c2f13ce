/**
 * The timeline: commands, outcomes, transitions, stored events and replies, newest first.
 * Every row has the same columns (time, actor when all actors are shown, icon, text,
 * correlation), each with its own width, so rows line up and no cell collapses.
 */
import type { InspectRecord } from '../../../src/inspection/wire.js';
import { correlationOf, keyOf } from '../state/store.js';
import { clock, h, short } from './dom.js';

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
  /** How an actor is named: its natural key when known, else the start of its ID. */
  nameOf(type: string, id: string): string;
}

/** The timeline rows for `records` (already filtered, newest first). */
export function timelineView(records: readonly InspectRecord[], opts: TimelineOptions, showActor: boolean, details = false): HTMLElement {
  if (records.length === 0) return h('p', { class: 'empty-note' }, 'Nothing yet: records appear here as commands arrive.');
  const list = h('ol', { class: `timeline ${showActor ? 'with-actor' : 'one-actor'}`, 'aria-label': 'timeline, newest first' });
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
              {
                class: 'link actor',
                type: 'button',
                title: `${r.actor.type} ${opts.nameOf(r.actor.type, r.actor.id)}\n${r.actor.id}`,
                onclick: () => opts.onActor(r.actor.type, r.actor.id),
              },
              h('span', { class: 'type' }, r.actor.type),
              ` ${opts.nameOf(r.actor.type, r.actor.id)}`,
            )
          : null,
        h('span', { class: 'icon', 'aria-hidden': 'true' }, d.icon),
        h('span', { class: 'text', title: d.text }, d.text),
        corr
          ? h(
              'button',
              { class: 'chip mono', type: 'button', title: `show correlation ${corr}`, onclick: () => opts.onCorrelation(corr) },
              short(corr),
            )
          : h('span', { class: 'no-chip' }),
      ),
    );
  }
  return list;
}
