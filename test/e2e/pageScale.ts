/**
 * How many actors the inspector page handles while staying responsive: feeds it N actors
 * (synthetic records on `P.inspect.events`, as the service would send them), keeps updates
 * flowing, and measures how long the list takes to show them, the longest frame gap (how
 * long the page froze), how fast a key press is answered, and the page's JS heap.
 *
 *   npx tsx test/e2e/pageScale.ts [--counts 10000,25000,50000,100000] [--transport websocket|relay]
 *
 * `websocket`: the page connects to NATS over websocket; `relay`: through the service's
 * own endpoint (server-sent events over the service's NATS connection).
 *
 * A measurement, not a test. Needs the page built (`npm run inspector`).
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { buildInspector } from '../../scripts/build-inspector.mjs';
import { startNatsServer } from '../support/natsServer.js';
import { startTestService } from '../support/service.js';
import { freePort, launchBrowser } from './browser.js';

const { values } = parseArgs({
  options: { counts: { type: 'string', default: '10000,25000,50000,100000' }, transport: { type: 'string', default: 'websocket' } },
});
const COUNTS = values.counts.split(',').map(Number);
const RELAY = values.transport === 'relay';

/** Records the longest gap between two animation frames in `window.__longest`. */
const FRAME_WATCH = `(() => {
  window.__longest = 0;
  window.__last = performance.now();
  const tick = (t) => { window.__longest = Math.max(window.__longest, t - window.__last); window.__last = t; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
})()`;

async function main(): Promise<void> {
  await buildInspector();
  const server = await startNatsServer({ websocket: !RELAY });
  const rows: string[] = [
    '| actors | listed in (ms) | longest frame gap while loading (ms) | longest frame gap during 5,000 updates/s (ms) | key press answered in (ms) | JS heap (MiB) |',
    '|---|---|---|---|---|---|',
  ];
  try {
    for (const n of COUNTS) {
      const port = await freePort();
      const svc = await startTestService(server, {
        env: { INSPECTOR_PORT: String(port), ...(RELAY ? {} : { NATS_WS_URL: server.wsUrl! }) },
      });
      const browser = await launchBrowser();
      try {
        const { page } = browser;
        await page.goto(`http://127.0.0.1:${port}/`);
        await page.waitForSelector('body[data-ready="true"]');
        // A string, not a function: tsx would wrap a function with helpers the page lacks.
        await page.evaluate(FRAME_WATCH);
        const subject = `${svc.prefix}.inspect.events`;
        const ids = Array.from({ length: n }, () => randomUUID());
        const types = ['flake', 'package', 'module', 'overlay', 'config'] as const;
        let seq = 0;
        const publish = (records: unknown[]): void =>
          svc.client.publish(subject, JSON.stringify({ v: 1, instance: 'synthetic', seq: ++seq, at: Date.now(), dropped: 0, records }));
        const t0 = Date.now();
        for (let i = 0; i < n; i += 1_000) {
          publish(
            ids
              .slice(i, i + 1_000)
              .map((id, j) => ({ k: 'spawned', at: Date.now(), actor: { type: types[(i + j) % 5], id }, state: 'none', version: 0 })),
          );
        }
        await svc.client.flush();
        await page.waitForFunction(
          (count) => (document.querySelector('.actor-list .count')?.textContent ?? '').startsWith(`${count} `),
          n,
          { timeout: 120_000 },
        );
        const listed = Date.now() - t0;
        const loading = Number(await page.evaluate('window.__longest'));
        await page.evaluate('window.__longest = 0');
        // 5,000 state updates a second for 3 s while a key is pressed.
        const stop = Date.now() + 3_000;
        let k = 0;
        let keyMs = 0;
        const keys = (async () => {
          await page.locator('#actor-list').focus();
          const s = Date.now();
          await page.keyboard.press('End');
          await page.waitForSelector('#actor-list [aria-selected="true"]');
          keyMs = Date.now() - s;
        })();
        while (Date.now() < stop) {
          const batch = [];
          for (let j = 0; j < 500; j++, k++) {
            const id = ids[k % n]!;
            batch.push({
              k: 'state',
              at: Date.now(),
              actor: { type: types[(k % n) % 5], id },
              state: 'active',
              version: 1 + Math.floor(k / n),
              status: 'active',
              event: 'x.update',
              transitions: [],
              actions: [],
            });
          }
          publish(batch);
          await new Promise((r) => setTimeout(r, 100));
        }
        await keys;
        const updating = await page.evaluate(() => (window as unknown as { __longest: number }).__longest);
        const heap = await page.evaluate(
          () => ((performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0) / 1048576,
        );
        rows.push(
          `| ${n.toLocaleString('en')} | ${listed} | ${Math.round(loading)} | ${Math.round(updating)} | ${keyMs} | ${heap.toFixed(0)} |`,
        );
        process.stdout.write(rows.at(-1)! + '\n');
      } finally {
        await browser.close();
        await svc.stop();
      }
    }
  } finally {
    await server.dispose();
  }
  process.stdout.write(`\n${RELAY ? 'relay' : 'websocket'}\n${rows.join('\n')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
