/**
 * The service: event store, publisher, aggregate supervisor, command and query intake,
 * health and discovery, wired on one NATS connection. `main.ts` builds the connection and
 * calls {@link startService}; every start returns a stop.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { CLUSTER_DEFAULTS, newInstanceId, partitionOf, type MemberView } from './cluster/index.js';
import type { Config } from './config.js';
import { startupStep } from './errors.js';
import { subjectsFor } from './domain/subjects.js';
import { CommandIntake, type PathGuard } from './intake/commandIntake.js';
import type { ConnectionSupervisor } from './messaging/connection.js';
import { startDiscovery } from './intake/discovery.js';
import { ErrorTopic } from './intake/errorTopic.js';
import { EventPublisher } from './runtime/eventPublisher.js';
import { JetStreamEventLog, KvStateStore, NatsSeedPublisher, type AppendRequest } from './store/index.js';
import { systemClock } from './time/clock.js';
import { answerHealth, type HealthSources } from './intake/health.js';
import { QueryIntake } from './intake/queryIntake.js';
import { desiredWorkspace, startProjections, type ReadModels } from './projections/index.js';
import { flakeSource, kindEffects, kindProjections } from './aggregates/index.js';
import { SeedRelay } from './runtime/seedRelay.js';
import { progressPublisher } from './messaging/progress.js';
import { Inspection } from './inspection/index.js';
import {
  checkCacheUrl,
  checkFlakePath,
  checkFlakeRef,
  checkOutLink,
  createNixPort,
  defaultCacheUrlFor,
  resolveInWorkspace,
  type GuardPolicy,
  type Verdict,
} from './nix/index.js';
import { AggregateSupervisor } from './runtime/aggregateSupervisor.js';
import { Fencing, startClusterRuntime } from './runtime/clusterRuntime.js';
import { DeadLetters } from './runtime/deadLetters.js';
import { EffectPreparation } from './runtime/effectPreparation.js';
import { natsRouteBus } from './intake/routeBus.js';
import { WorkspaceMaterializer } from './runtime/workspaceMaterializer.js';

export interface ServiceDeps {
  config: Config;
  logger: Logger;
  connection: ConnectionSupervisor;
  embeddedWsUrl?: string;
}

export interface RunningService {
  /**
   * Stop in order. `leave` (default true; SIGTERM): hand every partition to the other instances
   * first (SPEC §9); false (a failure): just stop, and the others take over after the lease.
   */
  stop(options?: { leave?: boolean }): Promise<void>;
}

/**
 * For measurements only (the cluster tests compare against it): `off` serves every command
 * where it arrives, the queue-group behaviour before SPEC §9, with no ownership check on stores.
 */
export const ROUTING_ENV = 'CIM_DOMAIN_NIX_ROUTING';

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

/**
 * The intake's guard of every place a command names (src/nix/guards.ts, the rules the effects
 * apply again): paths stay inside the workspace and out of the service's own files, cache URLs
 * are `file://` caches inside it, local flake refs resolve inside it, and a build of a remote
 * flake needs `nix.allowRemoteBuilds`. A refusal is `forbidden`, or `validation` for a value
 * that cannot work (a path through a file, `%` in a local path).
 */
export function workspacePathGuard(workspace: string, options: { defaultCacheUrl?: string; allowRemoteBuilds?: boolean } = {}): PathGuard {
  const root = resolve(workspace);
  const policy: GuardPolicy = {
    workspace: root,
    defaultCacheUrl: options.defaultCacheUrl ?? defaultCacheUrlFor(root),
    allowRemoteBuilds: options.allowRemoteBuilds ?? false,
  };
  return (place) => {
    const base = place.base === undefined ? undefined : resolveInWorkspace(root, place.base);
    let verdict: Verdict;
    if (place.kind === 'flakeDir') verdict = checkFlakePath(policy, place.field, place.path);
    else if (place.kind === 'outLink') verdict = checkOutLink(policy, place.field, place.path);
    else if (place.kind === 'cacheUrl') verdict = checkCacheUrl(policy, place.field, place.path);
    else verdict = checkFlakeRef(policy, place.field, place.path, { build: place.build === true, ...(base?.ok ? { base: base.path } : {}) }).verdict;
    return verdict.ok ? { ok: true } : { ok: false, reason: verdict.reason, code: verdict.code };
  };
}

export async function startService(deps: ServiceDeps): Promise<RunningService> {
  const { config, logger, connection } = deps;
  const nc = await connection.ready();
  const subjects = subjectsFor(config.prefix);
  const instanceId = newInstanceId();
  const startedAt = Date.now();

  await startupStep(`creating the workspace ${config.workspace}`, () => mkdir(config.workspace, { recursive: true }));
  const clock = systemClock;
  // Events are tagged with the instance that stored them and its ownership epoch of the
  // aggregate's partition (header X-Nix-Writer `<instance>@<epoch>`, in the stream only).
  const partitionsOf = (id: string): number => partitionOf(id, config.cluster.partitions);
  let epochOf = (_partition: number): number | undefined => undefined;
  const store = await startupStep(`opening the event stream ${subjects.eventStream}`, () =>
    JetStreamEventLog.open(nc, subjects, logger, {
      replicas: config.cluster.replicas,
      writer: (event) => `${instanceId}@${epochOf(partitionsOf(event.aggregate_id)) ?? 0}`,
    }),
  );
  const state = await startupStep('opening the snapshot and checkpoint buckets', () => KvStateStore.open(nc, subjects, config.cluster.replicas));
  // Inspection (on by default): XState's inspect observer on every actor, published on P.inspect.>.
  const inspection = Inspection.create({ config, logger, nc, subjects, instance: instanceId, version: SERVICE_VERSION, embeddedWsUrl: deps.embeddedWsUrl });
  inspection?.hub.attachSystem('reconnection', connection.actor);
  const deadLetters = new DeadLetters(join(config.workspace, '.deadletter'), logger);
  const publisher = new EventPublisher({
    log: store,
    seeds: new NatsSeedPublisher(nc, subjects, logger),
    subjects,
    logger,
    clock,
    retry: { budgetMs: config.aggregates.storeRetryBudgetMs, initialDelayMs: 50, maxDelayMs: 2_000 },
    deadLetter: (requests) => deadLetters.add(requests),
  });
  inspection?.hub.attachSystem('publisher', publisher.actor);
  const deadLetterSink = {
    append: (req: AppendRequest) => store.append(req),
    read: (kind: string, id: string) => store.read(kind, id),
    publishSeed: (req: Pick<AppendRequest, 'event' | 'fact'>) => publisher.publishSeed(req),
  };
  await startupStep('storing the dead-lettered events', () => deadLetters.flush(deadLetterSink));
  const relay = new SeedRelay(store, state, publisher, logger, clock);
  await startupStep('starting the seed relay', () => relay.start());

  const errors = new ErrorTopic(nc, subjects, logger);
  const nix = createNixPort({
    workspace: config.workspace,
    handlers: kindEffects,
    activationEnabled: config.nix.activationEnabled,
    nixosMarker: config.nix.nixosMarker,
    nixosRebuildBin: config.nix.nixosRebuildBin,
    defaultCacheUrl: config.nix.binaryCacheUrl,
    allowRemoteBuilds: config.nix.allowRemoteBuilds,
  });
  // A failed write is logged once, naming the commands that asked for it (it is retried).
  const materializer = new WorkspaceMaterializer(nix, undefined, (key, outcome, causes) => {
    const colon = key.indexOf(':');
    logger.error(
      {
        aggregate_type: key.slice(0, colon),
        aggregate_id: key.slice(colon + 1),
        effect: outcome.kind,
        commands: causes.length,
        correlation_ids: [...new Set(causes.map((c) => c.correlation_id))].slice(0, 10),
        reason: outcome.message,
      },
      'a scheduled effect failed; the event stands, the workspace file may be stale (retried with back-off)',
    );
  });
  const fencing = new Fencing();
  let shared = (): boolean => false;
  // Set once the read models run (below): the effects only run after that.
  const late: { models?: ReadModels } = {};
  const prepare = new EffectPreparation({
    materializeFlake: (request, source, ctx) => nix.materializeFlake(request, source, ctx),
    readsWorkspace: (request) => nix.readsWorkspace(request),
    flakeSource: flakeSource((kind, id) => store.read(kind, id)),
    shared: () => shared(),
    catchUpAll: async () => {
      if (late.models) materializer.catchUp(desiredWorkspace(late.models));
      await materializer.flush();
    },
    logger,
  });
  const supervisor = new AggregateSupervisor({
    logger,
    clock,
    subjects,
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
    runEffect: async (request, ctx) => {
      await prepare.before(request, { signal: ctx.signal });
      return nix.perform(request, { signal: ctx.signal, onProgress: progressPublisher(nc, subjects, ctx.aggregate, ctx.id, request.kind) });
    },
    mayStore: (slot, origin) => fencing.mayStore(slot, origin),
    onConflict: (slot) => fencing.conflict(slot),
    checkScheduled: (request) => nix.check(request),
    scheduleEffect: (request, ctx, cause) => materializer.post(request, `${ctx.aggregate}:${ctx.id}`, ctx.version, cause),
    scheduledSettled: (kind, id) => materializer.settled(`${kind}:${id}`),
    ...(inspection ? { inspector: inspection.hub } : {}),
  });
  inspection?.hub.attachSystem('supervisor', supervisor.actor);

  supervisor.residentCap = config.aggregates.residentCap;
  supervisor.partitionOf = partitionsOf;
  supervisor.awakeCap = config.aggregates.awakeCap;
  const stopPassivation = supervisor.startPassivation(config.aggregates.passivationIdleMs, config.aggregates.residentCap, (n) =>
    logger.debug({ passivated: n, live: supervisor.liveCount }, 'idle aggregates passivated'),
  );
  // Read models: fed by the event stream, catching up in the background; a query that
  // arrives before they are current waits (bounded) for them.
  const projections = await startupStep('starting the read models', () => startProjections({ log: store, kinds: kindProjections, logger }));
  late.models = projections.models;
  // Several instances (SPEC §9): partitions, leases, routing, handoff and takeover hooks.
  const partitions = config.cluster.partitions;
  const handoffTimeoutMs = CLUSTER_DEFAULTS.handoffTimeoutMs;
  let members = (): MemberView[] => [];
  const clusterRt = await startupStep('joining the cluster (partitions and leases)', () => startClusterRuntime({
    nc: () => connection.connection,
    subjects,
    instanceId,
    host: hostname(),
    version: SERVICE_VERSION,
    partitions,
    leaseMs: config.cluster.leaseMs,
    replicas: config.cluster.replicas,
    handoffTimeoutMs,
    logger,
    local: supervisor,
    bus: natsRouteBus(() => connection.connection ?? nc, subjects),
    routing: process.env[ROUTING_ENV] !== 'off',
    // A takeover needs a lease and a claim; a handoff at most its bound.
    waitMs: Math.min(config.aggregates.commandTimeoutMs, handoffTimeoutMs + 2 * config.cluster.leaseMs),
    fencing,
    progress: () => publisher.watermark.committed,
    hooks: {
      supervisor,
      clock,
      releaseBoundMs: handoffTimeoutMs - 1_000,
      models: projections.models,
      desiredFiles: () => desiredWorkspace(projections.models),
      catchUp: (files) => materializer.catchUp(files),
      streamTail: () => store.tail(),
      log: store,
      publishSeed: (req) => publisher.publishSeed(req),
      progressOf: (instance) => members().find((m) => m.id === instance)?.progress,
    },
  }).catch((e: unknown) => projections.stop().then(() => Promise.reject(e instanceof Error ? e : new Error(String(e))))));
  shared = () => clusterRt.cluster.stats().members_seen > 1;
  members = () => clusterRt.cluster.members();
  epochOf = (p) => clusterRt.cluster.epochOf(p);
  const intake = new CommandIntake({
    subjects,
    logger,
    supervisor: clusterRt.route,
    errors,
    guardPath: workspacePathGuard(config.workspace, { defaultCacheUrl: config.nix.binaryCacheUrl, allowRemoteBuilds: config.nix.allowRemoteBuilds }),
    workspace: config.workspace,
    commandTimeoutMs: config.aggregates.commandTimeoutMs,
  });
  clusterRt.router.listen((msg) => intake.handle(msg));
  // The workspace files are a projection of the stream: once the read models have read it,
  // whatever a crash (or a failed batch of an earlier run) lost is written again.
  const offCatchUp = projections.models.onReady(() => {
    const files = desiredWorkspace(projections.models);
    materializer.catchUp(files);
    logger.info({ files: files.length }, 'workspace files caught up with the event stream (written where they differ)');
  });
  const queries = new QueryIntake({
    subjects,
    errors,
    logger,
    models: projections.models,
    workspace: config.workspace,
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
    workspace: () => materializer.stats(),
    nix: () => nix.probe(),
    cluster: () => ({ ...clusterRt.stats() }),
  };

  const discovery = await startupStep('starting the NATS service endpoints', () =>
    startDiscovery(nc, subjects, logger, { version: SERVICE_VERSION, instanceId }, {
      command: (msg) => intake.handle(msg),
      query: (msg) => queries.handle(msg),
      health: (msg) => answerHealth(msg, health, logger),
    }),
  );

  const offState = connection.onState((state) => {
    if (state === 'connected') {
      publisher.connectionRestored();
      relay.connectionRestored();
      void deadLetters.flush(deadLetterSink);
      supervisor.resume();
    } else if (state === 'reconnecting' || state === 'backing_off' || state === 'connecting') {
      publisher.connectionLost();
      relay.connectionLost();
      supervisor.pause(`NATS connection ${state}`);
    }
  });

  const deadLetterTimer = setInterval(() => {
    if (deadLetters.size > 0 && connection.state === 'connected') void deadLetters.flush(deadLetterSink);
  }, 2_000);
  deadLetterTimer.unref();

  await startupStep('starting the inspector', async () =>
    inspection?.start({
      read: (kind, id) => store.read(kind, id),
      resident: () => supervisor.liveCount,
      context: (kind, id) => supervisor.slot(kind, id)?.snapshot()?.context,
      cluster: () => clusterRt.picture(),
    }),
  );

  // Ready means subscribed at the server: a round trip after the subscriptions, so a client
  // that hears "ready" (or connects after startService resolved) never meets "no responders".
  await startupStep('a round trip to the NATS server after subscribing', () => nc.flush());

  logger.info(
    { prefix: subjects.prefix, instance_id: instanceId, version: SERVICE_VERSION, stream: subjects.eventStream, workspace: config.workspace },
    `cim-domain-nix ready: commands on ${subjects.commands}, events on ${subjects.events}`,
  );

  return {
    stop: async (options = {}) => {
      offState();
      offCatchUp();
      clearInterval(deadLetterTimer);
      // The queue group stops sending here first; commands forwarded here meanwhile are still
      // served or passed on while the partitions are handed off.
      await discovery.stop();
      if (options.leave ?? true) await clusterRt.leave();
      else await clusterRt.stop();
      await clusterRt.router.stop();
      await projections.stop();
      stopPassivation();
      await supervisor.drain();
      await materializer.flush();
      materializer.stop();
      await nix.close();
      await relay.stop();
      publisher.stop();
      await inspection?.stop();
      await nc.flush().catch(() => undefined);
      logger.info({ instance_id: instanceId, cluster: clusterRt.stats() }, 'service stopped');
    },
  };
}
