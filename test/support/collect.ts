/** Collects messages of a subscription for assertions with expect.poll. */
import type { Msg, NatsConnection } from '@nats-io/transport-node';

export interface Collected {
  subject: string;
  data: Record<string, unknown>;
  headers: Record<string, string>;
}

export interface Collector {
  readonly messages: Collected[];
  stop(): void;
}

/** Subscribe and keep every message (JSON-decoded) for the test to inspect. */
export async function collect(nc: NatsConnection, subject: string): Promise<Collector> {
  const messages: Collected[] = [];
  const sub = nc.subscribe(subject, {
    callback: (_err, msg: Msg) => {
      const headers: Record<string, string> = {};
      if (msg.headers) for (const [k, v] of msg.headers) headers[k] = v[0] ?? '';
      let data: Record<string, unknown>;
      try {
        data = msg.json<Record<string, unknown>>();
      } catch {
        data = { raw: msg.string() };
      }
      messages.push({ subject: msg.subject, data, headers });
    },
  });
  await nc.flush();
  return { messages, stop: () => sub.unsubscribe() };
}

/** Send a request with a JSON (or raw) body and decode the JSON reply. */
export async function request(
  nc: NatsConnection,
  subject: string,
  body: unknown,
  options: { raw?: boolean; headers?: Record<string, string>; timeout?: number } = {},
): Promise<{ data: Record<string, unknown>; headers: Record<string, string> }> {
  const { headers: mk } = await import('@nats-io/transport-node');
  const h = mk();
  for (const [k, v] of Object.entries(options.headers ?? {})) h.set(k, v);
  const payload = options.raw ? (body as string | Uint8Array) : JSON.stringify(body);
  const reply = await nc.request(subject, payload, { timeout: options.timeout ?? 10_000, headers: h });
  const headers: Record<string, string> = {};
  if (reply.headers) for (const [k, v] of reply.headers) headers[k] = v[0] ?? '';
  return { data: reply.json<Record<string, unknown>>(), headers };
}
