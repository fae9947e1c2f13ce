/**
 * The cluster view: the instances serving the deployment (host, version, start, liveness, how
 * many partitions and how many of the listed actors each runs) and every partition with its
 * owner and epoch, as the answering instance sees them. Each instance has one colour, used for
 * its partitions here and for its name on the actors elsewhere.
 */
import type { ClusterReply } from '../../../src/inspection/wire.js';
import type { Inspector } from '../state/inspector.js';
import { h, short } from './dom.js';

/** A colour per instance, stable while the page is open (the order instances were first seen). */
const PALETTE = ['#2f6fed', '#15803d', '#b45309', '#7c3aed', '#0e7490', '#be185d', '#4d7c0f', '#9a3412'];
const seen: string[] = [];
export function instanceColour(id: string): string {
  let i = seen.indexOf(id);
  if (i < 0) i = seen.push(id) - 1;
  return PALETTE[i % PALETTE.length]!;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function clusterView(inspector: Inspector): HTMLElement {
  const cluster: ClusterReply | undefined = inspector.ui.state.cluster;
  const close = h('button', { type: 'button', class: 'chip', id: 'cluster-close', onclick: () => inspector.closeCluster() }, 'close');
  if (!cluster) {
    return h('section', { class: 'cluster', id: 'cluster-view' }, h('h2', undefined, 'Cluster ', close), h('p', { class: 'muted' }, 'Asking the service…'));
  }
  const owned = new Map<string, number>();
  for (const l of cluster.leases) if (l.owner !== null) owned.set(l.owner, (owned.get(l.owner) ?? 0) + 1);
  const actors = new Map<string, number>();
  for (const row of inspector.store.actors.values()) {
    if (row.type === 'system' || row.instance === undefined) continue;
    actors.set(row.instance, (actors.get(row.instance) ?? 0) + 1);
  }
  const unowned = cluster.leases.filter((l) => l.owner === null).length;
  const summary =
    `${cluster.members.length} instance${cluster.members.length === 1 ? '' : 's'}, ${cluster.partitions} partitions` +
    (unowned > 0 ? `, ${unowned} without owner` : '') +
    ` · seen by ${short(cluster.instance)}`;
  const members = h(
    'table',
    { class: 'cluster-members', id: 'cluster-members' },
    h(
      'thead',
      undefined,
      h('tr', undefined, ...['instance', 'host', 'version', 'started', 'partitions', 'actors listed', 'state', 'last heartbeat'].map((t) => h('th', undefined, t))),
    ),
    h(
      'tbody',
      undefined,
      ...cluster.members.map((m) =>
        h(
          'tr',
          { 'data-instance': m.id, class: m.live ? '' : 'gone' },
          h(
            'td',
            { class: 'mono', title: m.id },
            h('span', { class: 'swatch', style: `background:${instanceColour(m.id)}`, 'aria-hidden': 'true' }),
            ` ${short(m.id)}`,
            m.id === inspector.config.instance ? h('span', { class: 'muted' }, ' (this page)') : null,
          ),
          h('td', undefined, m.host),
          h('td', undefined, m.version),
          h('td', { class: 'muted' }, m.started_at.replace('T', ' ').replace(/\.\d+Z$/, 'Z')),
          h('td', { class: 'num', 'data-owned': owned.get(m.id) ?? 0 }, String(owned.get(m.id) ?? 0)),
          h('td', { class: 'num' }, String(actors.get(m.id) ?? 0)),
          h('td', undefined, h('span', { class: `badge ${m.leaving ? 'warn' : m.live ? 'ok' : 'bad'}` }, m.leaving ? 'leaving' : m.live ? 'live' : 'gone')),
          h('td', { class: 'muted' }, m.last_seen_ms === 0 ? 'now' : `${seconds(m.last_seen_ms)} ago`),
        ),
      ),
    ),
  );
  const grid = h(
    'div',
    { class: 'partition-grid', id: 'partition-grid', role: 'list', 'aria-label': 'partitions and their owners' },
    ...cluster.leases.map((l) =>
      h(
        'span',
        {
          class: `partition${l.owner === null ? ' unowned' : ''}`,
          role: 'listitem',
          'data-partition': l.partition,
          'data-owner': l.owner ?? '',
          style: l.owner === null ? undefined : `background:${instanceColour(l.owner)}`,
          title: `partition ${l.partition}: ${l.owner === null ? 'no owner now' : `owned by ${l.owner}, epoch ${l.epoch ?? '?'}`}`,
        },
        String(l.partition),
      ),
    ),
  );
  return h(
    'section',
    { class: 'cluster', id: 'cluster-view' },
    h('h2', undefined, 'Cluster ', close),
    h('p', { class: 'muted', id: 'cluster-summary' }, summary),
    members,
    h('h3', undefined, 'Partitions'),
    grid,
  );
}
