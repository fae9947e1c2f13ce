/**
 * The cluster layer follows a replaced NATS connection (the service's connection supervisor
 * opens a fresh one after the client closed the old): requests and the watch are bound again,
 * leases are kept, and later changes are still seen.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startCluster } from '../../../src/cluster/index.js';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { uniquePrefix } from './support.js';

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.dispose();
});

describe('cluster over a replaced connection', () => {
  it('keeps its leases and its view when the connection is replaced', async () => {
    const prefix = uniquePrefix('conn');
    let current: NatsConnection = await connect({ servers: server.url });
    const a = await startCluster({ nc: () => current, prefix, instanceId: 'a', partitions: 8, leaseMs: 900 });
    const all = (): boolean => Array.from({ length: 8 }, (_, p) => a.owns(p)).every(Boolean);
    await expect.poll(all, { timeout: 5_000, interval: 10 }).toBe(true);
    const old = current;
    current = await connect({ servers: server.url });
    await old.close();
    const beats = a.stats().heartbeats;
    await expect.poll(() => a.stats().heartbeats >= beats + 3 && all(), { timeout: 5_000, interval: 10 }).toBe(true);
    expect(a.stats().claims_lost).toBe(0);
    // Its watch works on the new connection: it sees b join and hands b half the partitions.
    const ncb = await connect({ servers: server.url });
    const b = await startCluster({ nc: ncb, prefix, instanceId: 'b', partitions: 8, leaseMs: 900 });
    await expect
      .poll(() => Array.from({ length: 8 }, (_, p) => (a.owns(p) ? 'a' : b.owns(p) ? 'b' : '-')).join(''), { timeout: 5_000, interval: 10 })
      .toMatch(/^(?=(?:[^a]*a){4}[^a]*$)[ab]{8}$/);
    expect(a.stats().watch_restarts).toBeGreaterThan(0);
    await b.leave();
    await a.leave();
    await ncb.close();
    await current.close();
  });
});
