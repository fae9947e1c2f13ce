/**
 * Health on `health.cim-domain-nix`: real values only — process memory, NATS connection
 * state, server and round-trip time, live aggregates, publisher mode, intake counters, and
 * the cluster (members, partitions, handoffs, takeovers, fenced writes).
 */
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { SERVICE_NAME } from '../domain/subjects.js';
import { InternalError, ensureError, toErrorReply } from '../errors.js';
import { replyHeaders } from './errorTopic.js';

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
  /** The workspace files: writes pending and failing (being retried). */
  workspace?(): { pending: number; failing: number };
  nix(): Promise<{ available: boolean; version?: string; hint?: string }>;
  /** Several instances (SPEC §9): members, partitions, handoffs, takeovers, fenced writes, conflicts, routing. */
  cluster?(): ClusterHealth;
}

/** The `cluster` section: what health needs to judge, plus whatever else the runtime reports. */
export interface ClusterHealth {
  instance_id: string;
  members_seen: number;
  partitions_owned: number;
  /** Partitions held but not served now (the lease ran out before a renewal was acknowledged). */
  partitions_fenced: number;
  handoffs: number;
  takeovers: number;
  fenced_writes: number;
  conflicts: number;
  [more: string]: unknown;
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
  const workspace = src.workspace?.();
  const cluster = src.cluster?.();
  // The seed's words (SPEC §10): unhealthy when it cannot do its work at all (no NATS, or
  // stopping), degraded when it does it with a handicap, healthy otherwise.
  const unhealthy = conn.state !== 'connected' || publisher.mode === 'stopped';
  const degraded =
    (workspace?.failing ?? 0) > 0 ||
    publisher.mode !== 'ready' ||
    (publisher.dead_letters?.waiting ?? 0) > 0 ||
    (readModels !== undefined && readModels.state !== 'ready') ||
    // One of several instances that serves nothing, or holds a partition it may not serve now.
    (cluster !== undefined && ((cluster.members_seen > 1 && cluster.partitions_owned === 0) || cluster.partitions_fenced > 0));
  return {
    status: unhealthy ? 'unhealthy' : degraded ? 'degraded' : 'healthy',
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
    ...(workspace ? { workspace } : {}),
    ...(cluster ? { cluster } : {}),
    nix,
  };
}

/** Answer one health request. */
export function answerHealth(msg: Msg, src: HealthSources, logger: Logger): void {
  healthReport(src).then(
    (body) => msg.respond(JSON.stringify(body)),
    (e: unknown) => {
      logger.error({ err: ensureError(e) }, 'health report failed');
      const reply = toErrorReply(new InternalError(`the health report failed: ${ensureError(e).message}`));
      msg.respond(JSON.stringify(reply), { headers: replyHeaders(undefined, reply) });
    },
  );
}
