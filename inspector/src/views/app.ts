/**
 * The page's layout and what redraws when: the header, the side (search, type filter, actor
 * list) and the main area (the selected actor and the tabs). Listens to the stores; every
 * action goes through the {@link Inspector}.
 */
import { AGGREGATE_KINDS, SYSTEM_ACTORS, type ActorType } from '../../../src/inspection/wire.js';
import type { Inspector } from '../state/inspector.js';
import { keyOf } from '../state/store.js';
import { ActorList } from './actorList.js';
import { actorHead, chartBox } from './actorView.js';
import { clusterView } from './cluster.js';
import { h, perFrame, replace } from './dom.js';
import { emptyState, pickOne } from './emptyState.js';
import { Header } from './header.js';
import { canvasMeasure, ChartDrawer } from './statechart.js';
import { Tabs } from './tabs.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The timeline and the sequence view redraw at most this often while records stream in. */
const TIMELINE_REDRAW_MS = 250;

export class App {
  readonly header: Header;
  readonly list: ActorList;
  readonly main = h('main', { class: 'main', id: 'main', tabindex: -1 });
  private readonly tabs: Tabs;
  private readonly search = h('input', {
    type: 'search',
    id: 'search',
    placeholder: 'Search name, ID or correlation ID   ( / )',
    'aria-label': 'search actors by name, ID or correlation ID',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  private readonly openById = h('div', { class: 'open-by-id' });
  private readonly shownTypes = new Set<ActorType>(AGGREGATE_KINDS);
  private readonly charts: ChartDrawer;
  private lastTimelineRender = 0;
  private timelineTimer: number | undefined;

  constructor(
    private readonly inspector: Inspector,
    root: HTMLElement,
  ) {
    this.header = new Header(inspector);
    this.tabs = new Tabs(inspector);
    this.charts = new ChartDrawer(canvasMeasure());
    this.list = new ActorList({
      store: inspector.store,
      selected: () => inspector.ui.state.selected,
      onSelect: (row) => inspector.select(row.key),
    });
    root.append(
      this.header.element,
      h('aside', { class: 'side' }, this.search, this.typeFilter(), this.openById, this.list.element),
      this.main,
    );
    this.wireSearch();
    const { ui, store } = inspector;
    ui.on('header', () => this.header.render());
    ui.on('main', () => {
      this.renderMain();
      this.list.refresh();
    });
    ui.on('tab', () => this.tabs.renderPanel());
    const redraw = perFrame(() => this.onData());
    store.on('actors', redraw);
    store.on('timeline', redraw);
    // The chart is laid out for the window's size.
    const resized = perFrame(() => {
      if (ui.state.selected) this.renderMain();
    });
    window.addEventListener('resize', resized);
  }

  /** The room for the chart: the main area's width, and the part of the window's height its box may take. */
  private chartRoom(): { width: number; height: number } {
    const width = Math.max(320, this.main.clientWidth - 20);
    // .chart-box may take 52vh; the commands and the legend under the chart take about 84 px of it.
    const height = Math.max(160, Math.floor(window.innerHeight * 0.52) - 84);
    return { width, height };
  }

  private typeFilter(): HTMLElement {
    const filter = h('div', { class: 'type-filter', role: 'group', 'aria-label': 'aggregate types shown' });
    for (const t of AGGREGATE_KINDS) {
      const b = h('button', { type: 'button', class: 'toggle on', 'aria-pressed': 'true', 'data-type': t }, t);
      b.addEventListener('click', () => {
        if (this.shownTypes.has(t)) this.shownTypes.delete(t);
        else this.shownTypes.add(t);
        b.classList.toggle('on', this.shownTypes.has(t));
        b.setAttribute('aria-pressed', String(this.shownTypes.has(t)));
        this.list.setTypes(new Set(this.shownTypes));
      });
      filter.append(b);
    }
    return filter;
  }

  private wireSearch(): void {
    const { search, inspector } = this;
    search.addEventListener('input', () => {
      this.list.setQuery(search.value);
      this.renderOpenById();
      const q = search.value.trim();
      if (UUID.test(q) && inspector.store.records().some((r) => r.k === 'stored' && r.correlation_id === q)) inspector.showCorrelation(q);
    });
    search.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        search.value = '';
        this.list.setQuery('');
        this.renderOpenById();
      } else if (ev.key === 'ArrowDown' || ev.key === 'Enter') {
        ev.preventDefault();
        this.list.focus();
      }
    });
    document.addEventListener('keydown', (ev) => {
      const target = ev.target as HTMLElement | null;
      const typing = target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA');
      if (ev.key === '/' && !typing) {
        ev.preventDefault();
        search.focus();
        search.select();
      }
    });
  }

  /** A full UUID that is not in the list: offer its history from the event store. */
  private renderOpenById(): void {
    const q = this.search.value.trim();
    if (!UUID.test(q) || [...this.inspector.store.actors.values()].some((r) => r.id === q)) {
      replace(this.openById);
      return;
    }
    replace(
      this.openById,
      h('p', { class: 'muted' }, 'Not in the live list. Open its history from the event store as:'),
      h(
        'div',
        { class: 'type-filter' },
        ...AGGREGATE_KINDS.map((t) =>
          h('button', { type: 'button', class: 'toggle', onclick: () => this.inspector.select(keyOf(t, q), 'history') }, t),
        ),
      ),
    );
  }

  /** The whole main area: the selected actor (or an empty state) and the tabs. */
  renderMain(): void {
    const { store, ui, config } = this.inspector;
    if (ui.state.clusterOpen) {
      replace(this.main, clusterView(this.inspector));
      return;
    }
    const key = ui.state.selected;
    if (!key) {
      const aggregates = this.aggregateCount();
      replace(this.main, aggregates === 0 ? emptyState(config.prefix) : pickOne(aggregates), this.tabs.block());
      return;
    }
    const row = store.actors.get(key);
    const room = this.chartRoom();
    replace(this.main, actorHead(this.inspector, key, row), chartBox(this.inspector, key, row, this.charts, room), this.tabs.block());
  }

  /** Replace the main area with a message (link failures, the token prompt). */
  showMessage(el: HTMLElement): void {
    replace(this.main, el);
  }

  private aggregateCount(): number {
    return this.inspector.store.actors.size - SYSTEM_ACTORS.filter((n) => this.inspector.store.actors.has(keyOf('system', n))).length;
  }

  /** New records or actors: the header always; the actor's head and chart when its state moved; the timeline at most every 250 ms. */
  private onData(): void {
    this.header.render();
    const { ui, store } = this.inspector;
    if (ui.state.clusterOpen) return;
    const key = ui.state.selected;
    const row = key ? store.actors.get(key) : undefined;
    const shownState = document.getElementById('current-state')?.getAttribute('data-state');
    const shownName = document.getElementById('actor-name');
    const empty = document.getElementById('empty-state');
    const aggregates = this.aggregateCount();
    const nameLearned = key && row?.name !== undefined && shownName?.classList.contains('unnamed');
    if (
      (key && row && row.state !== shownState) ||
      (key && !row && shownState) ||
      nameLearned ||
      (!key && (empty ? aggregates > 0 : aggregates === 0))
    ) {
      this.renderMain();
      if (ui.state.tab === 'context') void this.inspector.loadContext();
      return;
    }
    const tab = ui.state.tab;
    if (tab !== 'timeline' && tab !== 'sequence') return;
    const now = performance.now();
    if (now - this.lastTimelineRender > TIMELINE_REDRAW_MS) {
      this.lastTimelineRender = now;
      this.tabs.renderPanel();
    } else {
      this.timelineTimer ??= window.setTimeout(() => {
        this.timelineTimer = undefined;
        this.lastTimelineRender = performance.now();
        this.tabs.renderPanel();
      }, TIMELINE_REDRAW_MS);
    }
  }
}
