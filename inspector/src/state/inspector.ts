/**
 * What the page does, apart from drawing: selects and switches views (in the {@link UiStore}),
 * feeds the stream's batches into the {@link Store}, and asks the service, through the
 * {@link Session}, for the actor list, a history, a context and the watch lease.
 */
import {
  ActorReply,
  ActorsReply,
  ClusterReply,
  HistoryReply,
  InspectBatch,
  InspectRecord,
  type MachinesDocument,
  type PageConfig,
  type Statechart,
} from '../../../src/inspection/wire.js';
import type { Session } from '../session/session.js';
import { keyOf, type Store } from './store.js';
import type { LoadedHistory, Tab, UiStore } from './ui.js';

/** `type:id` → its parts. */
export function splitKey(key: string): { type: string; id: string } {
  const i = key.indexOf(':');
  return { type: key.slice(0, i), id: key.slice(i + 1) };
}

/** How long a watch lease lasts, and how often the page renews it. */
const LEASE_S = 30;
const RENEW_MS = 10_000;
/** How often the cluster picture is asked for again. */
const CLUSTER_MS = 2_000;

export class Inspector {
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  private resyncTimer: number | undefined;
  private historyReload: number | undefined;
  private watchTimer: number | undefined;
  private clusterTimer: number | undefined;

  constructor(
    readonly config: PageConfig,
    readonly machines: MachinesDocument,
    readonly session: Session,
    readonly store: Store,
    readonly ui: UiStore,
  ) {
    store.on('timeline', () => this.reloadHistoryIfNew());
  }

  /** The machine drawn for an actor. */
  chartFor(type: string, id: string): Statechart | undefined {
    return type === 'system' ? this.machines.system.find((m) => m.id === id) : this.machines.aggregates.find((m) => m.type === type);
  }

  // ---- what the user does ---------------------------------------------------------------

  select(key: string, tab?: Tab): void {
    const ui = this.ui.state;
    const patch = ui.selected === key ? {} : { selected: key, history: undefined, context: undefined };
    this.ui.set({ ...patch, ...(tab ? { tab } : {}), clusterOpen: false }, 'header', 'main');
    this.loadForTab();
  }

  /** Show the cluster view (instances, partitions, leases) in the main area. */
  openCluster(): void {
    this.ui.set({ clusterOpen: true }, 'header', 'main');
    void this.loadCluster();
  }

  closeCluster(): void {
    this.ui.set({ clusterOpen: false }, 'header', 'main');
  }

  setTab(tab: Tab): void {
    this.ui.set({ tab }, 'main');
    this.loadForTab();
  }

  showCorrelation(correlation: string): void {
    this.ui.set({ correlation, tab: 'sequence' }, 'main');
  }

  clearCorrelation(): void {
    this.ui.set({ correlation: undefined }, 'main');
  }

  setDetails(details: boolean): void {
    this.ui.set({ details }, 'tab');
  }

  setAllActors(allActors: boolean): void {
    this.ui.set({ allActors }, 'tab');
  }

  setShowReplay(showReplay: boolean): void {
    this.ui.set({ showReplay }, 'main');
  }

  /** Move the history slider. */
  setHistoryPosition(p: number): void {
    const h = this.ui.state.history;
    if (!h || typeof h.data !== 'object' || h.data.status !== 'ok') return;
    this.ui.set({ history: { ...h, position: Math.max(0, Math.min(h.data.steps.length, p)) } }, 'main');
  }

  private loadForTab(): void {
    const tab = this.ui.state.tab;
    if (tab === 'history') void this.loadHistory();
    if (tab === 'context') void this.loadContext();
  }

  // ---- the link -------------------------------------------------------------------------

  /** Link up, take the watch lease, load the actor list. */
  async start(): Promise<void> {
    await this.session.start({
      onBatch: (text) => this.onBatch(text),
      onState: (link, detail) => this.ui.set({ link, linkDetail: detail }, 'header'),
      onReconnected: () => void this.reloadActors(),
    });
    if (this.ui.state.link !== 'connected') return;
    // The full stream is published while someone holds a lease: hold one while the page is open.
    await this.watch();
    this.watchTimer = window.setInterval(() => void this.watch(), RENEW_MS);
    await this.loadCluster();
    this.clusterTimer = window.setInterval(() => void this.loadCluster(), CLUSTER_MS);
    await this.reloadActors();
  }

  stop(): void {
    if (this.watchTimer !== undefined) window.clearInterval(this.watchTimer);
    if (this.clusterTimer !== undefined) window.clearInterval(this.clusterTimer);
    this.session.close();
  }

  private watch(): Promise<unknown> {
    return this.session.request(this.config.subjects.watch, { seconds: LEASE_S }).catch(() => undefined);
  }

  /** One message of the stream: check it, note gaps (then reload the list), apply its records. */
  onBatch(text: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return;
    }
    const batch = InspectBatch.safeParse(raw);
    if (!batch.success) return;
    const b = batch.data;
    const store = this.store;
    store.batches++;
    const last = store.lastSeq.get(b.instance);
    store.lastSeq.set(b.instance, b.seq);
    if (b.dropped > 0 || (last !== undefined && b.seq !== last + 1)) {
      store.dropped += b.dropped;
      this.resyncSoon();
    }
    const records: InspectRecord[] = [];
    for (const r of b.records) {
      const parsed = InspectRecord.safeParse(r);
      if (parsed.success) records.push(parsed.data);
    }
    store.apply(records, b.instance);
  }

  /** Ask for the instances and the partitions' owners (any instance answers, from its view). */
  async loadCluster(): Promise<void> {
    let cluster: ClusterReply | undefined;
    try {
      const parsed = ClusterReply.safeParse(await this.session.request(this.config.subjects.cluster, {}));
      cluster = parsed.success ? parsed.data : undefined;
    } catch {
      cluster = undefined;
    }
    if (!cluster) return;
    const before = this.ui.state.cluster;
    const grew = cluster.members.some((m) => !before?.members.some((b) => b.id === m.id));
    this.ui.set({ cluster }, 'header', ...(this.ui.state.clusterOpen ? (['main'] as const) : []));
    // A new instance: its actors are not in the list yet.
    if (before && grew) void this.reloadActors();
  }

  /** The live instances when several serve the deployment (each is asked for its own actors); empty with one. */
  private peers(): string[] {
    const live = (this.ui.state.cluster?.members ?? []).filter((m) => m.live).map((m) => m.id);
    return live.length > 1 ? live : [];
  }

  /** Load the service's actor list (all pages; from every instance when there are several). */
  reloadActors(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      try {
        const peers = this.peers();
        const loadFrom = async (instance: string | undefined): Promise<void> => {
          let offset = 0;
          for (;;) {
            const body = { offset, limit: 5_000, ...(instance !== undefined ? { instance } : {}) };
            const parsed = ActorsReply.safeParse(await this.session.request(this.config.subjects.actors, body, 10_000));
            if (!parsed.success) break;
            this.store.mergeActors(parsed.data.actors, parsed.data.instance);
            offset += parsed.data.actors.length;
            if (parsed.data.actors.length === 0 || offset >= parsed.data.total) break;
          }
        };
        if (peers.length === 0) await loadFrom(undefined);
        // An instance that went away meanwhile answers nothing: the others' lists still load.
        else await Promise.all(peers.map((p) => loadFrom(p).catch((e: unknown) => console.warn(`actor list of ${p} not loaded`, e))));
      } catch (e) {
        console.warn('actor list not loaded', e);
      } finally {
        this.reloading = undefined;
        if (this.reloadAgain) {
          this.reloadAgain = false;
          void this.reloadActors();
        }
      }
    })();
    return this.reloading;
  }

  private resyncSoon(): void {
    this.resyncTimer ??= window.setTimeout(() => {
      this.resyncTimer = undefined;
      void this.reloadActors();
    }, 1_000);
  }

  // ---- history and context ----------------------------------------------------------------

  async loadHistory(keepPosition = false): Promise<void> {
    const key = this.ui.state.selected;
    if (!key) return;
    const { type, id } = splitKey(key);
    if (type === 'system') return;
    const previous = this.ui.state.history?.key === key ? this.ui.state.history : undefined;
    if (!previous) this.ui.set({ history: { key, data: 'loading', position: 0, loadedAt: Date.now() } }, 'tab');
    let data: LoadedHistory | { status: 'error'; message: string };
    try {
      const parsed = HistoryReply.safeParse(await this.session.request(this.config.subjects.history, { type, id }, 15_000));
      data = parsed.success ? parsed.data : { status: 'error', message: 'the history reply is malformed' };
    } catch (e) {
      data = { status: 'error', message: `The history could not be loaded: ${(e as Error).message}` };
    }
    if (this.ui.state.selected !== key) return;
    let position = data.status === 'ok' ? data.steps.length : 0;
    const prev = previous?.data;
    if (keepPosition && previous && typeof prev === 'object' && prev.status === 'ok' && previous.position < prev.steps.length)
      position = previous.position;
    // A history names an aggregate the live list does not know (passivated, forgotten).
    if (data.status === 'ok' && data.name !== undefined) {
      const row = this.store.actors.get(key);
      if (row && row.name === undefined) row.name = data.name;
    }
    this.ui.set({ history: { key, data, position, loadedAt: Date.now() } }, 'main');
  }

  async loadContext(): Promise<void> {
    const key = this.ui.state.selected;
    if (!key) return;
    const { type, id } = splitKey(key);
    const loading = this.ui.state.context?.key !== key;
    this.ui.set({ context: { key, value: undefined, loading } }, ...(loading ? (['tab'] as const) : []));
    let value: unknown;
    try {
      // With several instances, the one running the actor has its context.
      const instance = this.peers().length > 0 ? this.store.actors.get(key)?.instance : undefined;
      const parsed = ActorReply.safeParse(await this.session.request(this.config.subjects.actor, { type, id, ...(instance !== undefined ? { instance } : {}) }));
      value = parsed.success ? parsed.data.context : undefined;
    } catch {
      value = undefined;
    }
    if (this.ui.state.selected !== key) return;
    this.ui.set({ context: { key, value, loading: false } }, ...(this.ui.state.tab === 'context' ? (['tab'] as const) : []));
  }

  /** New stored events of the aggregate whose history is open: reload it (at most about once a second). */
  private reloadHistoryIfNew(): void {
    const { tab, history: hst, selected } = this.ui.state;
    if (tab !== 'history' || !hst || hst.key !== selected || this.historyReload !== undefined) return;
    const { type, id } = splitKey(hst.key);
    const fresh = this.store.records().some((r) => r.k === 'stored' && r.actor.type === type && r.actor.id === id && r.at > hst.loadedAt);
    if (!fresh) return;
    this.historyReload = window.setTimeout(() => {
      this.historyReload = undefined;
      void this.loadHistory(true);
    }, 300);
  }

  /** The name an actor is shown by (natural key, or the start of its ID). */
  nameOf(type: string, id: string): string {
    return this.store.nameOf(keyOf(type, id)) ?? (type === 'system' ? id : id.slice(0, 8));
  }
}
