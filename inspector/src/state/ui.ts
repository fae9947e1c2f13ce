/**
 * The page's UI state: what is selected and shown, the loaded history and context, and the
 * link to the service. One object, changed only through {@link UiStore.set}, which tells the
 * views what to redraw.
 */
import type { ClusterReply, HistoryReply } from '../../../src/inspection/wire.js';
import type { LinkState } from '../session/session.js';

export type Tab = 'timeline' | 'sequence' | 'history' | 'context';
export const TABS: readonly { id: Tab; label: string }[] = [
  { id: 'timeline', label: 'Timeline' },
  { id: 'sequence', label: 'Sequence' },
  { id: 'history', label: 'History' },
  { id: 'context', label: 'Context' },
];

export type LoadedHistory = Extract<HistoryReply, { status: 'ok' }>;

export interface HistoryState {
  key: string;
  data: LoadedHistory | { status: 'error'; message: string } | 'loading';
  /** Slider position: 0 = before the first returned step, n = after the last. */
  position: number;
  loadedAt: number;
}

export interface UiState {
  /** The selected actor's key (`type:id`). */
  selected: string | undefined;
  tab: Tab;
  /** The correlation the timeline and the sequence view are narrowed to. */
  correlation: string | undefined;
  /** Timeline: show the actions executed and the quiet state records. */
  details: boolean;
  /** Timeline: every actor's records, not only the selected one's. */
  allActors: boolean;
  /** Statechart: draw the transitions only a replay takes. */
  showReplay: boolean;
  history: HistoryState | undefined;
  context: { key: string; value: unknown; loading: boolean } | undefined;
  link: LinkState;
  /** Why the link is in its state (an error), for the badge's tooltip. */
  linkDetail: string | undefined;
  /** The main area shows the cluster view (instances, partitions, leases) instead of an actor. */
  clusterOpen: boolean;
  /** The latest cluster picture (refreshed every 2 s). */
  cluster: ClusterReply | undefined;
}

/** What a change asks the views to redraw: the header, the main area (head, chart, tabs) or only the tab's panel. */
export type UiTopic = 'header' | 'main' | 'tab';

export class UiStore {
  private current: UiState = {
    selected: undefined,
    tab: 'timeline',
    correlation: undefined,
    details: false,
    allActors: false,
    showReplay: false,
    history: undefined,
    context: undefined,
    link: 'connecting',
    linkDetail: undefined,
    clusterOpen: false,
    cluster: undefined,
  };
  private readonly listeners = new Map<UiTopic, Set<() => void>>();

  get state(): Readonly<UiState> {
    return this.current;
  }

  /** Change the state and redraw what `topics` name. */
  set(patch: Partial<UiState>, ...topics: UiTopic[]): void {
    this.current = { ...this.current, ...patch };
    for (const t of topics) for (const fn of this.listeners.get(t) ?? []) fn();
  }

  on(topic: UiTopic, fn: () => void): void {
    let set = this.listeners.get(topic);
    if (!set) this.listeners.set(topic, (set = new Set()));
    set.add(fn);
  }
}
