/**
 * The three-node example of the README ("Running several instances") really forms a NATS
 * cluster on which R3 buckets work: its config, with host names, ports and directories replaced
 * for loopback, runs three nodes, and the cluster layer opens an R3 bucket and owns partitions.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startCluster } from '../../../src/cluster/index.js';
import { startNatsCluster } from '../../support/natsCluster.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const from = readme.indexOf('\n## Running several instances\n');
const section = from === -1 ? '' : readme.slice(from, readme.indexOf('\n## ', from + 1));
const example = /```\n(# n1\.conf\n[\s\S]*?)```/.exec(section)?.[1] ?? '';

describe('README example: running several instances', () => {
  it('has the three-node config', () => {
    expect(example).toMatch(/server_name: n1/);
    expect(example).toMatch(/cluster \{/);
    expect(example).toMatch(/jetstream \{/);
  });

  it('forms a three-node cluster with JetStream on which the cluster layer runs an R3 bucket', async () => {
    const nats = await startNatsCluster({
      template: ({ name, routePort, routes, storeDir, port }) => {
        let text = example
          .replace(/\bn1\b(?!\.example)/g, name)
          .replace('listen: 0.0.0.0:4222', `listen: 127.0.0.1:${port}`)
          .replace('listen: 0.0.0.0:6222', `listen: 127.0.0.1:${routePort}`)
          .replace(/store_dir: \S+/, `store_dir: "${storeDir}"`);
        routes.forEach((url, i) => {
          text = text.replace(`nats-route://n${i + 1}.example.org:6222`, url);
        });
        return text;
      },
    });
    try {
      const nc = await connect({ servers: nats.urls });
      const cluster = await startCluster({ nc, prefix: 'readme', instanceId: 'a', partitions: 4, replicas: 3 });
      await expect.poll(() => [0, 1, 2, 3].every((p) => cluster.owns(p)), { timeout: 10_000 }).toBe(true);
      const info = await (await jetstreamManager(nc)).streams.info('KV_README_CLUSTER');
      expect(info.config.num_replicas).toBe(3);
      expect(info.cluster?.replicas?.length).toBe(2);
      await cluster.leave();
      await nc.close();
    } finally {
      await nats.dispose();
    }
  });
});
