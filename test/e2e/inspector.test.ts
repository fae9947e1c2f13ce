/**
 * The inspector end to end in websocket mode (the page connects to NATS itself, as it does
 * with the embedded server or NATS_WS_URL; relay mode: inspectorSecured.test.ts): a real
 * nats-server with websocket, the real service with the inspector on, the built page in real
 * Chromium. Commands go over NATS; the page must show the actor by name, find it by name,
 * move its highlighted state, tie the command to its events by correlation ID,
 * step back through history (also of a passivated aggregate), show the system actors, stay
 * responsive with 10,000 actors, and never talk to anything but loopback.
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

const ARTIFACTS = join(process.cwd(), 'test-results', 'inspector');

let server: NatsServer;
let svc: TestService;
let browser: Browser;
let url: string;

beforeAll(async () => {
  await buildInspector();
  await mkdir(ARTIFACTS, { recursive: true });
  server = await startNatsServer({ websocket: true });
  const port = await freePort();
  svc = await startTestService(server, {
    env: { INSPECTOR_PORT: String(port), NATS_WS_URL: server.wsUrl!, NIX_PASSIVATION_IDLE_MS: '4000' },
  });
  url = `http://127.0.0.1:${port}/`;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await svc?.stop();
  await server?.dispose();
});

async function command(
  action: string,
  body: Record<string, unknown>,
  correlation = randomUUID(),
): Promise<{ reply: Record<string, unknown>; correlation: string }> {
  const identity = { message_id: randomUUID(), correlation_id: correlation };
  const [agg, act] = action.split('.');
  const { data } = await request(svc.client, `${svc.prefix}.cmd.${agg}.${act}`, { ...body, identity });
  return { reply: data, correlation };
}

const shot = (name: string): Promise<Buffer> => browser.page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });

describe('inspector page', () => {
  it('opens on the printed URL and shows how to send a first command', async () => {
    const { page } = browser;
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    const empty = page.locator('#empty-state');
    await expect.poll(() => empty.textContent()).toContain(`nats req ${svc.prefix}.cmd.module.create`);
    await expect.poll(() => page.locator('#ws-status').textContent()).toContain('connected');
    await shot('01-empty');
  });

  it('shows the system actors with their states and the connection status', async () => {
    const { page } = browser;
    await expect.poll(() => page.locator('[data-system="reconnection"]').getAttribute('data-state')).toBe('connected');
    await expect.poll(() => page.locator('[data-system="publisher"]').getAttribute('data-state')).toBe('ready');
    await expect.poll(() => page.locator('[data-system="supervisor"]').getAttribute('data-state')).toBe('running');
    await page.locator('[data-system="reconnection"]').click();
    await expect.poll(() => page.locator('#statechart .state.current').getAttribute('data-state')).toBe('connected');
  });

  let moduleId = '';
  let createCorrelation = '';
  let deleteCorrelation = '';

  it('lists a new aggregate, highlights its state and follows it as commands arrive', async () => {
    const { page } = browser;
    const created = await command('module.create', { name: 'web', module: { config: { 'services.nginx.enable': true } } });
    expect(created.reply['status']).toBe('ok');
    moduleId = created.reply['aggregate_id'] as string;
    createCorrelation = created.correlation;

    const row = page.locator(`[data-key="module:${moduleId}"]`);
    await row.waitFor({ timeout: 10_000 });
    await expect.poll(() => row.getAttribute('data-state')).toBe('active');
    // Listed by its name (the natural key), with the start of its ID under it.
    await expect.poll(() => row.locator('.name').textContent()).toBe('web');
    expect(await row.locator('.sub').textContent()).toContain(moduleId.slice(0, 8));
    await row.click();
    await expect.poll(() => page.locator('#actor-name').textContent()).toBe('web');
    expect(await page.locator('#actor-id').textContent()).toBe(moduleId);
    // Reported by the instance the page is connected to: no owner shown.
    expect(await page.locator('#actor-instance').count()).toBe(0);
    await expect.poll(() => page.locator('#statechart .state.current').getAttribute('data-state')).toBe('active');
    const accepts = await page.locator('.commands .accepts li').allTextContents();
    expect(accepts).toEqual(expect.arrayContaining(['module.update', 'module.delete']));
    expect(accepts).not.toContain('module.create');

    const deleted = await command('module.delete', { name: 'web' });
    expect(deleted.reply['status']).toBe('ok');
    deleteCorrelation = deleted.correlation;
    await expect.poll(() => page.locator('#statechart .state.current').getAttribute('data-state')).toBe('deleted');
    await expect.poll(() => page.locator('#current-state').getAttribute('data-state')).toBe('deleted');
    await shot('02-deleted');
  });

  it('shows the command and its events with the same correlation ID in the timeline and the sequence view', async () => {
    const { page } = browser;
    await page.locator('#tab-timeline').click();
    const mine = page.locator(`#tab-panel li[data-correlation="${createCorrelation}"]`);
    await expect.poll(async () => (await mine.allTextContents()).join('\n')).toMatch(/module\.create/);
    await expect
      .poll(async () =>
        (await page.locator(`#tab-panel li[data-kind="stored"][data-correlation="${createCorrelation}"]`).allTextContents()).join('\n'),
      )
      .toMatch(/ModuleCreated #1/);
    await expect
      .poll(async () =>
        (await page.locator(`#tab-panel li[data-kind="reply"][data-correlation="${createCorrelation}"]`).allTextContents()).join('\n'),
      )
      .toMatch(/reply ok to module\.create/);
    // The delete has its own correlation: not in the create's chain.
    expect((await mine.allTextContents()).join('\n')).not.toMatch(/module\.delete/);

    await page.locator(`#tab-panel li[data-kind="stored"][data-correlation="${createCorrelation}"] button.chip`).first().click();
    const seq = page.locator('svg.sequence');
    await seq.waitFor();
    expect(await seq.getAttribute('aria-label')).toContain(createCorrelation);
    const kinds = await page.locator('svg.sequence g.msg').evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));
    expect(kinds).toEqual(expect.arrayContaining(['command', 'transition', 'stored', 'reply']));
    await shot('03-sequence');
  });

  it('steps back through the history with the slider to the earlier state', async () => {
    const { page } = browser;
    await page.locator('#tab-history').click();
    const slider = page.locator('#history-slider');
    await slider.waitFor();
    expect(await slider.getAttribute('max')).toBe('2');
    await expect.poll(() => page.locator('#history-state').getAttribute('data-state')).toBe('deleted');
    // Keyboard: one step back.
    await slider.focus();
    await page.keyboard.press('ArrowLeft');
    await expect.poll(() => page.locator('#history-state').getAttribute('data-state')).toBe('active');
    await expect.poll(() => page.locator('#statechart .state.past').getAttribute('data-state')).toBe('active');
    expect(await page.locator('#statechart .state.current').getAttribute('data-state')).toBe('deleted');
    await page.keyboard.press('Home');
    await expect.poll(() => page.locator('#history-state').getAttribute('data-state')).toBe('none');
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => page.locator('#history-state').getAttribute('data-state')).toBe('active');
    await shot('04-history');
  });

  it('loads the history of a passivated aggregate from the event store', async () => {
    const { page } = browser;
    const created = await command('overlay.create', { name: 'tools', overlay: {} });
    expect(created.reply['status']).toBe('ok');
    const id = created.reply['aggregate_id'] as string;
    const row = page.locator(`[data-key="overlay:${id}"]`);
    await row.waitFor({ timeout: 10_000 });
    // Idle for NIX_PASSIVATION_IDLE_MS: the service passivates it.
    await expect.poll(() => row.getAttribute('class'), { timeout: 20_000, interval: 250 }).toContain('passivated');
    await row.click();
    await page.locator('#tab-history').click();
    await expect.poll(() => page.locator('#history-state').getAttribute('data-state'), { timeout: 10_000 }).toBe('active');
    expect(await page.locator('#history-slider').getAttribute('max')).toBe('1');
  });

  it('finds an aggregate by its name in the search', async () => {
    const { page } = browser;
    await page.locator('#search').fill('WEB');
    await expect.poll(() => page.locator('#actor-list [role="option"]').count()).toBe(1);
    expect(await page.locator('#actor-list [role="option"]').getAttribute('data-key')).toBe(`module:${moduleId}`);
    await page.locator('#search').fill('tool');
    await expect.poll(() => page.locator('#actor-list [role="option"] .name').allTextContents()).toEqual(['tools']);
    // The service's list answers by name too (the page's search runs over it after a reload).
    const { data } = await request(svc.client, `${svc.prefix}.inspect.actors`, { query: 'web' });
    expect((data['actors'] as { id: string; name?: string }[]).map((a) => [a.id, a.name])).toEqual([[moduleId, 'web']]);
    await page.locator('#search').fill('');
  });

  it('is keyboard navigable: / searches, arrows move the selection', async () => {
    const { page } = browser;
    await page.locator('body').click({ position: { x: 700, y: 20 } });
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('search');
    await page.keyboard.type(moduleId.slice(0, 13));
    await expect.poll(() => page.locator('#actor-list [role="option"]').count()).toBe(1);
    await page.keyboard.press('ArrowDown'); // into the list
    await page.keyboard.press('ArrowDown'); // selects the first match
    await expect.poll(() => page.locator('#actor-list [aria-selected="true"]').getAttribute('data-key')).toBe(`module:${moduleId}`);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('actor-list');
    // The correlation ID of its last command finds the actor too.
    await page.keyboard.press('/');
    await page.keyboard.press('Escape');
    await page.keyboard.type(deleteCorrelation);
    await expect.poll(() => page.locator('#actor-list [role="option"]').getAttribute('data-key')).toBe(`module:${moduleId}`);
    await expect.poll(() => page.locator('#actor-list [role="option"]').count()).toBe(1);
    // Tab order reaches the views; arrow keys switch tabs.
    await page.locator('#tab-history').focus();
    await page.keyboard.press('ArrowLeft');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('tab-sequence');
    await page.locator('#search').focus();
    await page.keyboard.press('Escape');
  });

  it('stays responsive with 10,000 actors (virtualised list)', async () => {
    const { page } = browser;
    // The longest gap between two animation frames while the actors arrive: how long the page froze.
    await page.evaluate(() => {
      const w = window as unknown as { __longest: number; __last: number };
      w.__longest = 0;
      w.__last = performance.now();
      const tick = (t: number): void => {
        w.__longest = Math.max(w.__longest, t - w.__last);
        w.__last = t;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    const events = `${svc.prefix}.inspect.events`;
    const N = 10_000;
    const ids = Array.from({ length: N }, () => randomUUID());
    let seq = 0;
    const started = Date.now();
    for (let i = 0; i < N; i += 1_000) {
      const records = ids.slice(i, i + 1_000).flatMap((id) => [
        { k: 'spawned', at: Date.now(), actor: { type: 'package', id }, state: 'none', version: 0 },
        {
          k: 'state',
          at: Date.now(),
          actor: { type: 'package', id },
          state: 'building',
          version: 1,
          status: 'active',
          event: 'package.build',
        },
      ]);
      svc.client.publish(events, JSON.stringify({ v: 1, instance: 'synthetic', seq: ++seq, at: Date.now(), dropped: 0, records }));
    }
    await svc.client.flush();
    await expect.poll(() => page.locator('.actor-list .count').textContent(), { timeout: 30_000 }).toMatch(/^1000\d actors$/);
    const listed = Date.now() - started;
    // Live updates keep flowing while the user moves through the list with the keyboard.
    for (let round = 0; round < 10; round++) {
      const records = ids
        .slice(round * 500, round * 500 + 500)
        .map((id) => ({
          k: 'state',
          at: Date.now(),
          actor: { type: 'package', id },
          state: 'built',
          version: 2,
          status: 'active',
          event: 'package.built',
        }));
      svc.client.publish(events, JSON.stringify({ v: 1, instance: 'synthetic', seq: ++seq, at: Date.now(), dropped: 0, records }));
    }
    await svc.client.flush();
    await page.locator('#actor-list').focus();
    const t0 = Date.now();
    await page.keyboard.press('End');
    await expect.poll(() => page.locator('#actor-list [aria-selected="true"]').count()).toBe(1);
    const keyLatency = Date.now() - t0;
    const rendered = await page.locator('#actor-list .row').count();
    const longest = await page.evaluate(() => (window as unknown as { __longest: number }).__longest);
    await shot('05-ten-thousand');
    console.log(
      `inspector with ${N} actors: listed in ${listed} ms, End key answered in ${keyLatency} ms, longest frame gap ${Math.round(longest)} ms, ${rendered} row elements in the DOM`,
    );
    expect(rendered).toBeLessThan(120); // virtualised: only the visible rows exist
    expect(keyLatency).toBeLessThan(5_000);
    // These actors came from another instance's batches: the head names it.
    await page.keyboard.press('Home');
    await expect.poll(() => page.locator('#actor-list [aria-selected="true"]').getAttribute('data-key')).toMatch(/^package:/);
    await expect.poll(() => page.locator('#actor-instance').textContent()).toBe('on syntheti');
  });

  it('talks to nothing but loopback', () => {
    expect(browser.requests.length).toBeGreaterThan(3);
    const outside = browser.requests.filter((u) => !isLoopback(u));
    expect(outside).toEqual([]);
    expect(browser.requests.some((u) => u.startsWith('ws://127.0.0.1'))).toBe(true);
    expect(browser.errors).toEqual([]);
  });
});
