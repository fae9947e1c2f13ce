/**
 * The inspector's relay: the page reaches the inspection subjects through the service's own
 * HTTP endpoint, over the service's own authenticated NATS connection, so the browser needs
 * no NATS account. Two operations, both read-only:
 *
 * - `GET /api/stream`: server-sent events, one `data:` message per batch published on
 *   `P.inspect.events`. One NATS subscription, held while at least one page listens. A page
 *   that reads too slowly misses batches (it sees the gap in the batches' `seq` and reloads
 *   the actor list) instead of growing the service's memory.
 * - `POST /api/request`: `{ subject, body, timeout_ms? }` → the service's reply. Only the
 *   subjects in the allow-list (the inspector's own read-only requests) are relayed; any
 *   other subject, a command above all, is refused with 403 and never reaches NATS.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ensureError } from '../errors.js';
import type { Logger } from '../logging.js';
import { RelayRequest, type RelayError } from './wire.js';

/** The part of a NATS connection the relay uses (a `NatsConnection` fits). */
export interface RelayNats {
  subscribe(subject: string, opts: { callback: (err: Error | null, msg: { readonly data: Uint8Array }) => void }): { unsubscribe(): void };
  request(subject: string, payload: string, opts: { timeout: number }): Promise<{ readonly data: Uint8Array }>;
}

export interface RelayOptions {
  nc: RelayNats;
  logger: Logger;
  /** The inspection stream (`P.inspect.events`). */
  stream: string;
  /** The only subjects `POST /api/request` relays. */
  allowed: readonly string[];
  /** Pages listening at once (default 16); more are answered 503. */
  maxStreams?: number;
  /** A page's unsent bytes past which batches are skipped for it (default 4 MiB). */
  maxBufferedBytes?: number;
  /** Largest request body (default 64 KiB). */
  maxBodyBytes?: number;
  /** A comment line this often keeps idle streams open through proxies (default 15 s). */
  heartbeatMs?: number;
}

const decoder = new TextDecoder();
const DEFAULT_TIMEOUT_MS = 5_000;

export class InspectionRelay {
  private readonly clients = new Set<ServerResponse>();
  private sub: { unsubscribe(): void } | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly allowed: ReadonlySet<string>;
  /** What the relay did (health and tests). */
  readonly counts = { batches: 0, skipped: 0, requests: 0, refused: 0 };

  constructor(private readonly opts: RelayOptions) {
    this.allowed = new Set(opts.allowed);
  }

  /** The subjects `POST /api/request` relays. */
  get allowList(): readonly string[] {
    return [...this.allowed];
  }

  /** Pages listening now. */
  get listeners(): number {
    return this.clients.size;
  }

  /** `GET /api/stream`: hold the response open and write every inspection batch to it. */
  stream(req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): void {
    if (this.clients.size >= (this.opts.maxStreams ?? 16)) {
      fail(res, headers, 503, 'unavailable', 'too many inspector pages are listening; close one and reload');
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': 'text/event-stream; charset=utf-8', 'X-Accel-Buffering': 'no' });
    res.write(': cim-domain-nix inspection stream\n\n');
    this.clients.add(res);
    const gone = (): void => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.idle();
    };
    req.once('close', gone);
    res.once('close', gone);
    this.sub ??= this.opts.nc.subscribe(this.opts.stream, { callback: (err, msg) => (err ? undefined : this.fanOut(msg.data)) });
    this.heartbeat ??= setInterval(() => {
      for (const c of this.clients) c.write(': ping\n\n');
    }, this.opts.heartbeatMs ?? 15_000).unref();
  }

  /** `POST /api/request`: relay an allowed read-only request and answer with the service's reply. */
  async request(req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): Promise<void> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      req.resume();
      fail(res, headers, 415, 'validation', 'send the request as Content-Type: application/json');
      return;
    }
    let text: string;
    try {
      text = await readBody(req, this.opts.maxBodyBytes ?? 65_536);
    } catch (e) {
      fail(res, headers, 413, 'validation', ensureError(e).message);
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      fail(res, headers, 400, 'invalid_json', 'the request body is not JSON');
      return;
    }
    const parsed = RelayRequest.safeParse(raw);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || 'request'}: ${i.message}`).join('; ');
      fail(res, headers, 400, 'validation', `${why} (expected { "subject": "…", "body": {…}, "timeout_ms"?: 100–30000 })`);
      return;
    }
    const { subject, body, timeout_ms } = parsed.data;
    if (!this.allowed.has(subject)) {
      this.counts.refused++;
      this.opts.logger.warn({ subject }, 'the inspector relay refused a subject that is not one of its read-only requests');
      fail(
        res,
        headers,
        403,
        'forbidden',
        `the inspector relays only its own read-only requests (${[...this.allowed].join(', ')}); it never sends commands: use a NATS client with a role that may`,
      );
      return;
    }
    this.counts.requests++;
    try {
      const reply = await this.opts.nc.request(subject, JSON.stringify(body ?? {}), { timeout: timeout_ms ?? DEFAULT_TIMEOUT_MS });
      res.writeHead(200, { ...headers, 'Content-Type': 'application/json; charset=utf-8' }).end(Buffer.from(reply.data));
    } catch (e) {
      const err = ensureError(e);
      const [status, message] = classify(err, timeout_ms ?? DEFAULT_TIMEOUT_MS);
      fail(res, headers, status, 'unavailable', message);
    }
  }

  /** End every stream and let go of the subscription. */
  stop(): void {
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.idle();
  }

  private fanOut(data: Uint8Array): void {
    this.counts.batches++;
    // One `data:` line per line of the message (JSON from the hub has none, but a message may).
    const frame = `${decoder
      .decode(data)
      .split(/\r\n|\r|\n/)
      .map((l) => `data: ${l}`)
      .join('\n')}\n\n`;
    const limit = this.opts.maxBufferedBytes ?? 4 * 1_048_576;
    for (const c of this.clients) {
      if (c.writableLength > limit) {
        this.counts.skipped++;
        continue;
      }
      c.write(frame);
    }
  }

  private idle(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}

/** Answer with a {@link RelayError}. */
export function fail(res: ServerResponse, headers: Record<string, string>, status: number, code: string, message: string): void {
  const body: RelayError = { status: 'error', code, message };
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        reject(new Error(`the request body is larger than ${max} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

/** HTTP status and words for a failed NATS request (the client's error classes, by name: src/inspection does not import NATS). */
function classify(err: Error, timeoutMs: number): [number, string] {
  const names: string[] = [];
  for (let e: unknown = err; e instanceof Error && names.length < 5; e = e.cause) names.push(`${e.name} ${e.message}`);
  const all = names.join(' | ');
  if (/timeout/i.test(all)) return [504, `the service did not answer within ${timeoutMs} ms; try again`];
  if (/no ?responders|503/i.test(all))
    return [503, 'nothing answers this inspector request on NATS now (the service is starting or stopping); try again'];
  return [502, `the request could not be relayed over NATS: ${err.message}`];
}
