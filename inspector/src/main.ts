/**
 * The cim-domain-nix inspector page, composed: read the service's page configuration and
 * machine definitions (with the token, when the endpoint wants one), open the session the
 * configuration names (the service's relay, or a NATS websocket), and hand the stores to the
 * views. All state lives in the objects made here; nothing at module level changes.
 *
 * Everything comes from the page's own origin (and, in websocket mode, the NATS websocket).
 */
import { INSPECTOR_PATHS, MachinesDocument, PageConfig } from '../../src/inspection/wire.js';
import { Api, AuthRequired } from './session/api.js';
import { openSession } from './session/open.js';
import { Inspector } from './state/inspector.js';
import { Store } from './state/store.js';
import { UiStore } from './state/ui.js';
import { App } from './views/app.js';
import { h, replace } from './views/dom.js';
import { failure, tokenPrompt } from './views/emptyState.js';

function sessionStore(): Storage | undefined {
  try {
    return window.sessionStorage;
  } catch {
    return undefined;
  }
}

async function boot(api: Api, body: HTMLElement): Promise<void> {
  let config: PageConfig;
  let machines: MachinesDocument;
  try {
    const [c, m] = await Promise.all([api.getJson(INSPECTOR_PATHS.config), api.getJson(INSPECTOR_PATHS.machines)]);
    config = PageConfig.parse(c);
    machines = MachinesDocument.parse(m);
  } catch (e) {
    if (!(e instanceof AuthRequired)) throw e;
    // The endpoint wants its token: ask, then start again with it.
    if (e.refused) api.setToken(undefined);
    const main = h('main', { class: 'main', id: 'main' });
    replace(body, main);
    replace(
      main,
      tokenPrompt(e.refused, (token) => {
        api.setToken(token);
        boot(api, body).catch((err: unknown) => replace(body, failure((err as Error).message)));
      }),
    );
    return;
  }
  replace(body);
  document.title = `cim-domain-nix inspector (${config.prefix})`;
  const store = new Store();
  const ui = new UiStore();
  const inspector = new Inspector(config, machines, openSession(config, api), store, ui);
  const app = new App(inspector, body);
  app.header.render();
  app.renderMain();
  await inspector.start();
  if (ui.state.link === 'unauthorized') {
    inspector.stop();
    api.setToken(undefined);
    await boot(api, body);
    return;
  }
  app.renderMain();
  body.setAttribute('data-ready', 'true');
}

function start(): void {
  const api = Api.fromLocation(window.location, window.history, sessionStore());
  boot(api, document.body).catch((e: unknown) => replace(document.body, failure((e as Error).message)));
}

start();
