/**
 * One correlation ID across several aggregates (a "deploy": a module, an overlay, a host
 * configuration that uses them, its activation), seen in the inspector's sequence view with
 * every aggregate by name.
 * Also renders the README's screenshot: with UPDATE_SCREENSHOTS=1 it is written to
 * docs/inspector.png, otherwise to test-results/inspector/readme.png.
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInspector } from '../../scripts/build-inspector.mjs';
import { request } from '../support/collect.js';
import { startNatsServer, type NatsServer } from '../support/natsServer.js';
import { startTestService, type TestService } from '../support/service.js';
import { freePort, isLoopback, launchBrowser, type Browser } from './browser.js';

let server: NatsServer;
let svc: TestService;
let browser: Browser;
let url: string;

beforeAll(async () => {
  await buildInspector();
  // No websocket: the page goes through the service's relay (the default).
  server = await startNatsServer();
  const port = await freePort();
  svc = await startTestService(server, { prefix: 'nix', env: { INSPECTOR_PORT: String(port) } });
  url = `http://127.0.0.1:${port}/`;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await svc?.stop();
  await server?.dispose();
});

async function command(
  subject: string,
  body: Record<string, unknown>,
  correlation: string,
  causation?: string,
): Promise<Record<string, unknown>> {
  const message_id = randomUUID();
  const { data } = await request(
    svc.client,
    `${svc.prefix}.cmd.${subject}`,
    {
      ...body,
      identity: { message_id, correlation_id: correlation, causation_id: causation ?? message_id },
    },
    { timeout: 30_000 },
  ); // an activation waits for its configuration's files, slow on a loaded machine
  expect(data['status'], JSON.stringify(data)).toBe('ok');
  return data;
}

describe('inspector sequence view', () => {
  it('follows one correlation ID across every aggregate it touched', async () => {
    const { page } = browser;
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });

    // Some background activity, then the deploy under one correlation ID.
    for (const name of ['base', 'monitoring', 'users']) await command('module.create', { name, module: {} }, randomUUID());
    await command('overlay.create', { name: 'patches', overlay: {} }, randomUUID());
    await command('config.create', { name: 'builder', configuration: { hostname: 'builder' } }, randomUUID());
    const deploy = randomUUID();
    const web = await command('module.create', { name: 'web', module: { config: { 'services.nginx.enable': true } } }, deploy);
    await command(
      'overlay.create',
      { name: 'tools', overlay: { additions: { hello: 'pkgs.hello' } } },
      deploy,
      web['command_id'] as string,
    );
    const host = await command(
      'config.create',
      { name: 'host1', configuration: { hostname: 'host1', modules: ['web'], overlays: ['tools'] } },
      deploy,
    );
    await command('config.activate', { name: 'host1', activation_type: 'switch' }, deploy, host['command_id'] as string);

    const row = page.locator(`[data-key="config:${host['aggregate_id'] as string}"]`);
    await row.waitFor({ timeout: 10_000 });
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 20_000 }).toBe('activated');
    await row.click();
    await expect.poll(() => page.locator('#statechart .state.current').getAttribute('data-state')).toBe('activated');

    await page.locator('#search').fill(deploy);
    await page.locator('#tab-sequence').waitFor();
    await expect.poll(() => page.locator('svg.sequence').getAttribute('aria-label')).toContain(deploy);
    const lanes = await page.locator('svg.sequence g.lane text').allTextContents();
    // Each aggregate's lane is named by its natural key.
    expect(lanes.filter((l) => /^(module|overlay|config) /.test(l)).sort()).toEqual(['config host1', 'module web', 'overlay tools']);
    expect(lanes).toContain('client (NATS)');
    expect(lanes).toContain('event store');
    const labels = (await page.locator('svg.sequence g.msg text').allTextContents()).join('\n');
    for (const fact of ['ModuleCreated', 'OverlayCreated', 'ConfigCreated', 'ConfigActivated']) expect(labels).toContain(fact);
    await page.locator('#search').fill('');
    await page.locator('#tab-sequence').click();

    const dir = process.env['UPDATE_SCREENSHOTS'] ? 'docs' : join('test-results', 'inspector');
    await mkdir(dir, { recursive: true });
    await page.mouse.move(1, 1);
    await page.screenshot({ path: join(dir, process.env['UPDATE_SCREENSHOTS'] ? 'inspector.png' : 'readme.png') });
    expect(browser.requests.filter((u) => !isLoopback(u))).toEqual([]);
    expect(browser.errors).toEqual([]);
  });
});
