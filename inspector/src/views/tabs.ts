/**
 * The views under the chart: timeline, sequence, history and context, as tabs (arrow keys
 * switch them), with the timeline's options and the correlation filter beside them.
 */
import type { Inspector } from '../state/inspector.js';
import { splitKey } from '../state/inspector.js';
import { TABS } from '../state/ui.js';
import { h, replace, short } from './dom.js';
import { historyPanel } from './history.js';
import { sequenceView } from './sequence.js';
import { timelineView, visible, TIMELINE_ROWS, type TimelineOptions } from './timeline.js';

export class Tabs {
  /** The panel keeps its element across redraws (focus and scroll stay). */
  readonly panel = h('div', { class: 'tab-panel', role: 'tabpanel', id: 'tab-panel', tabindex: 0 });
  private readonly links: TimelineOptions;

  constructor(private readonly inspector: Inspector) {
    this.links = {
      onCorrelation: (c) => inspector.showCorrelation(c),
      onActor: (type, id) => inspector.select(`${type}:${id}`),
      nameOf: (type, id) => inspector.nameOf(type, id),
    };
  }

  /** The tab row, its tools and the panel. */
  block(): HTMLElement {
    const { ui } = this.inspector;
    const { tab, details, allActors, selected, correlation } = ui.state;
    const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'views' });
    TABS.forEach((t, i) => {
      const b = h(
        'button',
        {
          type: 'button',
          role: 'tab',
          id: `tab-${t.id}`,
          'aria-selected': String(tab === t.id),
          'aria-controls': 'tab-panel',
          tabindex: tab === t.id ? 0 : -1,
          class: tab === t.id ? 'on' : '',
        },
        t.label,
      );
      b.addEventListener('click', () => this.inspector.setTab(t.id));
      b.addEventListener('keydown', (ev) => {
        if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
        ev.preventDefault();
        const next = TABS[(i + (ev.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length]!;
        this.inspector.setTab(next.id);
        document.getElementById(`tab-${next.id}`)?.focus();
      });
      tabs.append(b);
    });
    const tools = h('div', { class: 'tab-tools' });
    if (tab === 'timeline') {
      const detailsBox = h('input', { type: 'checkbox', id: 'details', ...(details ? { checked: true } : {}) });
      detailsBox.addEventListener('change', () => this.inspector.setDetails(detailsBox.checked));
      const all = h('input', {
        type: 'checkbox',
        id: 'all-actors',
        ...(allActors || !selected ? { checked: true } : {}),
        ...(!selected ? { disabled: true } : {}),
      });
      all.addEventListener('change', () => this.inspector.setAllActors(all.checked));
      tools.append(h('label', undefined, all, ' all actors'), h('label', undefined, detailsBox, ' actions executed'));
    }
    if (correlation && (tab === 'timeline' || tab === 'sequence')) {
      tools.append(
        h(
          'span',
          { class: 'chip on mono' },
          `corr ${short(correlation)}`,
          h(
            'button',
            { type: 'button', class: 'x', 'aria-label': 'clear correlation filter', onclick: () => this.inspector.clearCorrelation() },
            '×',
          ),
        ),
      );
    }
    this.renderPanel();
    return h('section', { class: 'tabs-block' }, h('div', { class: 'tabs-row' }, tabs, tools), this.panel);
  }

  /** The open tab's content. */
  renderPanel(): void {
    const { ui, store } = this.inspector;
    const { tab, selected, allActors, correlation, details } = ui.state;
    const panel = this.panel;
    switch (tab) {
      case 'timeline': {
        const filter = { actor: selected && !allActors ? selected : undefined, correlation, details };
        const records = store.records();
        const out = [];
        for (let i = records.length - 1; i >= 0 && out.length < TIMELINE_ROWS; i--) {
          const r = records[i]!;
          if (visible(r, filter)) out.push(r);
        }
        replace(panel, timelineView(out, this.links, !filter.actor, details));
        return;
      }
      case 'sequence': {
        const row = selected ? store.actors.get(selected) : undefined;
        const corr = correlation ?? row?.correlation_id;
        replace(
          panel,
          corr
            ? sequenceView(corr, store.records(), this.links)
            : h('p', { class: 'empty-note' }, 'Pick a correlation ID (the chips in the timeline) or an actor that has handled a command.'),
        );
        return;
      }
      case 'history': {
        const hst = ui.state.history;
        if (!selected) return replace(panel, h('p', { class: 'empty-note' }, 'Select an aggregate to see its history.'));
        if (splitKey(selected).type === 'system')
          return replace(
            panel,
            h('p', { class: 'empty-note' }, 'System actors have no stored history; their transitions are in the timeline.'),
          );
        if (!hst || hst.data === 'loading')
          return replace(panel, h('p', { class: 'empty-note' }, 'Loading the history from the event store…'));
        if (hst.data.status === 'error') return replace(panel, h('p', { class: 'empty-note error' }, hst.data.message));
        replace(
          panel,
          historyPanel(hst.data, hst.position, {
            onCorrelation: (c) => this.inspector.showCorrelation(c),
            onPosition: (p) => {
              this.inspector.setHistoryPosition(p);
              document.getElementById('history-slider')?.focus();
            },
          }),
        );
        return;
      }
      case 'context': {
        const c = ui.state.context;
        if (!selected) return replace(panel, h('p', { class: 'empty-note' }, 'Select an actor to see its context.'));
        if (!c || c.loading) return replace(panel, h('p', { class: 'empty-note' }, 'Loading…'));
        replace(
          panel,
          c.value === undefined
            ? h('p', { class: 'empty-note' }, 'Not resident now (passivated or unknown): see its History.')
            : h('pre', { class: 'json', id: 'context-json' }, JSON.stringify(c.value, null, 2)),
        );
        return;
      }
    }
  }
}
