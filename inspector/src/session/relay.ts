/**
 * The relay session: the inspection stream as server-sent events from the service's own
 * endpoint (read with `fetch`, which can carry the bearer token an `EventSource` cannot),
 * requests as JSON POSTs that the service relays over its NATS connection. A broken stream
 * is reopened with a growing pause (1 s … 10 s).
 */
import { INSPECTOR_PATHS, RelayError } from '../../../src/inspection/wire.js';
import { AuthRequired, type Api } from './api.js';
import type { Session, SessionHandlers } from './session.js';

const RETRY_MS = [1_000, 2_000, 5_000, 10_000];

export class RelaySession implements Session {
  readonly transport = 'relay' as const;
  readonly target = `this page's service (relay on ${INSPECTOR_PATHS.stream})`;
  private readonly abort = new AbortController();

  constructor(private readonly api: Api) {}

  async request(subject: string, body: unknown, timeoutMs = 5_000): Promise<unknown> {
    const res = await this.api.fetch(INSPECTOR_PATHS.request, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ subject, body, timeout_ms: timeoutMs }),
      signal: this.abort.signal,
    });
    const json: unknown = await res.json();
    if (!res.ok) {
      const err = RelayError.safeParse(json);
      throw new Error(err.success ? err.data.message : `the relay answered HTTP ${res.status}`);
    }
    return json;
  }

  /** Open the stream; resolves once it is open the first time (or failed for good). */
  start(handlers: SessionHandlers): Promise<void> {
    return new Promise<void>((firstOpen) => {
      void this.run(handlers, firstOpen);
    });
  }

  close(): void {
    this.abort.abort();
  }

  private async run(handlers: SessionHandlers, firstOpen: () => void): Promise<void> {
    let attempt = 0;
    let opened = false;
    while (!this.abort.signal.aborted) {
      try {
        const res = await this.api.fetch(INSPECTOR_PATHS.stream, { signal: this.abort.signal, headers: { Accept: 'text/event-stream' } });
        if (!res.ok || !res.body) throw new Error(`the stream answered HTTP ${res.status}`);
        handlers.onState('connected');
        if (opened) handlers.onReconnected();
        opened = true;
        attempt = 0;
        firstOpen();
        await readEvents(res.body, (text) => handlers.onBatch(text));
        throw new Error('the service closed the stream');
      } catch (e) {
        if (this.abort.signal.aborted) return;
        if (e instanceof AuthRequired) {
          handlers.onState('unauthorized', e.message);
          firstOpen();
          return;
        }
        handlers.onState(opened ? 'reconnecting' : 'connecting', (e as Error).message);
        const wait = RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]!;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
}

/** Read server-sent events until the stream ends; `data:` lines of one event are joined with newlines. */
async function readEvents(body: ReadableStream<Uint8Array>, onData: (text: string) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      }
      if (data.length > 0) onData(data.join('\n'));
    }
  }
}
