/**
 * The inspector with several instances (SPEC §9, issue 16): two service processes on a
 * three-node NATS cluster, the page served by one of them in relay mode. The header counts
 * the instances (each instance inspects its own actors); the cluster view lists both with their partitions, and every partition with
 * its owner as the cluster bucket records it; an actor running on the other instance is
 * listed with its owner, its head names that instance, and its context comes from it.
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInspector } from '../../scripts/build-inspector.mjs';
import { partitionOf } from '../../src/cluster/index.js';
import { namedId } from '../../src/domain/ids.js';
import { startNatsCluster, type NatsCluster } from '../support/natsCluster.js';
import { uniquePrefix } from '../support/service.js';
import { killAllServiceProcesses } from '../support/serviceProcess.js';
import { clusterClient, owners, startMember, waitSpread, type FleetSettings, type Member } from '../support/serviceFleet.js';
import { freePort, launchBrowser, type Browser } from './browser.js';

let nats: NatsCluster;
let paged: Member;
let other: Member;
let nc: NatsConnection;
let browser: Browser;
let base: string;
let partitionOwner = new Map<number, string>();
const settings: FleetSettings = { prefix: uniquePrefix('insp'), partitions: 8, leaseMs: 3_000 };

beforeAll(async () => {
  await buildInspector();
  nats = await startNatsCluster();
  const port = await freePort();
  const otherPort = await freePort();
  // Every instance inspects its actors (and serves a page of its own); the browser opens one.
  [paged, other] = await Promise.all([
    startMember(nats, { ...settings, env: { INSPECTOR_ENABLED: 'true', INSPECTOR_PORT: String(port) } }, 'p'),
    startMember(nats, { ...settings, env: { INSPECTOR_ENABLED: 'true', INSPECTOR_PORT: String(otherPort) } }, 'o'),
  ]);
  nc = await clusterClient(nats);
  partitionOwner = owners(await waitSpread(nc, settings, [paged.instanceId, other.instanceId]));
  base = `http://127.0.0.1:${port}`;
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await nc?.close();
  await Promise.all([paged?.proc.stop(), other?.proc.stop()]);
  await killAllServiceProcesses();
  await nats?.dispose();
});

/** A module name whose aggregate lands in a partition owned by `instance` now. */
function nameOwnedBy(instance: string): string {
  for (let i = 0; i < 10_000; i++) {
    const name = `m-${i}-${randomUUID().slice(0, 6)}`;
    if (partitionOwner.get(partitionOf(namedId('module', name), settings.partitions)) === instance) return name;
  }
  throw new Error(`no name lands on ${instance}`);
}

async function create(name: string): Promise<string> {
  const id = randomUUID();
  const reply = (
    await nc.request(`${settings.prefix}.cmd.module.create`, JSON.stringify({ name, module: { config: { 'x.enable': true } }, identity: { message_id: id, correlation_id: id } }), {
      timeout: 30_000,
    })
  ).json<Record<string, unknown>>();
  expect(reply['status'], JSON.stringify(reply)).toBe('ok');
  return reply['aggregate_id'] as string;
}

describe('inspector with several instances', () => {
  it('counts the instances and shows every partition with its owner in the cluster view', async () => {
    const { page } = browser;
    await page.goto(base);
    await expect.poll(() => page.locator('#ws-status').getAttribute('class'), { timeout: 20_000 }).toContain('ok');
    const button = page.locator('#cluster-button');
    await expect.poll(() => button.getAttribute('data-count'), { timeout: 20_000 }).toBe('2');
    await button.click();
    await page.locator('#cluster-view').waitFor();
    for (const m of [paged, other]) {
      const row = page.locator(`#cluster-members tr[data-instance="${m.instanceId}"]`);
      await expect.poll(() => row.count()).toBe(1);
      const owned = [...partitionOwner.values()].filter((o) => o === m.instanceId).length;
      expect(await row.locator('td[data-owned]').getAttribute('data-owned')).toBe(String(owned));
    }
    const cells = page.locator('#partition-grid [data-partition]');
    expect(await cells.count()).toBe(settings.partitions);
    for (const [p, owner] of partitionOwner) {
      expect(await page.locator(`#partition-grid [data-partition="${p}"]`).getAttribute('data-owner')).toBe(owner);
    }
    await page.locator('#cluster-close').click();
    await expect.poll(() => page.locator('#cluster-view').count()).toBe(0);
  });

  it('lists an actor of the other instance with its owner, names it in the head, and loads its context from it', async () => {
    const { page } = browser;
    const mineName = nameOwnedBy(paged.instanceId);
    const theirsName = nameOwnedBy(other.instanceId);
    const mine = await create(mineName);
    const theirs = await create(theirsName);
    const theirRow = page.locator(`[data-key="module:${theirs}"]`);
    const myRow = page.locator(`[data-key="module:${mine}"]`);
    await theirRow.waitFor({ timeout: 15_000 });
    await myRow.waitFor({ timeout: 15_000 });
    await expect.poll(() => theirRow.getAttribute('data-instance')).toBe(other.instanceId);
    expect(await myRow.getAttribute('data-instance')).toBe(paged.instanceId);
    // Two instances report: each row names its owner.
    await expect.poll(() => theirRow.locator('.owner-chip').getAttribute('title')).toBe(`running on instance ${other.instanceId}`);
    await theirRow.click();
    await expect.poll(() => page.locator('#actor-name').textContent()).toBe(theirsName);
    expect(await page.locator('#actor-instance').textContent()).toBe(`on ${other.instanceId.slice(0, 8)}`);
    // The context lives in the other instance's actor: the request names it, and it answers.
    await page.locator('#tab-context').click();
    await expect.poll(async () => (await page.locator('#context-json').textContent({ timeout: 1_000 }).catch(() => '')) ?? '', { timeout: 15_000 }).toContain(theirsName);
    await myRow.click();
    expect(await page.locator('#actor-instance').count()).toBe(0);
    await expect.poll(async () => (await page.locator('#context-json').textContent({ timeout: 1_000 }).catch(() => '')) ?? '', { timeout: 15_000 }).toContain(mineName);
    expect(browser.errors).toEqual([]);
  });
});
