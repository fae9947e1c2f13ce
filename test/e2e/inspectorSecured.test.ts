/**
 * The inspector on a secured deployment: a real nats-server with the roles of
 * deploy/nats-server.example.conf (authorization on, so no anonymous client and no anonymous
 * websocket), the service run as a process as its own `cim-domain-nix` user, the page bound to
 * an address that is not loopback with a bearer token. The browser has no NATS account: the
 * page reads the inspection stream and makes its requests through the service's relay. It
 * lists a new aggregate by name, finds it by name, and follows it through a state change;
 * the endpoint refuses requests without the token, and the relay refuses a command.
 */
import { randomUUID } from 'node:crypto';
import { connect, errors, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInspector } from '../../scripts/build-inspector.mjs';
import { startNatsServer, type NatsServer } from '../support/natsServer.js';
import { killAllServiceProcesses, startServiceProcess, type ServiceProcess } from '../support/serviceProcess.js';
import { freePort, launchBrowser, type Browser } from './browser.js';
import { exampleAuthorization, nonLoopbackAddress, PASSWORDS } from './roles.js';

const TOKEN = `e2e-${randomUUID()}`;
const NAME = `web-secured-${randomUUID().slice(0, 8)}`;

let server: NatsServer;
let svc: ServiceProcess;
let browser: Browser;
let developer: NatsConnection;
let admin: NatsConnection;
let base: string;
const address = nonLoopbackAddress();

beforeAll(async () => {
  await buildInspector();
  Object.assign(process.env, PASSWORDS); // the server reads them, as the example documents
  // A websocket listener too: under the same authorization, it takes no anonymous client.
  server = await startNatsServer({ websocket: true, config: await exampleAuthorization() });
  const port = await freePort();
  svc = await startServiceProcess({
    env: {
      NATS_URL: server.url,
      NATS_USER: 'cim-domain-nix',
      NATS_PASSWORD: PASSWORDS.NIX_SERVICE_PASSWORD,
      NATS_INBOX_PREFIX: '_INBOX_cim_domain_nix', // each role reads only its own inbox
      NIX_DOMAIN_PREFIX: 'nix', // the example's subjects assume the default prefix
      INSPECTOR_PORT: String(port),
      INSPECTOR_HOST: address.bind,
      INSPECTOR_TOKEN: TOKEN,
      LOG_LEVEL: 'info',
    },
  });
  await svc.waitForLog((l) => String(l.msg).startsWith('cim-domain-nix ready'), 60_000);
  base = `http://${address.reach}:${port}`;
  developer = await connect({ servers: server.url, user: 'developer', pass: PASSWORDS.NIX_DEVELOPER_PASSWORD, inboxPrefix: '_INBOX_developer' });
  admin = await connect({ servers: server.url, user: 'admin', pass: PASSWORDS.NIX_ADMIN_PASSWORD, inboxPrefix: '_INBOX_admin' });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await developer?.close();
  await admin?.close();
  await svc?.stop();
  await killAllServiceProcesses();
  await server?.dispose();
});

async function command(action: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const reply = await developer.request(
    `nix.cmd.${action}`,
    JSON.stringify({ ...body, identity: { message_id: randomUUID(), correlation_id: randomUUID() } }),
    {
      timeout: 30_000,
    },
  );
  return reply.json<Record<string, unknown>>();
}

describe('inspector on a secured deployment (roles of deploy/nats-server.example.conf)', () => {
  it('takes no anonymous NATS client: the page cannot use NATS itself', async () => {
    await expect(connect({ servers: server.url })).rejects.toBeInstanceOf(errors.AuthorizationError);
  });

  it('says at start that the page is bound off loopback and needs the token, and never logs the token', async () => {
    const line = await svc.waitForLog((l) => typeof l['inspector_url'] === 'string');
    expect(line).toMatchObject({ transport: 'relay', host: address.bind, token_required: true });
    expect(String(line.msg)).toContain('Authorization: Bearer <INSPECTOR_TOKEN>');
    expect(svc.stdout).not.toContain(TOKEN);
    expect(svc.stderr).not.toContain(TOKEN);
  });

  it(`refuses requests without the token on ${address.bind} (401) and answers them with it`, async () => {
    for (const path of ['/api/config.json', '/api/machines.json', '/api/stream']) {
      const none = await fetch(`${base}${path}`);
      expect(none.status, path).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
      await none.body?.cancel();
      const wrong = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${TOKEN}x` } });
      expect(wrong.status, path).toBe(401);
      await wrong.body?.cancel();
    }
    const post = await fetch(`${base}/api/request`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ subject: 'nix.inspect.actors', body: {} }),
    });
    expect(post.status).toBe(401);
    const ok = await fetch(`${base}/api/config.json`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ transport: 'relay', ws_url: null, prefix: 'nix' });
    const actors = await fetch(`${base}/api/request`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ subject: 'nix.inspect.actors', body: { limit: 10 } }),
    });
    expect(actors.status).toBe(200);
    expect(await actors.json()).toMatchObject({ total: expect.any(Number), actors: expect.any(Array) });
    // The page's static files hold no data: they load without the token, so the page can ask for it.
    expect((await fetch(`${base}/`)).status).toBe(200);
  });

  it('relays no command: a command subject is refused (403) and never reaches NATS', async () => {
    const seen: string[] = [];
    const sub = admin.subscribe('nix.cmd.module.>', {
      callback: (_e, m) => {
        seen.push(m.json<{ name: string }>().name);
      },
    });
    await admin.flush();
    for (const subject of ['nix.cmd.module.create', 'nix.cmd.config.activate', 'nix.inspect.>', 'nix.query.module.list', '$SRV.PING']) {
      const res = await fetch(`${base}/api/request`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ subject, body: { name: 'relayed-evil', module: {}, activation_type: 'switch' } }),
      });
      expect(res.status, subject).toBe(403);
      expect(await res.json()).toMatchObject({ status: 'error', code: 'forbidden' });
    }
    // A command sent by a developer after the refused one arrives: it is the only one.
    const created = await command('module.create', { name: 'after-refusal', module: {} });
    expect(created['status']).toBe('ok');
    await expect.poll(() => seen).toEqual(['after-refusal']);
    sub.unsubscribe();
    await svc.waitForLog((l) => l.msg === 'the inspector relay refused a subject that is not one of its read-only requests');
  });

  it('loads the page through the relay, lists a new aggregate by name, finds it by name and follows its state', async () => {
    const { page } = browser;
    await page.goto(`${base}/#token=${encodeURIComponent(TOKEN)}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    // The token leaves the address bar at once.
    expect(page.url()).toBe(`${base}/`);
    const link = page.locator('#ws-status');
    await expect.poll(() => link.textContent()).toBe('page ↔ service: connected');
    expect(await link.getAttribute('data-transport')).toBe('relay');
    await expect.poll(() => page.locator('[data-system="reconnection"]').getAttribute('data-state')).toBe('connected');

    const created = await command('module.create', { name: NAME, module: { config: { 'services.nginx.enable': true } } });
    expect(created['status']).toBe('ok');
    const id = created['aggregate_id'] as string;
    const row = page.locator(`#actor-list [data-key="module:${id}"]`);
    await row.waitFor({ timeout: 15_000 });
    await expect.poll(() => row.locator('.name').textContent()).toBe(NAME);

    // Search by name finds it, and only it.
    await page.locator('#search').fill(NAME);
    await expect.poll(() => page.locator('#actor-list [role="option"]').count()).toBe(1);
    await page.locator('#actor-list [role="option"]').click();
    await expect.poll(() => page.locator('#actor-name').textContent()).toBe(NAME);
    await expect.poll(() => page.locator('#current-state').getAttribute('data-state')).toBe('active');
    await expect.poll(() => page.locator('#statechart .state.current').getAttribute('data-state')).toBe('active');

    // The state change arrives through the relay.
    const deleted = await command('module.delete', { name: NAME });
    expect(deleted['status']).toBe('ok');
    await expect.poll(() => page.locator('#current-state').getAttribute('data-state'), { timeout: 15_000 }).toBe('deleted');
    await expect.poll(() => page.locator('#statechart .state.current').getAttribute('data-state')).toBe('deleted');

    // Its name in the timeline (all actors) and in the sequence diagram.
    await page.locator('#tab-timeline').click();
    await page.locator('#all-actors').check();
    await expect.poll(async () => (await page.locator('#tab-panel .tl .actor').allTextContents()).join('\n')).toContain(NAME);
    await page.locator('#tab-sequence').click();
    await expect
      .poll(async () => (await page.locator('svg.sequence g.lane text').allTextContents()).join('\n'))
      .toContain(`module ${NAME}`);

    // History through the relay too.
    await page.locator('#tab-history').click();
    await expect.poll(() => page.locator('#history-slider').getAttribute('max'), { timeout: 15_000 }).toBe('2');

    // Everything the page asked for went to the service's own endpoint: no NATS websocket, nothing else.
    expect(browser.requests.filter((u) => !u.startsWith(`${base}/`) && !u.startsWith('data:'))).toEqual([]);
    expect(browser.errors).toEqual([]);
  });

  it('asks for the token when the URL carries none, and opens with it', async () => {
    const page = await browser.context.newPage();
    try {
      await page.goto(`${base}/`);
      await page.locator('#token-prompt').waitFor();
      await page.locator('#token').fill('not-the-token-0123456789');
      await page.locator('#token-form button[type="submit"]').click();
      await expect.poll(() => page.locator('#token-prompt h2').textContent()).toBe('The token was refused');
      await page.locator('#token').fill(TOKEN);
      await page.locator('#token-form button[type="submit"]').click();
      await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
      await expect.poll(() => page.locator('#ws-status').textContent()).toBe('page ↔ service: connected');
    } finally {
      await page.close();
    }
  });

  it('does not start with the page off loopback and no token, and says what to set', async () => {
    const refused = await startServiceProcess({
      env: { NATS_URL: server.url, NIX_DOMAIN_PREFIX: 'nix', INSPECTOR_PORT: String(await freePort()), INSPECTOR_HOST: address.bind },
    });
    const exit = await refused.waitForExit(30_000);
    expect(exit.code).not.toBe(0);
    const said = refused.stdout + refused.stderr;
    expect(said).toContain('INSPECTOR_HOST');
    expect(said).toContain('INSPECTOR_TOKEN');
  });
});
