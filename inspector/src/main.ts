/**
 * The cim-domain-nix inspector page: connects to NATS over websocket, listens to
 * `P.inspect.events`, asks the service for the actor list, histories and contexts, and
 * draws the selected actor's statechart from the machine definitions the service serves.
 * Everything comes from the page's own origin and the NATS websocket: nothing from outside.
 */
import { wsconnect, type NatsConnection } from '@nats-io/nats-core';
import {
  ActorReply,
  ActorsReply,
  HistoryReply,
  InspectBatch,
  InspectRecord,
  MachinesDocument,
  PageConfig,
  SYSTEM_ACTORS,
  type ActorType,
  type Statechart,
} from '../../src/inspection/wire.js';
import { ActorList } from './actorList.js';
import { h, perFrame, replace, short } from './dom.js';
import { historyPanel, type LoadedHistory } from './history.js';
import { commandsPanel, drawStatechart, replayShortcuts } from './statechart.js';
import { keyOf, Store } from './store.js';
import { sequenceView, timelineView, TIMELINE_ROWS, visible } from './timeline.js';

const AGGREGATES = ['flake', 'package', 'module', 'overlay', 'config'] as const;
type Tab = 'timeline' | 'sequence' | 'history' | 'context';
const TABS: { id: Tab; label: string }[] = [
  { id: 'timeline', label: 'Timeline' },
  { id: 'sequence', label: 'Sequence' },
  { id: 'history', label: 'History' },
  { id: 'context', label: 'Context' },
];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const enc = new TextEncoder();
const dec = new TextDecoder();

interface UiState {
  selected: string | undefined;
  tab: Tab;
  correlation: string | undefined;
  details: boolean;
  allActors: boolean;
  showReplay: boolean;
  history:
    { key: string; data: LoadedHistory | { status: 'error'; message: string } | 'loading'; position: number; loadedAt: number } | undefined;
  context: { key: string; value: unknown; loading: boolean } | undefined;
  ws: 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'no websocket URL' | 'failed';
  wsError: string | undefined;
}

const ui: UiState = {
  selected: undefined,
  tab: 'timeline',
  correlation: undefined,
  details: false,
  allActors: false,
  showReplay: false,
  history: undefined,
  context: undefined,
  ws: 'connecting',
  wsError: undefined,
};

const store = new Store();
let config: PageConfig;
let machines: MachinesDocument;
let nc: NatsConnection | undefined;

async function getJson(path: string): Promise<unknown> {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

async function request(subject: string, body: unknown, timeout = 5_000): Promise<unknown> {
  if (!nc) throw new Error('not connected to NATS');
  const msg = await nc.request(subject, enc.encode(JSON.stringify(body)), { timeout });
  return JSON.parse(dec.decode(msg.data)) as unknown;
}

function chartFor(type: string, id: string): Statechart | undefined {
  return type === 'system' ? machines.system.find((m) => m.id === id) : machines.aggregates.find((m) => m.type === type);
}

function splitKey(key: string): { type: string; id: string } {
  const i = key.indexOf(':');
  return { type: key.slice(0, i), id: key.slice(i + 1) };
}

// ---- layout -------------------------------------------------------------------------------

const wsBadge = h('span', { class: 'badge', id: 'ws-status', role: 'status' });
const systemBar = h('div', { class: 'system-bar', 'aria-label': 'system actors' });
const statsEl = h('span', { class: 'stats muted', id: 'stream-stats' });
const search = h('input', {
  type: 'search',
  id: 'search',
  placeholder: 'Search ID or correlation ID   ( / )',
  'aria-label': 'search actors by ID or correlation ID',
  autocomplete: 'off',
  spellcheck: 'false',
});
const typeFilter = h('div', { class: 'type-filter', role: 'group', 'aria-label': 'aggregate types shown' });
const openById = h('div', { class: 'open-by-id' });
const list = new ActorList({ store, selected: () => ui.selected, onSelect: (row) => select(row.key) });
const main = h('main', { class: 'main', id: 'main', tabindex: -1 });

document.body.append(
  h(
    'header',
    { class: 'top' },
    h(
      'h1',
      undefined,
      h('span', { class: 'logo', 'aria-hidden': 'true' }, '❄'),
      ' cim-domain-nix ',
      h('span', { class: 'muted' }, 'inspector'),
    ),
    h('span', { class: 'muted', id: 'prefix' }),
    wsBadge,
    systemBar,
    statsEl,
  ),
  h('aside', { class: 'side' }, search, typeFilter, openById, list.element),
  main,
);

const shownTypes = new Set<ActorType>(AGGREGATES);
for (const t of AGGREGATES) {
  const b = h('button', { type: 'button', class: 'toggle on', 'aria-pressed': 'true', 'data-type': t }, t);
  b.addEventListener('click', () => {
    if (shownTypes.has(t)) shownTypes.delete(t);
    else shownTypes.add(t);
    b.classList.toggle('on', shownTypes.has(t));
    b.setAttribute('aria-pressed', String(shownTypes.has(t)));
    list.setTypes(new Set(shownTypes));
  });
  typeFilter.append(b);
}

search.addEventListener('input', () => {
  list.setQuery(search.value);
  renderOpenById();
  const q = search.value.trim();
  if (UUID.test(q) && [...store.records()].some((r) => r.k === 'stored' && r.correlation_id === q)) {
    ui.correlation = q;
    ui.tab = 'sequence';
    renderMain();
  }
});
search.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape') {
    search.value = '';
    list.setQuery('');
    renderOpenById();
  } else if (ev.key === 'ArrowDown' || ev.key === 'Enter') {
    ev.preventDefault();
    list.focus();
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

function renderOpenById(): void {
  const q = search.value.trim();
  if (!UUID.test(q) || [...store.actors.values()].some((r) => r.id === q)) {
    replace(openById);
    return;
  }
  replace(
    openById,
    h('p', { class: 'muted' }, 'Not in the live list. Open its history from the event store as:'),
    h(
      'div',
      { class: 'type-filter' },
      ...AGGREGATES.map((t) => h('button', { type: 'button', class: 'toggle', onclick: () => select(keyOf(t, q), 'history') }, t)),
    ),
  );
}

// ---- header -------------------------------------------------------------------------------

function renderHeader(): void {
  const labels: Record<UiState['ws'], string> = {
    connecting: 'page ↔ NATS: connecting…',
    connected: 'page ↔ NATS: connected',
    reconnecting: 'page ↔ NATS: reconnecting…',
    disconnected: 'page ↔ NATS: disconnected',
    'no websocket URL': 'page ↔ NATS: no websocket URL',
    failed: 'page ↔ NATS: failed',
  };
  wsBadge.textContent = labels[ui.ws];
  wsBadge.className = `badge ${ui.ws === 'connected' ? 'ok' : ui.ws === 'connecting' || ui.ws === 'reconnecting' ? 'warn' : 'bad'}`;
  wsBadge.title = ui.wsError ?? (config?.ws_url ? `websocket ${config.ws_url}` : '');
  const chips = SYSTEM_ACTORS.map((name) => {
    const row = store.actors.get(keyOf('system', name));
    const state = row?.state ?? '?';
    const good = ['connected', 'ready', 'running'].includes(state);
    const label = name === 'reconnection' ? 'service ↔ NATS' : name;
    return h(
      'button',
      {
        type: 'button',
        class: `sys ${good ? 'ok' : row ? 'warn' : ''}${ui.selected === keyOf('system', name) ? ' selected' : ''}`,
        'data-system': name,
        'data-state': state,
        title: `${name === 'reconnection' ? 'reconnection supervisor' : name} actor: ${state}`,
        onclick: () => select(keyOf('system', name)),
      },
      h('span', { class: 'muted' }, `${label} `),
      h('b', undefined, state),
    );
  });
  replace(systemBar, ...chips);
}

let lastCount = 0;
let rate = 0;
setInterval(() => {
  rate = store.recordsSeen - lastCount;
  lastCount = store.recordsSeen;
  statsEl.textContent = `${rate} rec/s${store.dropped ? ` · ${store.dropped} dropped` : ''}`;
}, 1_000);

// ---- main area ----------------------------------------------------------------------------

function select(key: string, tab?: Tab): void {
  if (ui.selected !== key) {
    ui.selected = key;
    ui.history = undefined;
    ui.context = undefined;
  }
  if (tab) ui.tab = tab;
  store.emit('selection');
  renderHeader();
  renderMain();
  if (ui.tab === 'history') void loadHistory();
  if (ui.tab === 'context') void loadContext();
}

function emptyState(): HTMLElement {
  const p = config?.prefix ?? 'nix';
  const cmds = [
    `nats req ${p}.cmd.module.create '{"name":"web","module":{}}'`,
    `nats req ${p}.cmd.module.update '{"name":"web","module":{"config":{"services.nginx.enable":true}}}'`,
    `nats req ${p}.cmd.flake.create '{"path":"hello","description":"Hello","template":"minimal"}'`,
  ];
  return h(
    'section',
    { class: 'empty', id: 'empty-state' },
    h('h2', undefined, 'No aggregates yet'),
    h(
      'p',
      undefined,
      'Every aggregate appears here the moment its first command arrives. Send one with the ',
      h('code', undefined, 'nats'),
      ' CLI (or any NATS client) to ',
      h('code', undefined, `${p}.cmd.<aggregate>.<action>`),
      ':',
    ),
    h('pre', { class: 'cmd', tabindex: 0 }, cmds.join('\n')),
    h(
      'p',
      { class: 'muted' },
      'Then watch it move through its statechart, follow the command and its events in the timeline, and step through its history with the slider.',
    ),
    h(
      'p',
      { class: 'muted' },
      'Keys: ',
      h('kbd', undefined, '/'),
      ' search · ',
      h('kbd', undefined, '↑'),
      h('kbd', undefined, '↓'),
      ' move in the list · ',
      h('kbd', undefined, 'Tab'),
      ' to the panels · ',
      h('kbd', undefined, '←'),
      h('kbd', undefined, '→'),
      ' switch tabs',
    ),
  );
}

function renderMain(): void {
  const key = ui.selected;
  const aggregates = [...store.actors.values()].filter((r) => r.type !== 'system').length;
  if (!key) {
    replace(
      main,
      aggregates === 0
        ? emptyState()
        : h(
            'section',
            { class: 'empty' },
            h('h2', undefined, `${aggregates} actors`),
            h('p', undefined, 'Select an actor in the list (↑ ↓) or search by ID or correlation ID.'),
          ),
      tabsBlock(),
    );
    return;
  }
  const { type, id } = splitKey(key);
  const row = store.actors.get(key);
  const chart = chartFor(type, id);
  const past =
    ui.tab === 'history' && ui.history?.key === key && typeof ui.history.data === 'object' && ui.history.data.status === 'ok'
      ? pastState(ui.history.data, ui.history.position)
      : undefined;
  const head = h(
    'div',
    { class: 'actor-head' },
    h('h2', undefined, h('span', { class: 'type' }, type), ' ', h('span', { class: 'mono', title: id }, type === 'system' ? id : id)),
    h('span', { class: 'pill big', id: 'current-state', 'data-state': row?.state ?? '' }, row?.state ?? 'not resident'),
    row
      ? h('span', { class: `badge ${row.status === 'live' ? 'ok' : 'warn'}` }, row.status)
      : h('span', { class: 'badge warn' }, 'history only'),
    row?.version !== undefined ? h('span', { class: 'muted' }, `version ${row.version}`) : null,
    row?.last_event ? h('span', { class: 'muted' }, `last ${row.last_event}`) : null,
    row?.correlation_id
      ? h(
          'button',
          {
            type: 'button',
            class: 'chip mono',
            title: `correlation ${row.correlation_id}`,
            onclick: () => showCorrelation(row.correlation_id!),
          },
          `corr ${short(row.correlation_id)}`,
        )
      : null,
  );
  const chartBox = h('div', { class: 'chart-box' });
  if (chart) {
    chartBox.append(
      h(
        'div',
        { class: 'chart-scroll', id: 'statechart', 'data-machine': chart.id },
        drawStatechart(chart, { current: row?.state, past, dim: row ? row.status !== 'live' : true, showReplay: ui.showReplay }),
      ),
      commandsPanel(chart, past ?? row?.state, past !== undefined),
    );
    const shortcuts = replayShortcuts(chart).size;
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
    if (shortcuts > 0) {
      const box = h('input', { type: 'checkbox', id: 'show-replay', ...(ui.showReplay ? { checked: true } : {}) });
      box.addEventListener('change', () => {
        ui.showReplay = box.checked;
        renderMain();
      });
      legend.append(
        h(
          'label',
          { title: 'fact transitions that only a replay of stored events takes (live, a command goes through a waiting state)' },
          box,
          ` replay-only paths (${shortcuts})`,
        ),
      );
    }
    chartBox.append(legend);
  } else {
    chartBox.append(h('p', { class: 'muted' }, `No machine definition for ${type}.`));
  }
  replace(main, head, chartBox, tabsBlock());
}

function pastState(history: LoadedHistory, position: number): string | undefined {
  if (history.steps.length === 0) return undefined;
  if (position >= history.steps.length) return undefined;
  return position === 0 ? history.initial_state : history.steps[position - 1]?.state;
}

const tabPanel = h('div', { class: 'tab-panel', role: 'tabpanel', id: 'tab-panel', tabindex: 0 });

function tabsBlock(): HTMLElement {
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'views' });
  TABS.forEach((t, i) => {
    const b = h(
      'button',
      {
        type: 'button',
        role: 'tab',
        id: `tab-${t.id}`,
        'aria-selected': String(ui.tab === t.id),
        'aria-controls': 'tab-panel',
        tabindex: ui.tab === t.id ? 0 : -1,
        class: ui.tab === t.id ? 'on' : '',
      },
      t.label,
    );
    b.addEventListener('click', () => setTab(t.id));
    b.addEventListener('keydown', (ev) => {
      if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
      ev.preventDefault();
      const next = TABS[(i + (ev.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length]!;
      setTab(next.id);
      document.getElementById(`tab-${next.id}`)?.focus();
    });
    tabs.append(b);
  });
  const tools = h('div', { class: 'tab-tools' });
  if (ui.tab === 'timeline') {
    const details = h('input', { type: 'checkbox', id: 'details', ...(ui.details ? { checked: true } : {}) });
    details.addEventListener('change', () => {
      ui.details = details.checked;
      renderTab();
    });
    const all = h('input', {
      type: 'checkbox',
      id: 'all-actors',
      ...(ui.allActors || !ui.selected ? { checked: true } : {}),
      ...(!ui.selected ? { disabled: true } : {}),
    });
    all.addEventListener('change', () => {
      ui.allActors = all.checked;
      renderTab();
    });
    tools.append(h('label', undefined, all, ' all actors'), h('label', undefined, details, ' actions executed'));
  }
  if (ui.correlation && (ui.tab === 'timeline' || ui.tab === 'sequence')) {
    tools.append(
      h(
        'span',
        { class: 'chip on mono' },
        `corr ${short(ui.correlation)}`,
        h(
          'button',
          {
            type: 'button',
            class: 'x',
            'aria-label': 'clear correlation filter',
            onclick: () => {
              ui.correlation = undefined;
              renderMain();
            },
          },
          '×',
        ),
      ),
    );
  }
  renderTab();
  return h('section', { class: 'tabs-block' }, h('div', { class: 'tabs-row' }, tabs, tools), tabPanel);
}

function setTab(tab: Tab): void {
  ui.tab = tab;
  renderMain();
  if (tab === 'history') void loadHistory();
  if (tab === 'context') void loadContext();
}

function showCorrelation(correlation: string): void {
  ui.correlation = correlation;
  ui.tab = 'sequence';
  renderMain();
}

const timelineOpts = {
  onCorrelation: (c: string) => showCorrelation(c),
  onActor: (type: string, id: string) => select(keyOf(type, id)),
};

function renderTab(): void {
  switch (ui.tab) {
    case 'timeline': {
      const filter = { actor: ui.selected && !ui.allActors ? ui.selected : undefined, correlation: ui.correlation, details: ui.details };
      const records = store.records();
      const out = [];
      for (let i = records.length - 1; i >= 0 && out.length < TIMELINE_ROWS; i--) {
        const r = records[i]!;
        if (visible(r, filter)) out.push(r);
      }
      replace(tabPanel, timelineView(out, timelineOpts, !filter.actor, ui.details));
      return;
    }
    case 'sequence': {
      const row = ui.selected ? store.actors.get(ui.selected) : undefined;
      const corr = ui.correlation ?? row?.correlation_id;
      replace(
        tabPanel,
        corr
          ? sequenceView(corr, store.records(), timelineOpts)
          : h('p', { class: 'empty-note' }, 'Pick a correlation ID (the chips in the timeline) or an actor that has handled a command.'),
      );
      return;
    }
    case 'history': {
      const hst = ui.history;
      if (!ui.selected) return replace(tabPanel, h('p', { class: 'empty-note' }, 'Select an aggregate to see its history.'));
      if (splitKey(ui.selected).type === 'system')
        return replace(
          tabPanel,
          h('p', { class: 'empty-note' }, 'System actors have no stored history; their transitions are in the timeline.'),
        );
      if (!hst || hst.data === 'loading')
        return replace(tabPanel, h('p', { class: 'empty-note' }, 'Loading the history from the event store…'));
      if (hst.data.status === 'error') return replace(tabPanel, h('p', { class: 'empty-note error' }, hst.data.message));
      replace(
        tabPanel,
        historyPanel(hst.data, hst.position, {
          onStep: () => renderMain(),
          onCorrelation: (c) => showCorrelation(c),
          onPosition: (p) => {
            if (!ui.history || typeof ui.history.data !== 'object' || ui.history.data.status !== 'ok') return;
            ui.history.position = Math.max(0, Math.min(ui.history.data.steps.length, p));
            renderMain();
            document.getElementById('history-slider')?.focus();
          },
        }),
      );
      return;
    }
    case 'context': {
      const c = ui.context;
      if (!ui.selected) return replace(tabPanel, h('p', { class: 'empty-note' }, 'Select an actor to see its context.'));
      if (!c || c.loading) return replace(tabPanel, h('p', { class: 'empty-note' }, 'Loading…'));
      replace(
        tabPanel,
        c.value === undefined
          ? h('p', { class: 'empty-note' }, 'Not resident now (passivated or unknown): see its History.')
          : h('pre', { class: 'json', id: 'context-json' }, JSON.stringify(c.value, null, 2)),
      );
      return;
    }
  }
}

async function loadHistory(keepPosition = false): Promise<void> {
  const key = ui.selected;
  if (!key || !config) return;
  const { type, id } = splitKey(key);
  if (type === 'system') return;
  const previous = ui.history?.key === key ? ui.history : undefined;
  if (!previous) {
    ui.history = { key, data: 'loading', position: 0, loadedAt: Date.now() };
    renderTab();
  }
  try {
    const parsed = HistoryReply.safeParse(await request(config.subjects.history, { type, id }, 15_000));
    if (ui.selected !== key) return;
    const data: LoadedHistory | { status: 'error'; message: string } = parsed.success
      ? parsed.data
      : { status: 'error', message: 'the history reply is malformed' };
    let position = data.status === 'ok' ? data.steps.length : 0;
    if (
      keepPosition &&
      previous &&
      typeof previous.data === 'object' &&
      previous.data.status === 'ok' &&
      previous.position < previous.data.steps.length
    )
      position = previous.position;
    ui.history = { key, data, position, loadedAt: Date.now() };
  } catch (e) {
    if (ui.selected !== key) return;
    ui.history = {
      key,
      data: { status: 'error', message: `The history could not be loaded: ${(e as Error).message}` },
      position: 0,
      loadedAt: Date.now(),
    };
  }
  renderMain();
}

async function loadContext(): Promise<void> {
  const key = ui.selected;
  if (!key || !config) return;
  const { type, id } = splitKey(key);
  ui.context = { key, value: undefined, loading: ui.context?.key !== key };
  if (ui.context.loading) renderTab();
  try {
    const parsed = ActorReply.safeParse(await request(config.subjects.actor, { type, id }));
    if (ui.selected !== key) return;
    ui.context = { key, value: parsed.success ? parsed.data.context : undefined, loading: false };
  } catch {
    ui.context = { key, value: undefined, loading: false };
  }
  if (ui.tab === 'context') renderTab();
}

// ---- live updates -----------------------------------------------------------------------

let lastTimelineRender = 0;
let timelineTimer: number | undefined;
const rerender = perFrame(() => {
  renderHeader();
  // The selected actor's head and chart follow its state; the rest re-renders when needed.
  const key = ui.selected;
  const row = key ? store.actors.get(key) : undefined;
  const shown = document.getElementById('current-state')?.getAttribute('data-state');
  const empty = document.getElementById('empty-state');
  const aggregates = store.actors.size - SYSTEM_ACTORS.length;
  if ((key && row && row.state !== shown) || (key && !row && shown) || (!key && (empty ? aggregates > 0 : aggregates === 0))) {
    renderMain();
    if (ui.tab === 'context') void loadContext();
    return;
  }
  const now = performance.now();
  if (ui.tab === 'timeline' || ui.tab === 'sequence') {
    if (now - lastTimelineRender > 250) {
      lastTimelineRender = now;
      renderTab();
    } else {
      timelineTimer ??= window.setTimeout(() => {
        timelineTimer = undefined;
        lastTimelineRender = performance.now();
        renderTab();
      }, 250);
    }
  }
});
store.on('actors', rerender);
store.on('timeline', rerender);

/** New stored events of the aggregate whose history is open: reload it (at most once a second). */
let historyReload: number | undefined;
store.on('timeline', () => {
  const hst = ui.history;
  if (ui.tab !== 'history' || !hst || hst.key !== ui.selected || historyReload !== undefined) return;
  const { type, id } = splitKey(hst.key);
  const fresh = store.records().some((r) => r.k === 'stored' && r.actor.type === type && r.actor.id === id && r.at > hst.loadedAt);
  if (!fresh) return;
  historyReload = window.setTimeout(() => {
    historyReload = undefined;
    void loadHistory(true);
  }, 300);
});

let reloading: Promise<void> | undefined;
let reloadAgain = false;
/** Load the service's actor list (all pages). */
function reloadActors(): Promise<void> {
  if (reloading) {
    reloadAgain = true;
    return reloading;
  }
  reloading = (async () => {
    try {
      let offset = 0;
      for (;;) {
        const parsed = ActorsReply.safeParse(await request(config.subjects.actors, { offset, limit: 5_000 }, 10_000));
        if (!parsed.success) break;
        store.mergeActors(parsed.data.actors);
        offset += parsed.data.actors.length;
        if (parsed.data.actors.length === 0 || offset >= parsed.data.total) break;
      }
    } catch (e) {
      console.warn('actor list not loaded', e);
    } finally {
      reloading = undefined;
      if (reloadAgain) {
        reloadAgain = false;
        void reloadActors();
      }
    }
  })();
  return reloading;
}

let resyncTimer: number | undefined;
function resyncSoon(): void {
  resyncTimer ??= window.setTimeout(() => {
    resyncTimer = undefined;
    void reloadActors();
  }, 1_000);
}

function onBatch(data: Uint8Array): void {
  let raw: unknown;
  try {
    raw = JSON.parse(dec.decode(data));
  } catch {
    return;
  }
  const batch = InspectBatch.safeParse(raw);
  if (!batch.success) return;
  const b = batch.data;
  store.batches++;
  const last = store.lastSeq.get(b.instance);
  store.lastSeq.set(b.instance, b.seq);
  if (b.dropped > 0 || (last !== undefined && b.seq !== last + 1)) {
    store.dropped += b.dropped;
    resyncSoon();
  }
  const records = [];
  for (const r of b.records) {
    const parsed = InspectRecord.safeParse(r);
    if (parsed.success) records.push(parsed.data);
  }
  store.apply(records);
}

async function connectNats(): Promise<void> {
  if (!config.ws_url) {
    ui.ws = 'no websocket URL';
    ui.wsError =
      'The service knows no NATS websocket URL. Set NATS_WS_URL (and a websocket listener in nats-server), then restart the service.';
    renderHeader();
    replace(
      main,
      h(
        'section',
        { class: 'empty' },
        h('h2', undefined, 'No NATS websocket URL'),
        h('p', undefined, ui.wsError),
        h(
          'pre',
          { class: 'cmd' },
          'websocket {\n  listen: "127.0.0.1:8080"\n  no_tls: true\n}\n\nNATS_WS_URL=ws://127.0.0.1:8080 npm start',
        ),
      ),
    );
    return;
  }
  try {
    nc = await wsconnect({
      servers: config.ws_url,
      name: 'cim-domain-nix inspector',
      reconnect: true,
      maxReconnectAttempts: -1,
      waitOnFirstConnect: true,
      reconnectTimeWait: 1_000,
    });
  } catch (e) {
    ui.ws = 'failed';
    ui.wsError = `Cannot connect to ${config.ws_url}: ${(e as Error).message}. Reload when the server is reachable.`;
    renderHeader();
    return;
  }
  ui.ws = 'connected';
  renderHeader();
  nc.subscribe(config.subjects.events, { callback: (err, msg) => (err ? undefined : onBatch(msg.data)) });
  // The full stream is published while someone holds a lease: hold one while the page is open.
  const watch = (): void => void request(config.subjects.watch, { seconds: 30 }).catch(() => undefined);
  await request(config.subjects.watch, { seconds: 30 }).catch(() => undefined);
  window.setInterval(watch, 10_000);
  void (async () => {
    for await (const st of nc.status()) {
      if (st.type === 'disconnect') ui.ws = 'disconnected';
      else if (st.type === 'reconnecting') ui.ws = 'reconnecting';
      else if (st.type === 'reconnect') {
        ui.ws = 'connected';
        void reloadActors();
      } else continue;
      renderHeader();
    }
  })();
  void nc.closed().then((err) => {
    ui.ws = 'disconnected';
    ui.wsError = err ? err.message : undefined;
    renderHeader();
  });
  await reloadActors();
}

async function boot(): Promise<void> {
  const [c, m] = await Promise.all([getJson('/api/config.json'), getJson('/api/machines.json')]);
  config = PageConfig.parse(c);
  machines = MachinesDocument.parse(m);
  const prefixEl = document.getElementById('prefix')!;
  prefixEl.textContent = `prefix ${config.prefix}`;
  prefixEl.title = `service ${config.version}, instance ${config.instance}`;
  document.title = `cim-domain-nix inspector (${config.prefix})`;
  renderHeader();
  renderMain();
  await connectNats();
  renderMain();
  document.body.setAttribute('data-ready', 'true');
}

boot().catch((e: unknown) => {
  replace(
    main,
    h('section', { class: 'empty' }, h('h2', undefined, 'The inspector could not start'), h('p', undefined, (e as Error).message)),
  );
});
