/**
 * The service: event store, publisher, aggregate supervisor, command and query intake,
 * health and discovery, wired on one NATS connection. `main.ts` builds the connection and
 * calls {@link startService}; every start returns a stop.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createActor } from 'xstate';
import type { Logger } from 'pino';
import { publisherMachine } from '../machines/index.js';
import type { Config } from './config.js';
import { subjectsFor } from './domain/subjects.js';
import { CommandIntake, type PathGuard } from './messaging/commandIntake.js';
import type { ConnectionSupervisor } from './messaging/connection.js';
import { startDiscovery } from './messaging/discovery.js';
import { ErrorTopic } from './messaging/errorTopic.js';
import { EventPublisher } from './messaging/eventPublisher.js';
import { EventStore } from './messaging/eventStore.js';
import { answerHealth, type HealthSources } from './messaging/health.js';
import { QueryIntake } from './messaging/queryIntake.js';
import { StateStore } from './messaging/stateStore.js';
import { progressPublisher } from './messaging/progress.js';
import { createNixPort, resolveInWorkspace } from './nix/index.js';
import { AggregateSupervisor } from './runtime/aggregateSupervisor.js';
import { WorkspaceMaterializer } from './runtime/workspaceMaterializer.js';

export interface ServiceDeps {
  config: Config;
  logger: Logger;
  connection: ConnectionSupervisor;
  embeddedWsUrl?: string;
}

export interface RunningService {
  stop(): Promise<void>;
}

/** The package version, read once. */
export const SERVICE_VERSION: string = (() => {
  for (const candidate of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // try the next location (src/ when run with tsx, dist/src/ when built)
    }
  }
  return '0.0.0';
})();

/** Keeps workspace-relative paths inside the workspace (`..`, absolute paths, symlinks). */
export function workspacePathGuard(workspace: string): PathGuard {
  return (path) => {
    const confined = resolveInWorkspace(workspace, path);
    return confined.ok ? { ok: true } : { ok: false, reason: confined.reason };
  };
}

/**
 * Make up seed publications a crash may have skipped (every stored event after the last
 * checkpoint is published again: subscribers may see a duplicate, never a gap), then keep
 * the checkpoint current. Returns the stop, which writes a final checkpoint.
 */
async function startSeedRelay(store: EventStore, state: StateStore, publisher: EventPublisher, logger: Logger): Promise<() => Promise<void>> {
  const checkpoint = await state.loadCheckpoint();
  let republished = 0;
  let last = checkpoint;
  for await (const batch of store.readAll(checkpoint)) {
    for (const stored of batch) {
      publisher.publishSeed({ event: stored.event, fact: stored.fact });
      last = stored.stream_seq;
      republished++;
    }
  }
  if (republished > 0) logger.info({ republished, from: checkpoint + 1, to: last }, 'published events that a previous run had stored but maybe not published');
  publisher.watermark.acked(last);
  publisher.watermark.tick();
  let saved = checkpoint;
  const save = async (): Promise<void> => {
    publisher.watermark.tick();
    const c = publisher.watermark.committed;
    if (c > saved) {
      await state.saveCheckpoint(c);
      saved = c;
    }
  };
  await save();
  const timer = setInterval(() => {
    save().catch((e: unknown) => logger.warn({ err: e }, 'relay checkpoint not saved'));
  }, 1_000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await save().catch((e: unknown) => logger.warn({ err: e }, 'final relay checkpoint not saved'));
  };
}

export async function startService(deps: ServiceDeps): Promise<RunningService> {
  const { config, logger, connection } = deps;
  const nc = await connection.ready();
  const subjects = subjectsFor(config.prefix);
  const instanceId = randomUUID();
  const startedAt = Date.now();

  const store = await EventStore.open(nc, subjects, logger);
  const state = await StateStore.open(nc, subjects);
  const publisherActor = createActor(publisherMachine, { id: 'publisher' });
  publisherActor.subscribe({ error: (err) => logger.error({ err }, 'publisher actor failed') });
  publisherActor.start();
  const publisher = new EventPublisher(store, nc, subjects, logger, publisherActor);
  const stopRelay = await startSeedRelay(store, state, publisher, logger);

  const errors = new ErrorTopic(nc, subjects, logger);
  await mkdir(config.workspace, { recursive: true });
  const nix = createNixPort({
    workspace: config.workspace,
    activationEnabled: config.nix.activationEnabled,
    defaultCacheUrl: config.nix.binaryCacheUrl,
  });
  const materializer = new WorkspaceMaterializer(nix);
  const supervisor = new AggregateSupervisor({
    logger,
    domain: subjects.prefix,
    snapshotEvery: config.aggregates.snapshotEvery,
    read: (kind, id, afterSeq) => store.read(kind, id, afterSeq),
    storeAndPublish: (events) => publisher.storeAndPublish(events),
    loadSnapshot: (kind, id) => state.loadSnapshot(kind, id),
    saveSnapshot: (snapshot) => state.saveSnapshot(snapshot),
    onScheduledFailure: (kind, id, outcome, cause) =>
      logger.error(
        { aggregate_type: kind, aggregate_id: id, effect: outcome.kind, correlation_id: cause.correlation_id, reason: outcome.type === 'effect.failed' ? outcome.message : '' },
        'a scheduled effect failed; the event stands, the workspace file may be stale',
      ),
    runEffect: (request, ctx) =>
      nix.perform(request, { signal: ctx.signal, onProgress: progressPublisher(nc, subjects, ctx.aggregate, ctx.id, request.kind) }),
    scheduleEffect: (request) => materializer.schedule(request),
  });

  supervisor.residentCap = config.aggregates.residentCap;
  const stopPassivation = supervisor.startPassivation(config.aggregates.passivationIdleMs, config.aggregates.residentCap, (n) =>
    logger.debug({ passivated: n, live: supervisor.liveCount }, 'idle aggregates passivated'),
  );
  const intake = new CommandIntake({ nc, subjects, logger, supervisor, errors, guardPath: workspacePathGuard(config.workspace), commandTimeoutMs: config.aggregates.commandTimeoutMs });
  const queries = new QueryIntake(subjects, errors, logger);

  const health: HealthSources = {
    version: SERVICE_VERSION,
    instanceId,
    startedAt,
    prefix: subjects.prefix,
    connection: () => ({ state: connection.state, server: connection.server, nc: connection.connection }),
    aggregates: () => ({ live: supervisor.liveCount }),
    publisher: () => publisher.stats(),
    intake: () => intake.stats(),
    nix: () => nix.probe(),
  };

  const discovery = await startDiscovery(nc, subjects, logger, { version: SERVICE_VERSION, instanceId }, {
    command: (msg) => intake.handle(msg),
    query: (msg) => queries.handle(msg),
    health: (msg) => answerHealth(msg, health, logger),
  });

  const offState = connection.onState((state) => {
    if (state === 'connected') {
      publisherActor.send({ type: 'connection.restored' });
      supervisor.resume();
    } else if (state === 'reconnecting' || state === 'backing_off' || state === 'connecting') {
      publisherActor.send({ type: 'connection.lost' });
      supervisor.pause(`NATS connection ${state}`);
    }
  });

  logger.info(
    { prefix: subjects.prefix, instance_id: instanceId, version: SERVICE_VERSION, stream: subjects.eventStream, workspace: config.workspace },
    `cim-domain-nix ready: commands on ${subjects.commands}, events on ${subjects.events}`,
  );

  return {
    stop: async () => {
      offState();
      await discovery.stop();
      stopPassivation();
      await supervisor.drain();
      await materializer.flush();
      materializer.stop();
      await stopRelay();
      publisherActor.send({ type: 'stop' });
      await nc.flush().catch(() => undefined);
      logger.info({ instance_id: instanceId }, 'service stopped');
    },
  };
}
