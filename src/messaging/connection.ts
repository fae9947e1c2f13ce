/**
 * The runtime of the reconnection supervisor: supplies the machine's `connect` actor with a
 * real nats.js connection attempt, feeds the client's `status()` events back into the
 * machine, and lets nats.js reconnect an established connection on the machine's own
 * backoff schedule (`reconnectDelayHandler`). Every state change and every permission
 * error is logged; a permission error never takes the service down.
 */
import { connect, errors, type NatsConnection, type Status } from '@nats-io/transport-node';
import { createActor, fromPromise, type AnyActorRef, type InspectionEvent } from 'xstate';
import { reconnectionMachine, type ConnectFailure, type ConnectInput, type ConnectOutput } from '../../machines/index.js';
import type { Config } from '../config.js';
import { ConnectionFailedError, ensureError } from '../errors.js';
import type { Logger } from '../logging.js';
import { buildConnectionOptions, classifyConnectError } from './connectionOptions.js';

export type ConnectionStateName = 'connecting' | 'connected' | 'reconnecting' | 'backing_off' | 'stopped' | 'failed';

export interface ConnectionSupervisor {
  /** Resolves with the connection once connected; rejects when attempts are exhausted or the failure is terminal (auth, TLS). */
  ready(): Promise<NatsConnection>;
  readonly connection: NatsConnection | undefined;
  readonly state: ConnectionStateName;
  /** Server URL currently connected to, if any. */
  readonly server: string | undefined;
  /** Why the last attempt failed or the connection closed, if it did. */
  readonly lastError: ConnectFailure | undefined;
  /** Listener called on every state change (and on a permission error with the subject). Returns unsubscribe. */
  onState(listener: (state: ConnectionStateName, detail?: Record<string, unknown>) => void): () => void;
  /**
   * Listener called with every new NatsConnection: the first one, and a fresh one after the
   * client had closed the previous (subscriptions must then be made again). Returns unsubscribe.
   */
  onConnection(listener: (connection: NatsConnection) => void): () => void;
  /** The XState actor (for the inspector). */
  readonly actor: AnyActorRef;
  /** Drains and closes. */
  stop(): Promise<void>;
}

export interface ConnectionSupervisorOptions {
  /** XState inspection observer (the inspector publishes these). */
  inspect?: (ev: InspectionEvent) => void;
  /** Random source for the backoff jitter (tests). */
  random?: () => number;
}

/** `ready()` rejects with this: the attempts are exhausted, the failure is terminal, or the supervisor stopped. */
/** An error the machine's guards can read (`terminal`, `code`). */
function failureError(f: ConnectFailure): Error {
  return Object.assign(new Error(f.message), { terminal: f.terminal, code: f.code });
}

const DRAIN_TIMEOUT_MS = 5_000;

/** Create and start the supervisor; it begins connecting at once. */
export function createConnectionSupervisor(
  config: Config,
  logger: Logger,
  options: ConnectionSupervisorOptions = {},
): ConnectionSupervisor {
  const log = logger.child({ component: 'connection' });
  const stateListeners = new Set<(state: ConnectionStateName, detail?: Record<string, unknown>) => void>();
  const connectionListeners = new Set<(connection: NatsConnection) => void>();
  let current: NatsConnection | undefined;
  let stopping = false;
  let stopPromise: Promise<void> | undefined;

  const notify = (state: ConnectionStateName, detail?: Record<string, unknown>): void => {
    for (const l of stateListeners) {
      try {
        l(state, detail);
      } catch (e) {
        log.error({ err: ensureError(e) }, 'a connection state listener threw');
      }
    }
  };

  const serverUrl = (nc: NatsConnection): string => {
    const hostport = nc.getServer();
    const scheme = nc.info?.tls_required || nc.info?.tls_verify ? 'tls' : 'nats';
    return `${scheme}://${hostport}`;
  };

  const handleStatus = (nc: NatsConnection, s: Status): void => {
    switch (s.type) {
      case 'disconnect':
        actor.send({ type: 'nats.disconnected', server: s.server });
        break;
      case 'reconnecting': {
        actor.send({ type: 'nats.reconnecting' });
        const ctx = actor.getSnapshot().context;
        log.debug({ attempt: ctx.attempt, delay_ms: ctx.delayMs }, `NATS reconnect attempt ${ctx.attempt}`);
        break;
      }
      case 'reconnect':
        actor.send({ type: 'nats.reconnected', server: serverUrl(nc) });
        break;
      case 'error': {
        const e = s.error;
        if (e instanceof errors.PermissionViolationError) {
          const detail = {
            permission_error: { operation: e.operation, subject: e.subject, ...(e.queue ? { queue: e.queue } : {}) },
          };
          log.warn(
            { operation: e.operation, subject: e.subject, queue: e.queue, err: e },
            `NATS permission violation: ${e.operation} on "${e.subject}" is not allowed for this user; the service keeps running`,
          );
          notify(stateOf(), detail);
        } else {
          log.warn({ err: e }, `NATS server error: ${e.message}`);
        }
        break;
      }
      case 'ldm':
        log.warn({ server: s.server }, 'NATS server entered lame duck mode; the client will move to another server');
        break;
      case 'staleConnection':
        log.warn('NATS connection is stale (no PONG); reconnecting');
        break;
      case 'slowConsumer':
        log.warn({ subject: s.sub.getSubject(), pending: s.pending }, 'NATS slow consumer');
        break;
      case 'forceReconnect':
        log.info('NATS reconnect forced');
        break;
      case 'update':
        log.debug({ added: s.added, deleted: s.deleted }, 'NATS cluster update');
        break;
      default:
        break;
    }
  };

  const adopt = (nc: NatsConnection): void => {
    current = nc;
    void (async () => {
      for await (const s of nc.status()) handleStatus(nc, s);
    })().catch((e: unknown) => log.error({ err: ensureError(e) }, 'NATS status stream failed'));
    void nc.closed().then((err) => {
      if (current === nc) current = undefined;
      if (stopping) return;
      const failure = err ? classifyConnectError(err) : undefined;
      log.warn({ err }, `NATS connection closed${failure ? `: ${failure.message}` : ''}`);
      actor.send(failure ? { type: 'nats.closed', error: failure } : { type: 'nats.closed' });
    });
    for (const l of connectionListeners) {
      try {
        l(nc);
      } catch (e) {
        log.error({ err: ensureError(e) }, 'a connection listener threw');
      }
    }
  };

  const connectLogic = fromPromise<ConnectOutput, ConnectInput>(async ({ input, signal }) => {
    let opts;
    try {
      opts = await buildConnectionOptions(config.nats);
    } catch (e) {
      throw failureError(classifyConnectError(e));
    }
    let nc: NatsConnection;
    try {
      nc = await connect({
        ...opts,
        reconnect: true,
        maxReconnectAttempts: -1,
        waitOnFirstConnect: false,
        // Handshake bound: a server that accepts TCP but never answers is retried, not waited on.
        timeout: config.nats.connectTimeoutMs,
        // The delay before each client reconnect attempt: the machine's schedule.
        reconnectDelayHandler: () => (actor.getSnapshot().context as { delayMs: number }).delayMs,
      });
    } catch (e) {
      const failure = classifyConnectError(e);
      log.debug({ attempt: input.attempt, error: failure }, 'NATS connection attempt failed');
      throw failureError(failure);
    }
    if (signal.aborted || stopping) {
      await nc.close().catch(() => undefined);
      throw new Error('stopped while connecting');
    }
    adopt(nc);
    return { server: serverUrl(nc) };
  });

  const machine = reconnectionMachine.provide({ actors: { connect: connectLogic } });
  const actor = createActor(machine, {
    input: {
      ...config.nats.reconnect,
      ...(options.random ? { random: options.random } : {}),
    },
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });

  const stateOf = (): ConnectionStateName => actor.getSnapshot().value;

  let lastState: ConnectionStateName | undefined;
  actor.subscribe({
    next: (snap) => {
      const state = snap.value;
      if (state === lastState) return;
      const previous = lastState;
      lastState = state;
      const ctx = snap.context;
      const fields = {
        state,
        previous,
        attempt: ctx.attempt,
        server: ctx.server ?? undefined,
        servers: config.nats.servers,
        ...(ctx.lastError ? { error: ctx.lastError } : {}),
      };
      switch (state) {
        case 'connecting':
          log.info(fields, `NATS connecting to ${config.nats.servers.join(', ')} (attempt ${ctx.attempt})`);
          break;
        case 'connected':
          log.info(fields, `NATS connected to ${ctx.server ?? '?'}`);
          break;
        case 'reconnecting':
          log.warn(fields, `NATS connection lost; reconnecting to ${config.nats.servers.join(', ')}`);
          break;
        case 'backing_off':
          log.warn(
            { ...fields, delay_ms: ctx.delayMs },
            `NATS not reachable (${ctx.lastError?.message ?? 'closed'}); next attempt in ${ctx.delayMs} ms`,
          );
          break;
        case 'failed':
          log.error(fields, `NATS connection failed: ${ctx.lastError?.message ?? 'unknown reason'}`);
          if (current && !current.isClosed()) void current.close().catch(() => undefined);
          break;
        case 'stopped':
          log.info(fields, 'NATS connection supervisor stopped');
          break;
      }
      notify(state, {
        attempt: ctx.attempt,
        ...(ctx.server ? { server: ctx.server } : {}),
        ...(ctx.lastError ? { error: ctx.lastError } : {}),
      });
    },
    error: (e) => log.error({ err: ensureError(e) }, 'the reconnection supervisor failed'),
  });
  actor.start();

  const supervisor: ConnectionSupervisor = {
    ready(): Promise<NatsConnection> {
      return new Promise<NatsConnection>((resolve, reject) => {
        const settle = (): boolean => {
          const snap = actor.getSnapshot();
          const state = snap.value;
          if (state === 'connected' && current) {
            resolve(current);
            return true;
          }
          if (state === 'failed') {
            const err = snap.context.lastError;
            reject(new ConnectionFailedError(err?.message ?? 'NATS connection failed', err?.code ?? 'failed', err?.terminal ?? true));
            return true;
          }
          if (state === 'stopped') {
            reject(new ConnectionFailedError('the connection supervisor was stopped before it connected', 'stopped', true));
            return true;
          }
          return false;
        };
        if (settle()) return;
        const sub = actor.subscribe({
          next: () => {
            if (settle()) sub.unsubscribe();
          },
          error: (e) => reject(ensureError(e)),
        });
      });
    },
    get connection() {
      return current;
    },
    get state() {
      return stateOf();
    },
    get server() {
      return stateOf() === 'connected' ? (actor.getSnapshot().context.server ?? undefined) : undefined;
    },
    get lastError() {
      return actor.getSnapshot().context.lastError ?? undefined;
    },
    onState(listener) {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    onConnection(listener) {
      connectionListeners.add(listener);
      return () => connectionListeners.delete(listener);
    },
    actor,
    stop(): Promise<void> {
      stopPromise ??= (async () => {
        const nc = current;
        const wasConnected = stateOf() === 'connected';
        stopping = true;
        // A failed (final) machine takes no more events.
        if (actor.getSnapshot().status === 'active') actor.send({ type: 'stop' });
        if (nc && !nc.isClosed()) {
          if (wasConnected) {
            await withTimeout(nc.drain(), DRAIN_TIMEOUT_MS).catch(async (e: unknown) => {
              log.warn({ err: ensureError(e) }, 'NATS drain did not finish; closing');
              await nc.close().catch(() => undefined);
            });
          } else {
            await nc.close().catch(() => undefined);
          }
        }
        current = undefined;
        actor.stop();
      })();
      return stopPromise;
    },
  };
  return supervisor;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(ensureError(e));
      },
    );
  });
}
