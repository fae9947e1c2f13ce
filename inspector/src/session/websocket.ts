/**
 * The websocket session: the page connects straight to a NATS websocket listener (the
 * embedded server's, or `NATS_WS_URL`), with no credentials; for listeners that need none.
 */
import { wsconnect, type NatsConnection } from '@nats-io/nats-core';
import type { Session, SessionHandlers } from './session.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

export class WebsocketSession implements Session {
  readonly transport = 'websocket' as const;
  readonly target: string;
  private nc: NatsConnection | undefined;

  /** `stream`: the inspection stream's subject (`P.inspect.events`). */
  constructor(
    private readonly url: string,
    private readonly stream: string,
  ) {
    this.target = `NATS websocket ${url}`;
  }

  async start(handlers: SessionHandlers): Promise<void> {
    let nc: NatsConnection;
    try {
      nc = await wsconnect({
        servers: this.url,
        name: 'cim-domain-nix inspector',
        reconnect: true,
        maxReconnectAttempts: -1,
        waitOnFirstConnect: true,
        reconnectTimeWait: 1_000,
      });
    } catch (e) {
      handlers.onState('failed', `Cannot connect to ${this.url}: ${(e as Error).message}. Reload when the server is reachable.`);
      return;
    }
    this.nc = nc;
    handlers.onState('connected');
    nc.subscribe(this.stream, { callback: (err, msg) => (err ? undefined : handlers.onBatch(dec.decode(msg.data))) });
    void (async () => {
      for await (const st of nc.status()) {
        if (st.type === 'disconnect') handlers.onState('disconnected');
        else if (st.type === 'reconnecting') handlers.onState('reconnecting');
        else if (st.type === 'reconnect') {
          handlers.onState('connected');
          handlers.onReconnected();
        }
      }
    })();
    void nc.closed().then((err) => handlers.onState('disconnected', err ? err.message : undefined));
  }

  async request(subject: string, body: unknown, timeoutMs = 5_000): Promise<unknown> {
    if (!this.nc) throw new Error('not connected to NATS');
    const msg = await this.nc.request(subject, enc.encode(JSON.stringify(body)), { timeout: timeoutMs });
    return JSON.parse(dec.decode(msg.data)) as unknown;
  }

  close(): void {
    void this.nc?.close();
  }
}
