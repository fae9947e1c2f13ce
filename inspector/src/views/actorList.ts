/**
 * The actor list: grouped by aggregate type, each actor by its name (natural key) over its
 * ID, filtered by name, ID or correlation ID, newest activity first, virtualised (only the visible rows exist in the DOM), so tens of
 * thousands of actors scroll and update without freezing. A listbox: arrow keys, Page
 * Up/Down, Home and End move the selection.
 */
import { ACTOR_TYPES, type ActorType } from '../../../src/inspection/wire.js';
import { h, perFrame, replace, short } from './dom.js';
import { displayName, type ActorRow, type Store } from '../state/store.js';
import { instanceColour } from './cluster.js';

const ROW_H = 40;
const OVERSCAN = 8;
/** Re-sort by recency at most this often, so rows do not jump under the pointer. */
const RESORT_MS = 700;

type Item = { kind: 'group'; type: ActorType; count: number } | { kind: 'actor'; row: ActorRow };

export interface ActorListOptions {
  store: Store;
  onSelect(row: ActorRow): void;
  selected(): string | undefined;
}

export class ActorList {
  readonly element: HTMLElement;
  private readonly viewport: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly countEl: HTMLElement;
  private items: Item[] = [];
  private query = '';
  private types = new Set<ActorType>(ACTOR_TYPES.filter((t) => t !== 'system'));
  private builtFor = -1;
  private lastSort = 0;
  private sorted: ActorRow[] = [];
  private readonly schedule = perFrame(() => this.render());
  private resortTimer: number | undefined;

  constructor(private readonly opts: ActorListOptions) {
    this.spacer = h('div', { class: 'spacer' });
    this.viewport = h('div', {
      class: 'viewport',
      role: 'listbox',
      tabindex: 0,
      'aria-label': 'actors, grouped by aggregate type',
      id: 'actor-list',
    });
    this.viewport.append(this.spacer);
    this.viewport.addEventListener('scroll', () => this.schedule());
    this.viewport.addEventListener('keydown', (ev) => this.onKey(ev));
    this.countEl = h('div', { class: 'count', 'aria-live': 'polite' });
    this.element = h('div', { class: 'actor-list' }, this.countEl, this.viewport);
    opts.store.on('actors', () => this.schedule());
    new ResizeObserver(() => this.schedule()).observe(this.viewport);
  }

  setQuery(q: string): void {
    this.query = q.trim().toLowerCase();
    this.builtFor = -1;
    this.schedule();
  }

  setTypes(types: Set<ActorType>): void {
    this.types = types;
    this.builtFor = -1;
    this.schedule();
  }

  /** Redraw (the selection changed). */
  refresh(): void {
    this.schedule();
  }

  focus(): void {
    this.viewport.focus();
  }

  /** Actors that pass the filter (for the empty state and tests). */
  get visibleCount(): number {
    return this.items.filter((i) => i.kind === 'actor').length;
  }

  private build(): void {
    const store = this.opts.store;
    const now = performance.now();
    if (this.builtFor === store.actorsVersion) return;
    const due = now - this.lastSort >= RESORT_MS || this.builtFor === -1;
    if (!due) {
      // Not yet time to re-sort: keep the order, re-render the rows' contents.
      this.resortTimer ??= window.setTimeout(() => {
        this.resortTimer = undefined;
        this.schedule();
      }, RESORT_MS);
      return;
    }
    this.builtFor = store.actorsVersion;
    this.lastSort = now;
    const q = this.query;
    const groups = new Map<ActorType, ActorRow[]>();
    for (const row of store.actors.values()) {
      if (row.type === 'system' || !this.types.has(row.type)) continue;
      if (
        q &&
        !row.id.toLowerCase().includes(q) &&
        !(row.name?.toLowerCase().includes(q) ?? false) &&
        !(row.correlation_id?.toLowerCase().includes(q) ?? false)
      )
        continue;
      let list = groups.get(row.type);
      if (!list) groups.set(row.type, (list = []));
      list.push(row);
    }
    const items: Item[] = [];
    this.sorted = [];
    for (const type of ACTOR_TYPES) {
      const list = groups.get(type);
      if (!list || list.length === 0) continue;
      list.sort((a, b) => b.at - a.at || (a.id < b.id ? -1 : 1));
      items.push({ kind: 'group', type, count: list.length });
      for (const row of list) {
        items.push({ kind: 'actor', row });
        this.sorted.push(row);
      }
    }
    this.items = items;
    const total = [...store.actors.values()].filter((r) => r.type !== 'system').length;
    const noun = (n: number): string => `${n} actor${n === 1 ? '' : 's'}`;
    this.countEl.textContent = q || this.types.size < ACTOR_TYPES.length - 1 ? `${this.sorted.length} of ${noun(total)}` : noun(total);
  }

  private render(): void {
    this.build();
    const items = this.items;
    this.spacer.style.height = `${items.length * ROW_H}px`;
    const top = this.viewport.scrollTop;
    const height = this.viewport.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(items.length, Math.ceil((top + height) / ROW_H) + OVERSCAN);
    const selected = this.opts.selected();
    const now = performance.now();
    const several = this.opts.store.instances.size > 1;
    const rows: HTMLElement[] = [];
    let activeId: string | undefined;
    for (let i = first; i < last; i++) {
      const item = items[i]!;
      const style = `top:${i * ROW_H}px`;
      if (item.kind === 'group') {
        rows.push(
          h(
            'div',
            { class: 'group', style, role: 'presentation' },
            h('span', undefined, item.type),
            h('span', { class: 'muted' }, String(item.count)),
          ),
        );
        continue;
      }
      const r = item.row;
      const id = `actor-${i}`;
      const isSel = r.key === selected;
      if (isSel) activeId = id;
      rows.push(
        h(
          'div',
          {
            id,
            class: `row${isSel ? ' selected' : ''}${now - r.changed < 1200 ? ' flash' : ''} ${r.status}`,
            style,
            role: 'option',
            'aria-selected': isSel ? 'true' : 'false',
            'data-key': r.key,
            'data-state': r.state,
            'data-name': r.name ?? '',
            'data-instance': r.instance ?? '',
            title: `${r.type} ${r.name ?? '(name not known yet)'}\n${r.id}${r.correlation_id ? `\ncorrelation ${r.correlation_id}` : ''}${r.last_event ? `\nlast ${r.last_event}` : ''}`,
            onclick: () => this.opts.onSelect(r),
          },
          h('span', { class: `dot ${r.status}`, 'aria-hidden': 'true' }),
          h(
            'span',
            { class: 'who' },
            h('span', { class: `name${r.name === undefined ? ' unnamed' : ''}` }, displayName(r)),
            h(
              'span',
              { class: 'sub muted' },
              r.name !== undefined ? h('span', { class: 'mono' }, short(r.id)) : null,
              r.name !== undefined && r.last_event ? ' · ' : '',
              r.last_event ?? '',
            ),
          ),
          h('span', { class: 'pill' }, r.status === 'live' ? r.state : `${r.state} · ${r.status}`),
          h('span', { class: 'ver muted' }, r.version !== undefined ? `v${r.version}` : ''),
          // With several instances, the one running the actor, in its colour of the cluster view.
          several && r.instance !== undefined
            ? h('span', { class: 'owner-chip', style: `background:${instanceColour(r.instance)}`, title: `running on instance ${r.instance}` }, short(r.instance).slice(0, 4))
            : null,
        ),
      );
    }
    replace(this.spacer, ...rows);
    if (activeId) this.viewport.setAttribute('aria-activedescendant', activeId);
    else this.viewport.removeAttribute('aria-activedescendant');
  }

  private onKey(ev: KeyboardEvent): void {
    const rows = this.sorted;
    if (rows.length === 0) return;
    const page = Math.max(1, Math.floor(this.viewport.clientHeight / ROW_H) - 1);
    const at = rows.findIndex((r) => r.key === this.opts.selected());
    let next = at;
    switch (ev.key) {
      case 'ArrowDown':
        next = at < 0 ? 0 : Math.min(rows.length - 1, at + 1);
        break;
      case 'ArrowUp':
        next = at < 0 ? 0 : Math.max(0, at - 1);
        break;
      case 'PageDown':
        next = Math.min(rows.length - 1, Math.max(0, at) + page);
        break;
      case 'PageUp':
        next = Math.max(0, at - page);
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = rows.length - 1;
        break;
      default:
        return;
    }
    ev.preventDefault();
    const row = rows[next]!;
    this.opts.onSelect(row);
    this.scrollTo(row.key);
  }

  /** Scroll so the actor's row is visible. */
  scrollTo(key: string): void {
    this.build();
    const index = this.items.findIndex((i) => i.kind === 'actor' && i.row.key === key);
    if (index < 0) return;
    const y = index * ROW_H;
    const vp = this.viewport;
    if (y < vp.scrollTop + ROW_H) vp.scrollTop = Math.max(0, y - ROW_H);
    else if (y + ROW_H > vp.scrollTop + vp.clientHeight) vp.scrollTop = y + 2 * ROW_H - vp.clientHeight;
    this.schedule();
  }
}
