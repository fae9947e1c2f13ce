/**
 * The inspector's web server: the built page (`inspector/dist`), two small JSON documents
 * (`/api/config.json`, `/api/machines.json`) and, in relay mode, the relay's stream and
 * request endpoints. On loopback by default; bound elsewhere, every `/api/` request needs the
 * bearer token (the page's static files hold no data and load without it, so the page can
 * ask for the token). The page's content security policy allows nothing but this origin and,
 * in websocket mode, the NATS websocket URL.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureError } from '../errors.js';
import type { Logger } from '../logging.js';
import { checkAccess, loopbackHosts } from './access.js';
import { fail, type InspectionRelay } from './relay.js';
import { INSPECTOR_PATHS } from './wire.js';

export const INSPECTOR_HOST = '127.0.0.1';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Where the built page is: `inspector/dist` next to `src/` (tsx) or to `dist/src/` (built). */
export function findPageDir(): string | undefined {
  for (const candidate of ['../../inspector/dist/', '../../../inspector/dist/']) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return undefined;
}

export interface InspectorServerOptions {
  port: number;
  host?: string;
  /** The built page; when missing, `/` explains how to build it. */
  pageDir: string | undefined;
  /** `/api/config.json` */
  config: () => unknown;
  /** `/api/machines.json` */
  machines: () => unknown;
  /** Websocket URL the page may connect to (for the content security policy). */
  wsUrl: string | null;
  /** Bearer token every `/api/` request must carry; without one, only loopback Host headers are answered. */
  token?: string | undefined;
  /** Relay mode: the stream and request endpoints. */
  relay?: InspectionRelay | undefined;
  logger?: Logger;
}

export interface InspectorServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** The content security policy of every response: this origin and the NATS websocket only. */
export function contentSecurityPolicy(wsUrl: string | null): string {
  let ws = '';
  if (wsUrl) {
    try {
      const u = new URL(wsUrl);
      ws = ` ${u.protocol}//${u.host}`;
    } catch {
      ws = '';
    }
  }
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${ws}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>cim-domain-nix inspector</title>
<body style="font:16px system-ui;margin:3rem;max-width:40rem">
<h1>The inspector page is not built</h1>
<p>Build it once with <code>npm run inspector</code> (or <code>npm run build</code>), then reload.</p></body>`;

/** Start serving; resolves once listening (rejects when the port is taken). */
export function startInspectorServer(options: InspectorServerOptions): Promise<InspectorServer> {
  const host = options.host ?? INSPECTOR_HOST;
  const files = new Map<string, { body: Buffer; type: string }>();
  if (options.pageDir) {
    for (const name of readdirSync(options.pageDir)) {
      const path = join(options.pageDir, name);
      if (!statSync(path).isFile()) continue;
      files.set(`/${name}`, { body: readFileSync(path), type: TYPES[extname(name)] ?? 'application/octet-stream' });
    }
  }
  const csp = contentSecurityPolicy(options.wsUrl);
  const token = options.token;
  const relay = options.relay;
  // Filled in once listening (the port may be OS-picked).
  const hosts = new Set<string>();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const headers: Record<string, string> = {
      'Content-Security-Policy': csp,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
      'Cross-Origin-Resource-Policy': 'same-origin',
    };
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const api = path.startsWith('/api/');
    // Without a token (loopback only) every request must name this machine; with one, every API request must carry it.
    if (api || token === undefined) {
      const access = checkAccess(req.headers, { token, hosts });
      if (!access.ok) {
        req.resume();
        if (access.status === 401) headers['WWW-Authenticate'] = 'Bearer realm="cim-domain-nix inspector"';
        fail(res, headers, access.status, 'forbidden', access.message);
        return;
      }
    }
    if (relay && path === INSPECTOR_PATHS.request) {
      if (req.method !== 'POST') {
        res.writeHead(405, { ...headers, Allow: 'POST' }).end();
        return;
      }
      relay.request(req, res, headers).catch((e: unknown) => {
        options.logger?.warn({ err: ensureError(e) }, 'an inspector relay request failed');
        if (!res.headersSent) fail(res, headers, 500, 'internal', 'the relay failed; see the service log');
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      req.resume();
      res.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end();
      return;
    }
    if (relay && path === INSPECTOR_PATHS.stream) {
      relay.stream(req, res, headers);
      return;
    }
    let body: Buffer | string;
    let type: string;
    if (path === INSPECTOR_PATHS.config || path === INSPECTOR_PATHS.machines) {
      body = JSON.stringify(path === INSPECTOR_PATHS.config ? options.config() : options.machines());
      type = TYPES['.json']!;
    } else {
      const file = files.get(path === '/' ? '/index.html' : path);
      if (!file) {
        if (path === '/' && files.size === 0) {
          res.writeHead(200, { ...headers, 'Content-Type': TYPES['.html']! }).end(NOT_BUILT);
          return;
        }
        res.writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
        return;
      }
      body = file.body;
      type = file.type;
    }
    res.writeHead(200, { ...headers, 'Content-Type': type });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const server: Server = createServer(handle);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : options.port;
      for (const h of loopbackHosts(port)) hosts.add(h);
      hosts.add(`${host.includes(':') ? `[${host}]` : host}:${port}`.toLowerCase());
      resolve({
        url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
        port,
        stop: () =>
          new Promise<void>((done) => {
            relay?.stop();
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
