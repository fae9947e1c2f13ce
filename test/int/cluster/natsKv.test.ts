/**
 * NATS JetStream KV (nats-server 2.9.10) against the cluster KV port contract, plus how the
 * port reports replica settings the server cannot honour.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { ClusterConfigError, ensureReplicas, natsKvBuckets } from '../../../src/cluster/index.js';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { kvContract } from '../../unit/cluster/kvContract.js';

let server: NatsServer;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
});

afterAll(async () => {
  await nc?.close();
  await server?.dispose();
});

let n = 0;
kvContract('NATS JetStream KV', () => ({
  bucket: () => natsKvBuckets(nc).open(`CONTRACT_${process.pid}_${++n}`, { replicas: 1 }),
  eventually: (check) =>
    expect
      .poll(() => (check(), true), { timeout: 5_000, interval: 10 })
      .toBe(true)
      .then(() => undefined),
}));

describe('NATS KV buckets on a single server', () => {
  it('refuses replicas > 1 with a message that says to set NIX_REPLICAS=1 or run a cluster', async () => {
    const err = await natsKvBuckets(nc)
      .open(`SINGLE_${process.pid}`, { replicas: 3 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterConfigError);
    expect((err as Error).message).toMatch(/not part of a cluster.*Set NIX_REPLICAS=1/s);
  });

  it('refuses to "update" a stream to R3 on a single server (which nats-server 2.9 would accept and never replicate)', async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: `SOLO_${process.pid}`, subjects: [`solo${process.pid}.>`], num_replicas: 1 });
    const err = await ensureReplicas(jsm, `SOLO_${process.pid}`, 3).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterConfigError);
    expect((await jsm.streams.info(`SOLO_${process.pid}`)).config.num_replicas).toBe(1);
    expect(await ensureReplicas(jsm, `SOLO_${process.pid}`, 1)).toMatchObject({ changed: false, from: 1, to: 1 });
  });
});
