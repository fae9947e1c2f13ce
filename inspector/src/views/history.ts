/**
 * The history panel: an aggregate's stored events (from the event store, so passivated
 * aggregates too), replayed by the service into the pure machine, with a slider to step
 * through the state after each event.
 */
import type { HistoryStep } from '../../../src/inspection/wire.js';
import type { LoadedHistory } from '../state/ui.js';
import { h, short } from './dom.js';

export interface HistoryPanelOptions {
  onCorrelation(correlation: string): void;
}

/** Position p (0 = before the first returned step) → the step shown. */
function stepAt(history: LoadedHistory, p: number): HistoryStep | undefined {
  return p === 0 ? undefined : history.steps[p - 1];
}

export function historyPanel(
  history: LoadedHistory,
  position: number,
  opts: HistoryPanelOptions & { onPosition(p: number): void },
): HTMLElement {
  const n = history.steps.length;
  if (n === 0) {
    return h(
      'p',
      { class: 'empty-note', id: 'history-state', 'data-state': history.initial_state },
      `No events stored for ${history.type} ${history.name ?? history.id}: it is still in its initial state, ${history.initial_state}.`,
    );
  }
  const p = Math.max(0, Math.min(n, position));
  const step = stepAt(history, p);
  const state = step ? step.state : history.initial_state;
  const older = history.total - n;
  const slider = h('input', {
    type: 'range',
    id: 'history-slider',
    min: 0,
    max: n,
    step: 1,
    value: p,
    'aria-label': 'state after event',
    'aria-valuetext': step
      ? `after event ${step.sequence} ${step.event_type}: ${step.state}`
      : `before the first event: ${history.initial_state}`,
  });
  slider.addEventListener('input', () => opts.onPosition(Number(slider.value)));
  const ticks = h(
    'div',
    { class: 'ticks', 'aria-hidden': 'true' },
    ...history.steps.map((st, i) => h('span', { class: i + 1 === p ? 'on' : '', title: `#${st.sequence} ${st.event_type}` })),
  );
  return h(
    'div',
    { class: 'history' },
    h(
      'div',
      { class: 'history-bar' },
      h(
        'button',
        { type: 'button', class: 'btn', 'aria-label': 'previous event', disabled: p === 0, onclick: () => opts.onPosition(p - 1) },
        '◀',
      ),
      h('div', { class: 'slider-wrap' }, slider, ticks),
      h(
        'button',
        { type: 'button', class: 'btn', 'aria-label': 'next event', disabled: p === n, onclick: () => opts.onPosition(p + 1) },
        '▶',
      ),
      h('span', { class: 'muted' }, `${p} / ${n}${older > 0 ? ` (latest ${n} of ${history.total})` : ''}`),
    ),
    h(
      'p',
      { class: 'history-state', id: 'history-state', 'data-state': state, 'aria-live': 'polite' },
      step
        ? h('span', undefined, 'After ', h('b', undefined, `#${step.sequence} ${step.event_type}`), ' the state was ')
        : h('span', undefined, older > 0 ? 'Before the events shown the state was ' : 'Before any event the state was '),
      h('span', { class: 'pill big' }, state),
      step ? h('span', { class: 'muted' }, ` · ${new Date(step.occurred_at).toLocaleString()}`) : null,
    ),
    step
      ? h(
          'p',
          { class: 'ids mono muted' },
          `event ${short(step.event_id)} · caused by ${short(step.causation_id)} · correlation `,
          h(
            'button',
            { class: 'chip mono', type: 'button', onclick: () => opts.onCorrelation(step.correlation_id) },
            short(step.correlation_id),
          ),
        )
      : null,
    h(
      'div',
      { class: 'history-body' },
      step?.payload !== undefined
        ? h('section', undefined, h('h4', undefined, 'Event payload'), h('pre', { class: 'json' }, JSON.stringify(step.payload, null, 2)))
        : null,
      step?.context !== undefined
        ? h(
            'section',
            undefined,
            h('h4', undefined, 'Context after it'),
            h('pre', { class: 'json' }, JSON.stringify(step.context, null, 2)),
          )
        : null,
    ),
  );
}
