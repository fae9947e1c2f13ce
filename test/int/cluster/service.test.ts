/**
 * The service as one of several instances, with real processes (SPEC §9): bad cluster settings
 * refused at start with what to do; an existing stream and buckets brought to NIX_REPLICAS;
 * health's `cluster` section (and `degraded` for an instance that owns nothing among several);
 * `cim-domain-nix cluster`; and forwarding under the roles of deploy/nats-server.example.conf
 * (the service answers forwarded requests on the client's inbox: allow_responses).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subjectsFor } from '../../../src/domain/subjects.js';
import { runCli } from '../cli/cliProcess.js';
import { clusterEnv, startNatsCluster, type NatsCluster } from '../../support/natsCluster.js';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { uniquePrefix } from '../../support/service.js';
import { killAllServiceProcesses, ROOT, startServiceProcess, type ServiceProcess } from '../../support/serviceProcess.js';
import { clusterClient, startMember, stoppedCounters, waitSpread, type FleetSettings } from '../../support/serviceFleet.js';

let nats: NatsCluster;
let single: NatsServer;

beforeAll(async () => {
  [nats, single] = await Promise.all([startNatsCluster(), startNatsServer()]);
}, 60_000);

afterAll(async () => {
  await killAllServiceProcesses();
  await Promise.all([nats?.dispose(), single?.dispose()]);
});

/** Start a process that must refuse to start; resolves with its exit code and stderr. */
async function refused(env: Record<string, string>): Promise<{ code: number | null; stderr: string; proc: ServiceProcess }> {
  const proc = await startServiceProcess({ env: { LOG_LEVEL: 'info', INSPECTOR_ENABLED: 'false', ...env } });
  const { code } = await proc.waitForExit(60_000);
  return { code, stderr: proc.stderr, proc };
}

const ready = (l: { msg?: unknown }): boolean => String(l.msg).startsWith('cim-domain-nix ready');

describe('several instances: settings', () => {
  it('refuses NIX_REPLICAS larger than the cluster, saying what to set', { timeout: 120_000 }, async () => {
    const r = await refused(clusterEnv(nats, { prefix: uniquePrefix('r5'), replicas: 5 }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/NIX_REPLICAS=5 is larger than the NATS cluster can hold/);
    expect(r.stderr).toMatch(/Set NIX_REPLICAS to at most the number of JetStream servers/);
  });

  it('refuses NIX_REPLICAS above 1 on a server that is not part of a cluster', { timeout: 120_000 }, async () => {
    const r = await refused({ NATS_URL: single.url, NIX_DOMAIN_PREFIX: uniquePrefix('r3single'), NIX_REPLICAS: '3' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/NIX_REPLICAS=3 but the NATS server is not part of a cluster/);
    expect(r.stderr).toMatch(/Set NIX_REPLICAS=1/);
  });

  it('refuses a partition count other than the one the deployment recorded, naming the one to set', { timeout: 120_000 }, async () => {
    const prefix = uniquePrefix('parts');
    const first = await startServiceProcess({ env: { ...clusterEnv(nats, { prefix, partitions: 16 }), LOG_LEVEL: 'info', INSPECTOR_ENABLED: 'false' } });
    await first.waitForLog(ready, 90_000);
    expect((await first.stop()).code).toBe(0);
    const r = await refused(clusterEnv(nats, { prefix, partitions: 32 }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/NIX_PARTITIONS=32, but this deployment was started with 16 partitions/);
    expect(r.stderr).toMatch(/set NIX_PARTITIONS=16/);
  });

  it('refuses a lease too short for three heartbeats per lease, naming the setting (exit 2)', { timeout: 60_000 }, async () => {
    const r = await refused(clusterEnv(nats, { prefix: uniquePrefix('lease'), leaseMs: 200 }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/NIX_LEASE_MS/);
    expect(r.stderr).toMatch(/300/);
  });

  it('brings an existing event stream and its buckets to NIX_REPLICAS', { timeout: 180_000 }, async () => {
    const prefix = uniquePrefix('grow');
    const settings: FleetSettings = { prefix, partitions: 8, leaseMs: 3_000, env: { NIX_REPLICAS: '1' } };
    const one = await startMember(nats, settings, 'r1');
    expect((await one.proc.stop()).code).toBe(0);
    const three = await startMember(nats, { ...settings, env: {} }, 'r3');
    expect(three.proc.lines.some((l) => l.msg === 'event stream replicas changed to NIX_REPLICAS' && l['from'] === 1 && l['to'] === 3)).toBe(true);
    const nc = await connect({ servers: nats.urls });
    try {
      const jsm = await jetstreamManager(nc, { timeout: 10_000 });
      const s = subjectsFor(prefix);
      for (const stream of [s.eventStream, `KV_${s.stateBucket}`, `KV_${s.clusterBucket}`]) {
        expect((await jsm.streams.info(stream)).config.num_replicas, stream).toBe(3);
      }
    } finally {
      await nc.close();
    }
    expect((await three.proc.stop()).code).toBe(0);
  });
});

describe('several instances: health and the cluster command', () => {
  it('reports the cluster in health (degraded for an instance that owns nothing among several), and `cim-domain-nix cluster` prints it', { timeout: 180_000 }, async () => {
    // Two partitions for three instances: one of them owns none.
    const settings: FleetSettings = { prefix: uniquePrefix('health'), partitions: 2, leaseMs: 3_000 };
    const members = await Promise.all(['s1', 's2', 's3'].map((l) => startMember(nats, settings, l)));
    const ids = members.map((m) => m.instanceId);
    const nc = await clusterClient(nats);
    try {
      // Health is answered by any one instance (queue group): ask until each has answered, seeing all three, and their latest reports own both partitions.
      const reports = new Map<string, Record<string, unknown>>();
      await expect
        .poll(
          async () => {
            const h = (await nc.request('health.cim-domain-nix', '', { timeout: 5_000 })).json<Record<string, unknown>>();
            const c = h['cluster'] as Record<string, unknown>;
            // Each instance's latest report (partitions may still be moving while all three are seen).
            if (c['members_seen'] === 3) reports.set(String(c['instance_id']), h);
            const owned = [...reports.values()].map((r) => Number((r['cluster'] as Record<string, unknown>)['partitions_owned']));
            return reports.size === 3 && owned.reduce((a, b) => a + b, 0) === 2;
          },
          { timeout: 60_000, interval: 20 },
        )
        .toBe(true);
      for (const [id, h] of reports) {
        const c = h['cluster'] as Record<string, unknown>;
        expect(c).toMatchObject({ instance_id: id, members_seen: 3, partitions_fenced: 0, fenced_writes: 0, conflicts: 0, routing: 'partitioned' });
        expect(h['status'], id).toBe(c['partitions_owned'] === 0 ? 'degraded' : 'healthy');
      }
      const env = { NATS_URL: nats.urls.join(','), NIX_DOMAIN_PREFIX: settings.prefix };
      const text = await runCli(['cluster'], env);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/2 partitions, 3 members/);
      for (const id of ids) expect(text.stdout).toContain(id);
      const json = await runCli(['cluster', '--json'], env);
      const doc = JSON.parse(json.stdout) as { partitions: number; members: Array<{ id: string }>; leases: Array<{ partition: number; owner: string }> };
      expect(doc.partitions).toBe(2);
      expect(doc.members.map((m) => m.id).sort()).toEqual([...ids].sort());
      expect(doc.leases.map((l) => l.partition)).toEqual([0, 1]);
      expect(doc.leases.every((l) => ids.includes(l.owner))).toBe(true);
      const missing = await runCli(['cluster'], { ...env, NIX_DOMAIN_PREFIX: uniquePrefix('none') });
      expect(missing.code).toBe(3);
      expect(missing.stderr).toMatch(/there is no cluster bucket/);
      await Promise.all(members.map((m) => m.proc.stop()));
    } finally {
      await nc.close();
    }
  });
});

describe('several instances: roles', () => {
  it('forwards commands under the roles of deploy/nats-server.example.conf: the owner answers on the developer’s inbox', { timeout: 180_000 }, async () => {
    const text = await readFile(join(ROOT, 'deploy', 'nats-server.example.conf'), 'utf8');
    const body = text
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('#'))
      .join('\n');
    const start = body.indexOf('authorization {');
    let end = -1;
    for (let i = body.indexOf('{', start), depth = 0; i < body.length && end < 0; i++) {
      if (body[i] === '{') depth++;
      else if (body[i] === '}' && --depth === 0) end = i + 1;
    }
    Object.assign(process.env, { NIX_ADMIN_PASSWORD: 'a1', NIX_DEVELOPER_PASSWORD: 'd2', NIX_READER_PASSWORD: 'r3', NIX_SERVICE_PASSWORD: 's4' });
    const server = await startNatsServer({ config: body.slice(start, end) });
    try {
      const env = { NATS_URL: server.url, NATS_USER: 'cim-domain-nix', NATS_PASSWORD: 's4', NATS_INBOX_PREFIX: '_INBOX_cim_domain_nix', NIX_DOMAIN_PREFIX: 'nix', NIX_REPLICAS: '1' };
      const settings: FleetSettings = { prefix: 'nix', partitions: 8, leaseMs: 3_000, env };
      const members = await Promise.all(['s1', 's2'].map((l) => startMember({ urls: [server.url] }, settings, l)));
      const admin = await connect({ servers: server.url, user: 'admin', pass: 'a1', inboxPrefix: '_INBOX_admin' });
      await waitSpread(admin, settings, members.map((m) => m.instanceId));
      await admin.close();
      const developer = await connect({ servers: server.url, user: 'developer', pass: 'd2', inboxPrefix: '_INBOX_developer' });
      const replies = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          developer.request('nix.cmd.module.create', JSON.stringify({ name: `role${i}`, module: {} }), { timeout: 10_000 }).then((m) => m.json<Record<string, unknown>>()),
        ),
      );
      await developer.close();
      expect(replies.filter((r) => r['status'] !== 'ok')).toEqual([]);
      await Promise.all(members.map((m) => m.proc.stop()));
      const forwarded = members.reduce((n, m) => n + Number((stoppedCounters(m.proc)?.['router'] as Record<string, number>)['forwarded']), 0);
      expect(forwarded).toBeGreaterThan(0);
      for (const m of members) expect(m.proc.lines.filter((l) => String(l.msg).includes('permission violation'))).toEqual([]);
    } finally {
      await server.dispose();
    }
  });
});
