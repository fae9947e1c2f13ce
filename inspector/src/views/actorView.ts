/**
 * The selected actor: its head (kind, name, ID, state, version, last event, correlation,
 * and the instance that reported it when that is not the one the page is connected to) and
 * its statechart with the commands the current state accepts.
 */
import type { Inspector } from '../state/inspector.js';
import { splitKey } from '../state/inspector.js';
import type { ActorRow } from '../state/store.js';
import type { LoadedHistory } from '../state/ui.js';
import { replayShortcuts } from './chartLayout.js';
import { h, short } from './dom.js';
import { commandsPanel, type ChartDrawer } from './statechart.js';

/** The state after the event the history slider is on (undefined at the latest). */
export function pastState(history: LoadedHistory, position: number): string | undefined {
  if (history.steps.length === 0) return undefined;
  if (position >= history.steps.length) return undefined;
  return position === 0 ? history.initial_state : history.steps[position - 1]?.state;
}

/** The history state the chart outlines, when the history tab is open on the selected actor. */
export function pastOf(inspector: Inspector, key: string): string | undefined {
  const { tab, history } = inspector.ui.state;
  return tab === 'history' && history?.key === key && typeof history.data === 'object' && history.data.status === 'ok'
    ? pastState(history.data, history.position)
    : undefined;
}

export function actorHead(inspector: Inspector, key: string, row: ActorRow | undefined): HTMLElement {
  const { type, id } = splitKey(key);
  const history = inspector.ui.state.history;
  const name =
    row?.name ?? (history?.key === key && typeof history.data === 'object' && history.data.status === 'ok' ? history.data.name : undefined);
  const owner = row?.instance !== undefined && row.instance !== inspector.config.instance ? row.instance : undefined;
  return h(
    'div',
    { class: 'actor-head' },
    h(
      'h2',
      undefined,
      h('span', { class: 'type' }, type),
      ' ',
      type === 'system'
        ? h('span', { class: 'mono', id: 'actor-name' }, id)
        : h(
            'span',
            { class: `name${name === undefined ? ' unnamed' : ''}`, id: 'actor-name', title: name ?? 'name not known yet' },
            name ?? 'unnamed',
          ),
    ),
    type === 'system' ? null : h('span', { class: 'mono muted actor-id', id: 'actor-id', title: id }, id),
    h('span', { class: 'pill big', id: 'current-state', 'data-state': row?.state ?? '' }, row?.state ?? 'not resident'),
    row
      ? h('span', { class: `badge ${row.status === 'live' ? 'ok' : 'warn'}` }, row.status)
      : h('span', { class: 'badge warn' }, 'history only'),
    row?.version !== undefined ? h('span', { class: 'muted' }, `version ${row.version}`) : null,
    row?.last_event ? h('span', { class: 'muted' }, `last ${row.last_event}`) : null,
    owner
      ? h('span', { class: 'chip mono', id: 'actor-instance', title: `reported by service instance ${owner}` }, `on ${short(owner)}`)
      : null,
    row?.correlation_id
      ? h(
          'button',
          {
            type: 'button',
            class: 'chip mono',
            title: `correlation ${row.correlation_id}`,
            onclick: () => inspector.showCorrelation(row.correlation_id!),
          },
          `corr ${short(row.correlation_id)}`,
        )
      : null,
  );
}

/** The chart, what the state accepts, the legend; the chart fits `fit` (px). */
export function chartBox(
  inspector: Inspector,
  key: string,
  row: ActorRow | undefined,
  drawer: ChartDrawer,
  fit: { width: number; height: number },
): HTMLElement {
  const { type, id } = splitKey(key);
  const chart = inspector.chartFor(type, id);
  const box = h('div', { class: 'chart-box' });
  if (!chart) {
    box.append(h('p', { class: 'muted' }, `No machine definition for ${type}.`));
    return box;
  }
  const { showReplay } = inspector.ui.state;
  const past = pastOf(inspector, key);
  box.append(
    h(
      'div',
      { class: 'chart-scroll', id: 'statechart', 'data-machine': chart.id },
      drawer.draw(chart, { current: row?.state, past, dim: row ? row.status !== 'live' : true, showReplay }, fit),
    ),
    commandsPanel(chart, past ?? row?.state, past !== undefined),
  );
  const legend = h(
    'p',
    { class: 'legend' },
    h('span', { class: 'key command' }, 'command'),
    h('span', { class: 'key fact' }, 'fact'),
    h('span', { class: 'key outcome' }, 'effect outcome'),
    h('span', { class: 'muted' }, '? guarded'),
  );
  if (past)
    legend.append(
      h('span', undefined, h('span', { class: 'swatch past' }), ` state after the selected event (${past})`),
      h('span', undefined, h('span', { class: 'swatch current' }), ' now'),
    );
  const shortcuts = replayShortcuts(chart).size;
  if (shortcuts > 0) {
    const check = h('input', { type: 'checkbox', id: 'show-replay', ...(showReplay ? { checked: true } : {}) });
    check.addEventListener('change', () => inspector.setShowReplay(check.checked));
    legend.append(
      h(
        'label',
        { title: 'fact transitions that only a replay of stored events takes (live, a command goes through a waiting state)' },
        check,
        ` replay-only paths (${shortcuts})`,
      ),
    );
  }
  box.append(legend);
  return box;
}
