/**
 * The service: event store, publisher, aggregate supervisor, command and query intake,
 * health and discovery, wired on one NATS connection. `main.ts` builds the connection and
 * calls {@link startService}; every start returns a stop.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
import { EventStore, type AppendRequest } from './messaging/eventStore.js';
import { answerHealth, type HealthSources } from './messaging/health.js';
import { QueryIntake } from './messaging/queryIntake.js';
import { startProjections } from './projections/index.js';
import { SeedRelay } from './messaging/seedRelay.js';
import { StateStore } from './messaging/stateStore.js';
import { progressPublisher } from './messaging/progress.js';
import { Inspection } from './inspection/index.js';
import { createNixPort, resolveInWorkspace, resolveOutLink } from './nix/index.js';
import { AggregateSupervisor } from './runtime/aggregateSupervisor.js';
import { DeadLetters } from './runtime/deadLetters.js';
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
  return ({ path, outLink }) => {
    const confined = outLink ? resolveOutLink(workspace, path) : resolveInWorkspace(workspace, path);
    return confined.ok ? { ok: true } : { ok: false, reason: confined.reason };
  };
}

export async function startService(deps: ServiceDeps): Promise<RunningService> {
  const { config, logger, connection } = deps;
  const nc = await connection.ready();
  const subjects = subjectsFor(config.prefix);
  const instanceId = randomUUID();
  const startedAt = Date.now();

  await mkdir(config.workspace, { recursive: true });
  const store = await EventStore.open(nc, subjects, logger);
  const state = await StateStore.open(nc, subjects);
  // Inspection (on by default): XState's inspect observer on every actor, published on P.inspect.>.
  const inspection = Inspection.create({ config, logger, nc, subjects, instance: instanceId, version: SERVICE_VERSION, embeddedWsUrl: deps.embeddedWsUrl });
  inspection?.hub.attachSystem('reconnection', connection.actor);
  const publisherActor = createActor(publisherMachine, { id: 'publisher' });
  publisherActor.subscribe({ error: (err) => logger.error({ err }, 'publisher actor failed') });
  publisherActor.start();
  inspection?.hub.attachSystem('publisher', publisherActor);
  const deadLetters = new DeadLetters(join(config.workspace, '.deadletter'), logger);
  const publisher = new EventPublisher(
    store,
    nc,
    subjects,
    logger,
    publisherActor,
    { budgetMs: config.aggregates.storeRetryBudgetMs, initialDelayMs: 50, maxDelayMs: 2_000 },
    (requests) => deadLetters.add(requests),
  );
  const deadLetterSink = {
    append: (req: AppendRequest) => store.append(req),
    read: (kind: string, id: string) => store.read(kind, id),
    publishSeed: (req: Pick<AppendRequest, 'event' | 'fact'>) => publisher.publishSeed(req),
  };
  await deadLetters.flush(deadLetterSink);
  const relay = new SeedRelay(store, state, publisher, logger);
  await relay.start();

  const errors = new ErrorTopic(nc, subjects, logger);
  const nix = createNixPort({
    workspace: config.workspace,
    activationEnabled: config.nix.activationEnabled,
    nixosMarker: config.nix.nixosMarker,
    nixosRebuildBin: config.nix.nixosRebuildBin,
    defaultCacheUrl: config.nix.binaryCacheUrl,
  });
  const materializer = new WorkspaceMaterializer(nix);
  const supervisor = new AggregateSupervisor({
    logger,
    domain: subjects.prefix,
    snapshotEvery: config.aggregates.snapshotEvery,
    read: (kind, id, afterSeq) => store.read(kind, id, afterSeq),
    storeDeferred: (events) => publisher.storeDeferred(events),
    loadSnapshot: (kind, id) => state.loadSnapshot(kind, id),
    saveSnapshot: (snapshot) => state.saveSnapshot(snapshot),
    hasDeadLetters: (kind, id) => deadLetters.has(kind, id),
    flushDeadLetters: (kind, id) => deadLetters.flush(deadLetterSink, { kind, id }),
    onScheduledFailure: (kind, id, outcome, cause) =>
      logger.error(
        { aggregate_type: kind, aggregate_id: id, effect: outcome.kind, correlation_id: cause.correlation_id, reason: outcome.type === 'effect.failed' ? outcome.message : '' },
        'a scheduled effect failed; the event stands, the workspace file may be stale',
      ),
    runEffect: (request, ctx) =>
      nix.perform(request, { signal: ctx.signal, onProgress: progressPublisher(nc, subjects, ctx.aggregate, ctx.id, request.kind) }),
    scheduleEffect: (request, ctx) => materializer.schedule(request, `${ctx.aggregate}:${ctx.id}`),
    scheduledSettled: (kind, id) => materializer.settled(`${kind}:${id}`),
    ...(inspection ? { inspector: inspection.hub } : {}),
  });
  inspection?.hub.attachSystem('supervisor', supervisor.actor);

  supervisor.residentCap = config.aggregates.residentCap;
  supervisor.awakeCap = config.aggregates.awakeCap;
  const stopPassivation = supervisor.startPassivation(config.aggregates.passivationIdleMs, config.aggregates.residentCap, (n) =>
    logger.debug({ passivated: n, live: supervisor.liveCount }, 'idle aggregates passivated'),
  );
  const intake = new CommandIntake({ nc, subjects, logger, supervisor, errors, guardPath: workspacePathGuard(config.workspace), commandTimeoutMs: config.aggregates.commandTimeoutMs });
  // Read models: fed by the event stream, catching up in the background; a query that
  // arrives before they are current waits (bounded) for them.
  const projections = await startProjections({ nc, subjects, logger });
  const queries = new QueryIntake({
    subjects,
    errors,
    logger,
    models: projections.models,
    maxPayload: () => nc.info?.max_payload ?? 1024 * 1024,
  });

  const health: HealthSources = {
    version: SERVICE_VERSION,
    instanceId,
    startedAt,
    prefix: subjects.prefix,
    connection: () => ({ state: connection.state, server: connection.server, nc: connection.connection }),
    aggregates: () => ({ live: supervisor.liveCount, awake: supervisor.awakeCount }),
    publisher: () => ({ ...publisher.stats(), dead_letters: deadLetters.stats() }),
    intake: () => intake.stats(),
    readModels: () => projections.models.stats(),
    queries: () => queries.stats(),
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
      relay.connectionRestored();
      void deadLetters.flush(deadLetterSink);
      supervisor.resume();
    } else if (state === 'reconnecting' || state === 'backing_off' || state === 'connecting') {
      publisherActor.send({ type: 'connection.lost' });
      relay.connectionLost();
      supervisor.pause(`NATS connection ${state}`);
    }
  });

  const deadLetterTimer = setInterval(() => {
    if (deadLetters.size > 0 && connection.state === 'connected') void deadLetters.flush(deadLetterSink);
  }, 2_000);
  deadLetterTimer.unref();

  await inspection?.start({
    read: (kind, id) => store.read(kind, id),
    resident: () => supervisor.liveCount,
    context: (kind, id) => supervisor.slot(kind, id)?.snapshot()?.context,
  });

  logger.info(
    { prefix: subjects.prefix, instance_id: instanceId, version: SERVICE_VERSION, stream: subjects.eventStream, workspace: config.workspace },
    `cim-domain-nix ready: commands on ${subjects.commands}, events on ${subjects.events}`,
  );

  return {
    stop: async () => {
      offState();
      clearInterval(deadLetterTimer);
      await discovery.stop();
      await projections.stop();
      stopPassivation();
      await supervisor.drain();
      await materializer.flush();
      materializer.stop();
      await nix.close();
      await relay.stop();
      publisherActor.send({ type: 'stop' });
      await inspection?.stop();
      await nc.flush().catch(() => undefined);
      logger.info({ instance_id: instanceId }, 'service stopped');
    },
  };
}
