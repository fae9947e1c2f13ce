/**
 * Health on `health.cim-domain-nix`: real values only — process memory, NATS connection
 * state, server and round-trip time, live aggregates, publisher mode and intake counters.
 */
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { SERVICE_NAME } from '../domain/subjects.js';
import { ensureError } from '../errors.js';

export interface HealthSources {
  version: string;
  instanceId: string;
  startedAt: number;
  prefix: string;
  connection(): { state: string; server: string | undefined; nc: NatsConnection | undefined };
  aggregates(): { live: number; awake: number };
  publisher(): { mode: string; stored: number; published: number; dead_letters?: { waiting: number } };
  intake(): { received: number; rejected: number };
  /** Read models: their state (`ready` once caught up) and counters. */
  readModels?(): { state: string };
  queries?(): Record<string, unknown>;
  nix(): Promise<{ available: boolean; version?: string; hint?: string }>;
}

/** The health reply body. */
export async function healthReport(src: HealthSources): Promise<Record<string, unknown>> {
  const conn = src.connection();
  let rtt_ms: number | null = null;
  if (conn.nc && conn.state === 'connected') {
    try {
      rtt_ms = await conn.nc.rtt();
    } catch {
      rtt_ms = null;
    }
  }
  const mem = process.memoryUsage();
  const publisher = src.publisher();
  const nix = await src.nix();
  const readModels = src.readModels?.();
  const degraded =
    conn.state !== 'connected' ||
    publisher.mode !== 'ready' ||
    (publisher.dead_letters?.waiting ?? 0) > 0 ||
    (readModels !== undefined && readModels.state !== 'ready');
  return {
    status: degraded ? 'degraded' : 'ok',
    service: SERVICE_NAME,
    version: src.version,
    instance_id: src.instanceId,
    prefix: src.prefix,
    timestamp: new Date().toISOString(),
    uptime_s: Math.round((Date.now() - src.startedAt) / 100) / 10,
    memory: { rss: mem.rss, heap_used: mem.heapUsed, heap_total: mem.heapTotal },
    nats: { state: conn.state, server: conn.server ?? null, rtt_ms },
    aggregates: src.aggregates(),
    publisher,
    intake: src.intake(),
    ...(readModels ? { read_models: readModels } : {}),
    ...(src.queries ? { queries: src.queries() } : {}),
    nix,
  };
}

/** Answer one health request. */
export function answerHealth(msg: Msg, src: HealthSources, logger: Logger): void {
  healthReport(src).then(
    (body) => msg.respond(JSON.stringify(body)),
    (e: unknown) => {
      logger.error({ err: ensureError(e) }, 'health report failed');
      msg.respond(JSON.stringify({ status: 'error', code: 'internal', message: ensureError(e).message }));
    },
  );
}
