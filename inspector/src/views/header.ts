/**
 * The header: the service (prefix, version, the instance the page is connected to, how many
 * instances serve it: a button to the cluster view), the page's link to it, the system actors with their states, and the stream's rate.
 */
import { SYSTEM_ACTORS } from '../../../src/inspection/wire.js';
import type { Inspector } from '../state/inspector.js';
import { keyOf } from '../state/store.js';
import type { UiState } from '../state/ui.js';
import { h, replace, short } from './dom.js';

const LINK_WORDS: Record<UiState['link'], string> = {
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  disconnected: 'disconnected',
  failed: 'failed',
  unauthorized: 'token refused',
};

export class Header {
  readonly element: HTMLElement;
  private readonly service = h('span', { class: 'muted service', id: 'prefix' });
  private readonly instance = h('span', { class: 'chip-dark mono', id: 'instance' });
  private readonly instances = h('button', { type: 'button', class: 'chip', id: 'cluster-button', title: 'the instances serving this deployment, and their partitions' });
  private readonly link = h('span', { class: 'badge', id: 'ws-status', role: 'status' });
  private readonly systemBar = h('div', { class: 'system-bar', 'aria-label': 'system actors' });
  private readonly stats = h('span', { class: 'stats muted', id: 'stream-stats' });
  private lastCount = 0;

  constructor(private readonly inspector: Inspector) {
    this.element = h(
      'header',
      { class: 'top' },
      h(
        'h1',
        undefined,
        h('span', { class: 'logo', 'aria-hidden': 'true' }, '❄'),
        ' cim-domain-nix ',
        h('span', { class: 'muted' }, 'inspector'),
      ),
      this.service,
      this.instance,
      this.instances,
      this.link,
      this.systemBar,
      this.stats,
    );
    const { config } = inspector;
    this.service.textContent = `prefix ${config.prefix}`;
    this.service.title = `cim-domain-nix ${config.version}`;
    // The instance this page is connected to (with several instances, each actor names its own).
    this.instance.textContent = `instance ${short(config.instance)}`;
    this.instance.title = `connected to service instance ${config.instance}`;
    this.instances.addEventListener('click', () => (inspector.ui.state.clusterOpen ? inspector.closeCluster() : inspector.openCluster()));
    window.setInterval(() => this.tick(), 1_000);
  }

  /** The link badge and the system actors. */
  render(): void {
    const { ui, store, session } = this.inspector;
    const { link, linkDetail, selected } = ui.state;
    const via = session.transport === 'relay' ? 'page ↔ service' : 'page ↔ NATS';
    this.link.textContent = `${via}: ${LINK_WORDS[link]}`;
    this.link.className = `badge ${link === 'connected' ? 'ok' : link === 'connecting' || link === 'reconnecting' ? 'warn' : 'bad'}`;
    this.link.title = linkDetail ?? session.target;
    this.link.setAttribute('data-transport', session.transport);
    const cluster = ui.state.cluster;
    const live = cluster ? cluster.members.filter((m) => m.live).length : 1;
    this.instances.textContent = `${live} instance${live === 1 ? '' : 's'}`;
    this.instances.setAttribute('data-count', String(live));
    this.instances.classList.toggle('selected', ui.state.clusterOpen);
    const chips = SYSTEM_ACTORS.map((name) => {
      const row = store.actors.get(keyOf('system', name));
      const state = row?.state ?? '?';
      const good = ['connected', 'ready', 'running'].includes(state);
      const label = name === 'reconnection' ? 'service ↔ NATS' : name;
      return h(
        'button',
        {
          type: 'button',
          class: `sys ${good ? 'ok' : row ? 'warn' : ''}${selected === keyOf('system', name) ? ' selected' : ''}`,
          'data-system': name,
          'data-state': state,
          title: `${name === 'reconnection' ? 'reconnection supervisor' : name} actor: ${state}`,
          onclick: () => this.inspector.select(keyOf('system', name)),
        },
        h('span', { class: 'muted' }, `${label} `),
        h('b', undefined, state),
      );
    });
    replace(this.systemBar, ...chips);
  }

  private tick(): void {
    const store = this.inspector.store;
    const rate = store.recordsSeen - this.lastCount;
    this.lastCount = store.recordsSeen;
    this.stats.textContent = `${rate} rec/s${store.dropped ? ` · ${store.dropped} dropped` : ''}`;
  }
}
