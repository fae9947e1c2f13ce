/**
 * What every bench scenario gets: the settings, the server, the load generator, an admin
 * connection on the main thread, the clock and a progress log. Also the service helpers
 * the scenarios share (start with bench settings, health, remove a prefix's streams).
 */
import { rm } from 'node:fs/promises';
import { jetstreamManager, JetStreamApiError } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { subjectsFor } from '../../src/domain/subjects.js';
import { HEALTH_SUBJECT } from '../../src/domain/subjects.js';
import type { NatsServer } from '../support/natsServer.js';
import { startTestService, uniquePrefix, type TestService } from '../support/service.js';
import type { LoadGenerator } from './loadGenerator.js';
import type { ThreadPhase } from './pauseReport.js';
import type { BenchSettings } from './options.js';

export interface BenchContext {
  settings: BenchSettings;
  server: NatsServer;
  load: LoadGenerator;
  /** A plain connection on the main thread (health, JetStream admin, one-off requests). */
  admin: NatsConnection;
  /** Milliseconds on the clock all bench threads share. */
  now(): number;
  log(message: string): void;
  /** The watched phases (service thread: allocation, GC, stalls), in the order they ran. */
  threads: ThreadPhase[];
  /** Where `--alloc-profile` writes whole profiles (undefined: not written). */
  profileDir: string | undefined;
}

/** Service settings for a bench instance; scenarios override what they measure. */
export const BENCH_SERVICE_ENV: Record<string, string> = {
  LOG_LEVEL: 'silent',
  // Nothing is passivated behind a scenario's back unless it asks for it.
  NIX_PASSIVATION_IDLE_MS: String(3_600_000),
  NIX_RESIDENT_CAP: String(10_000_000),
};

/** Start the real service in-process under a fresh prefix (one service at a time: health is shared). */
export async function startBenchService(
  ctx: BenchContext,
  label: string,
  env: Record<string, string> = {},
  prefix = uniquePrefix(label),
): Promise<TestService> {
  return startTestService(ctx.server, { prefix, env: { ...BENCH_SERVICE_ENV, ...env } });
}

/**
 * Stop a bench service. Its workspace may still be written to for a moment after the stop
 * (a detached `git gc --auto` after many `git add`s), which makes removing it fail with
 * ENOTEMPTY: the service has stopped by then, so only the removal is tried again (bounded).
 */
export async function stopBenchService(svc: TestService): Promise<void> {
  try {
    await svc.stop();
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOTEMPTY') throw e;
    for (let attempt = 0; ; attempt++) {
      await new Promise((r) => setTimeout(r, 200));
      try {
        await rm(svc.workspace, { recursive: true, force: true });
        return;
      } catch (again) {
        if (attempt >= 25) throw again;
      }
    }
  }
}

export interface HealthReport {
  status: string;
  aggregates?: { live?: number; awake?: number };
  nix?: { available?: boolean; hint?: string; version?: string };
  memory?: { heap_used?: number; rss?: number };
  publisher?: { mode?: string };
  nats?: { state?: string };
}

/** Ask the (only) running service for its health. */
export async function health(nc: NatsConnection, timeoutMs = 2_000): Promise<HealthReport> {
  const m = await nc.request(HEALTH_SUBJECT, '', { timeout: timeoutMs });
  return m.json<HealthReport>();
}

/** Delete the event stream and state bucket of a prefix, so the server carries no dead weight into later scenarios. */
export async function removePrefixState(nc: NatsConnection, prefix: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const s = subjectsFor(prefix);
  for (const name of [s.eventStream, `KV_${s.stateBucket}`]) {
    try {
      await jsm.streams.delete(name);
    } catch (e) {
      if (!(e instanceof JetStreamApiError)) throw e;
    }
  }
}

/** Send one request and read its JSON reply, with the elapsed time in ms. */
export async function timedRequest(
  ctx: BenchContext,
  nc: NatsConnection,
  subject: string,
  body: string,
  timeoutMs: number,
): Promise<{ ms: number; reply: Record<string, unknown> }> {
  const t = ctx.now();
  const m = await nc.request(subject, body, { timeout: timeoutMs });
  const ms = ctx.now() - t;
  return { ms, reply: m.json<Record<string, unknown>>() };
}
