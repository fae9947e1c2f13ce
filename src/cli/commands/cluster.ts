/** `cluster`: the members, partitions and leases of a deployment, read from its cluster bucket. */
import { readClusterBucket, type ClusterBucketState } from '../../cluster/index.js';
import { CliError, ExitCode, withClient } from '../client.js';
import { renderTable } from '../format.js';
import { EXIT_HELP, GLOBAL_HELP, type Subcommand } from '../io.js';

/** Seconds since a server timestamp, as this machine's clock sees it (display only). */
function ago(at: string, now: number): string {
  const s = (now - Date.parse(at)) / 1000;
  return Number.isFinite(s) ? `${Math.max(0, s).toFixed(1)} s` : '-';
}

/** The human-readable report. */
export function renderCluster(state: ClusterBucketState, now = Date.now()): string[] {
  const owned = new Map<string, number>();
  for (const l of state.leases) if (l.owner !== '') owned.set(l.owner, (owned.get(l.owner) ?? 0) + 1);
  const unowned = state.leases.filter((l) => l.owner === '').length;
  const missing = (state.partitions ?? 0) - state.leases.length;
  const lines = [
    `bucket ${state.bucket}: ${state.partitions ?? '?'} partitions, ${state.members.length} member${state.members.length === 1 ? '' : 's'}` +
      (unowned + Math.max(0, missing) > 0 ? `, ${unowned + Math.max(0, missing)} without owner` : ''),
    '',
    'members:',
    ...renderTable(
      ['ID', 'HOST', 'VERSION', 'STARTED', 'OWNS', 'LEASES', 'LEAVING', 'BEAT', 'LAST HEARTBEAT'],
      state.members.map((m) => [
        m.id,
        m.host,
        m.version,
        m.started_at.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
        String(m.partitions.length),
        String(owned.get(m.id) ?? 0),
        m.leaving ? 'yes' : 'no',
        String(m.beat),
        `${ago(m.written_at, now)} ago`,
      ]),
    ).map((l) => `  ${l}`),
    '',
    'partitions:',
    ...renderTable(
      ['PARTITION', 'OWNER', 'EPOCH', 'RENEWALS', 'DRAINING', 'LEASE', 'LAST WRITE'],
      state.leases.map((l) => [
        String(l.partition),
        l.owner === '' ? `(released by ${l.last_owner ?? '?'}${l.clean === false ? ', unclean' : ''})` : l.owner,
        String(l.epoch),
        String(l.renewals),
        l.draining ? 'yes' : 'no',
        `${l.lease_ms} ms`,
        `${ago(l.written_at, now)} ago`,
      ]),
    ).map((l) => `  ${l}`),
  ];
  return lines;
}

export const cluster: Subcommand = {
  summary: 'show the instances, partitions and leases of a deployment (several instances)',
  help: () =>
    [
      'Usage: cim-domain-nix cluster',
      '',
      'Reads the cluster bucket <PREFIX>_CLUSTER (KV) and prints the members (instance, host, version,',
      'start, partitions announced, leases held, leaving, heartbeat count, time since its last heartbeat)',
      'and every partition (owner, epoch, renewals, draining, lease, time since its last write). Times',
      'since a write compare the server\'s write time with this machine\'s clock. --json prints the',
      'bucket as one JSON document. Needs a user that may read the bucket (see docs/cluster.md).',
      '',
      GLOBAL_HELP,
      '',
      EXIT_HELP,
    ].join('\n'),
  async run(args, io) {
    if (args.global.help) {
      io.out(this.help());
      return ExitCode.ok;
    }
    return withClient(args.global, io.env, async (client) => {
      const state = await readClusterBucket(client.nc, client.subjects.prefix);
      if (!state) {
        throw new CliError(
          `there is no cluster bucket ${client.subjects.clusterBucket}: no instance has run with prefix '${client.subjects.prefix}' (or this user may not read it)`,
          ExitCode.unreachable,
        );
      }
      if (args.global.json) io.out(JSON.stringify(state));
      else for (const line of renderCluster(state)) io.out(line);
      return ExitCode.ok;
    });
  },
};
