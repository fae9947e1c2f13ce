/**
 * The inspector's layout, measured from the DOM (element boxes from getBoundingClientRect,
 * no pixels compared): statechart edge labels never overlap each other or a state box and
 * never leave the chart, for every machine's chart with and without the replay-only paths;
 * timeline rows keep their columns, each cell at least its minimum width, in the
 * single-actor and the all-actors view at 1280×800 and 1024×768.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInspector } from '../../scripts/build-inspector.mjs';
import { request } from '../support/collect.js';
import { startNatsServer, type NatsServer } from '../support/natsServer.js';
import { startTestService, type TestService } from '../support/service.js';
import { freePort, launchBrowser, type Browser } from './browser.js';

let server: NatsServer;
let svc: TestService;
let browser: Browser;
let url: string;

beforeAll(async () => {
  await buildInspector();
  server = await startNatsServer({ websocket: true });
  const port = await freePort();
  svc = await startTestService(server, { env: { INSPECTOR_PORT: String(port), NATS_WS_URL: server.wsUrl! } });
  url = `http://127.0.0.1:${port}/`;
  browser = await launchBrowser();
  await browser.page.goto(url);
  await browser.page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
});

afterAll(async () => {
  await browser?.close();
  await svc?.stop();
  await server?.dispose();
});

interface Box {
  what: string;
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Boxes of the chart on screen: the svg, every state box, every edge label (its text and background as one box). */
async function chartBoxes(): Promise<{ chart: Box; states: Box[]; labels: Box[] }> {
  return browser.page.evaluate(() => {
    const box = (what: string, r: DOMRect): Box => ({ what, left: r.left, top: r.top, right: r.right, bottom: r.bottom });
    const svg = document.querySelector('#statechart svg.chart')!;
    const states = Array.from(svg.querySelectorAll('g.state')).map((g) =>
      box(`state ${g.getAttribute('data-state')}`, g.querySelector('rect')!.getBoundingClientRect()),
    );
    const groups = new Map<Element, Box>();
    for (const el of Array.from(svg.querySelectorAll('.edge-label, .edge-label-bg'))) {
      const g = el.parentElement!;
      const r = el.getBoundingClientRect();
      const name = `label "${g.querySelector('.edge-label')?.textContent ?? ''}" (${g.querySelector('title')?.textContent ?? ''})`;
      const b = groups.get(g);
      groups.set(
        g,
        b
          ? {
              what: name,
              left: Math.min(b.left, r.left),
              top: Math.min(b.top, r.top),
              right: Math.max(b.right, r.right),
              bottom: Math.max(b.bottom, r.bottom),
            }
          : box(name, r),
      );
    }
    return { chart: box('chart', svg.getBoundingClientRect()), states, labels: [...groups.values()] };
  });
}

/** Do two boxes overlap by more than a hair (touching edges do not count)? */
const overlaps = (a: Box, b: Box): boolean =>
  Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;

/** Every layout fault of the chart on screen, in words. */
async function chartFaults(name: string): Promise<string[]> {
  const { chart, states, labels } = await chartBoxes();
  const faults: string[] = [];
  // Never clipped: the whole chart is in view in its panel, nothing hidden behind a scroll bar.
  const panel = await browser.page.locator('#statechart').evaluate((el) => ({
    scrollWidth: el.scrollWidth,
    clientWidth: el.clientWidth,
    scrollHeight: el.scrollHeight,
    clientHeight: el.clientHeight,
  }));
  if (panel.scrollWidth > panel.clientWidth + 1 || panel.scrollHeight > panel.clientHeight + 1)
    faults.push(
      `${name}: the chart (${panel.scrollWidth}×${panel.scrollHeight}) is cut by its panel (${panel.clientWidth}×${panel.clientHeight})`,
    );
  labels.forEach((a, i) => {
    for (const b of labels.slice(i + 1)) if (overlaps(a, b)) faults.push(`${name}: ${a.what} overlaps ${b.what}`);
    for (const s of states) if (overlaps(a, s)) faults.push(`${name}: ${a.what} overlaps ${s.what}`);
    if (a.left < chart.left - 0.5 || a.right > chart.right + 0.5 || a.top < chart.top - 0.5 || a.bottom > chart.bottom + 0.5)
      faults.push(`${name}: ${a.what} extends past the chart`);
  });
  return faults;
}

/** The chart of the selected actor, with and without the replay-only paths. */
async function bothCharts(name: string): Promise<{ faults: string[]; labels: number }> {
  const { page } = browser;
  await page.locator('#statechart svg.chart').waitFor();
  const faults = await chartFaults(name);
  let labels = (await chartBoxes()).labels.length;
  const replay = page.locator('#show-replay');
  if ((await replay.count()) > 0) {
    await replay.check();
    await expect.poll(() => page.locator('#show-replay').isChecked()).toBe(true);
    faults.push(...(await chartFaults(`${name} with replay-only paths`)));
    labels += (await chartBoxes()).labels.length;
    await page.locator('#show-replay').uncheck();
  }
  return { faults, labels };
}

describe('inspector layout', () => {
  it('places every statechart edge label clear of the other labels and the state boxes, inside the chart', async () => {
    const { page } = browser;
    // One actor of each kind (synthetic records, as the service publishes them): each draws its kind's chart.
    const kinds = ['flake', 'package', 'module', 'overlay', 'config'] as const;
    const ids = Object.fromEntries(kinds.map((k) => [k, randomUUID()]));
    svc.client.publish(
      `${svc.prefix}.inspect.events`,
      JSON.stringify({
        v: 1,
        instance: 'layout',
        seq: 1,
        at: Date.now(),
        dropped: 0,
        records: kinds.map((k) => ({ k: 'spawned', at: Date.now(), actor: { type: k, id: ids[k] }, state: 'none', version: 0 })),
      }),
    );
    await svc.client.flush();
    const faults: string[] = [];
    for (const viewport of [
      { width: 1280, height: 800 },
      { width: 1024, height: 768 },
    ]) {
      await page.setViewportSize(viewport);
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      for (const kind of kinds) {
        const row = page.locator(`[data-key="${kind}:${ids[kind]}"]`);
        await row.waitFor({ timeout: 10_000 });
        await row.click();
        await expect.poll(() => page.locator('#statechart').getAttribute('data-machine')).toBe(kind);
        const { faults: f, labels } = await bothCharts(`${kind} chart at ${viewport.width}×${viewport.height}`);
        expect(labels, `${kind} chart has edge labels`).toBeGreaterThan(0);
        faults.push(...f);
      }
      for (const system of ['reconnection', 'publisher', 'supervisor']) {
        await page.locator(`[data-system="${system}"]`).click();
        await expect.poll(() => page.locator('#statechart').getAttribute('data-machine')).toBe(system);
        faults.push(...(await bothCharts(`${system} chart at ${viewport.width}×${viewport.height}`)).faults);
      }
    }
    expect(faults).toEqual([]);
  });

  it('keeps every timeline cell at its minimum width, one actor or all, at 1280×800 and 1024×768', async () => {
    const { page } = browser;
    const correlation = randomUUID();
    const send = async (action: string, body: Record<string, unknown>): Promise<Record<string, unknown>> => {
      const [agg, act] = action.split('.');
      const { data } = await request(svc.client, `${svc.prefix}.cmd.${agg}.${act}`, {
        ...body,
        identity: { message_id: randomUUID(), correlation_id: correlation },
      });
      expect(data['status'], JSON.stringify(data)).toBe('ok');
      return data;
    };
    const created = await send('config.create', { name: 'layout-host', configuration: { hostname: 'layout-host' } });
    await send('config.activate', { name: 'layout-host', activation_type: 'test' });
    await send('config.activate', { name: 'layout-host', activation_type: 'switch' });
    const row = page.locator(`[data-key="config:${created['aggregate_id'] as string}"]`);
    await row.waitFor({ timeout: 10_000 });
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 20_000 }).toBe('activated');
    await row.click();
    await page.locator('#tab-timeline').click();
    await expect.poll(() => page.locator('#tab-panel li.tl').count()).toBeGreaterThan(8);

    /** Minimum widths (px) of the cells, by class; a cell's content must also fit unless it may end in an ellipsis (text, actor name). */
    const MIN: Record<string, number> = { time: 80, actor: 100, icon: 12, text: 200, chip: 60 };
    const faults: string[] = [];
    for (const viewport of [
      { width: 1280, height: 800 },
      { width: 1024, height: 768 },
    ]) {
      await page.setViewportSize(viewport);
      for (const all of [false, true]) {
        if ((await page.locator('#all-actors').isChecked()) !== all) await page.locator('#all-actors').setChecked(all);
        await expect.poll(() => page.locator('#all-actors').isChecked()).toBe(all);
        const view = `${all ? 'all actors' : 'one actor'} at ${viewport.width}×${viewport.height}`;
        // The page redraws after a resize (on the next frame): measure after it.
        await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
        const rows = await page.evaluate(() =>
          Array.from(document.querySelectorAll('#tab-panel li.tl')).map((li) =>
            Array.from(li.children).map((c) => {
              const r = c.getBoundingClientRect();
              return {
                cls: ['time', 'actor', 'icon', 'text', 'chip'].find((k) => c.classList.contains(k)) ?? c.tagName.toLowerCase(),
                left: r.left,
                width: r.width,
                fits: c.scrollWidth <= c.clientWidth + 1,
              };
            }),
          ),
        );
        expect(rows.length, view).toBeGreaterThan(0);
        const lefts = new Map<string, Set<number>>();
        for (const cells of rows) {
          for (const cell of cells) {
            const min = MIN[cell.cls];
            if (min === undefined) continue;
            if (cell.width < min) faults.push(`${view}: ${cell.cls} cell is ${cell.width.toFixed(0)} px wide (minimum ${min})`);
            if (cell.cls !== 'text' && cell.cls !== 'actor' && !cell.fits) faults.push(`${view}: ${cell.cls} cell cuts its content`);
            if (cell.cls === 'chip' && cell.width > 140) faults.push(`${view}: correlation chip stretched to ${cell.width.toFixed(0)} px`);
            const set = lefts.get(cell.cls) ?? new Set<number>();
            set.add(Math.round(cell.left));
            lefts.set(cell.cls, set);
          }
        }
        for (const [cls, set] of lefts)
          if (cls !== 'chip' && set.size > 1) faults.push(`${view}: the ${cls} cells do not line up (${[...set].join(', ')})`);
        if (all) expect(lefts.has('actor'), view).toBe(true);
      }
    }
    expect([...new Set(faults)]).toEqual([]);
  });
});
