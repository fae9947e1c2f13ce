/**
 * The reconnection supervisor: owns the lifecycle of the NATS connection as visible states
 * (connecting, connected, reconnecting, backing off, stopped, failed).
 *
 * It is pure: the connection attempt is the `connect` actor, declared here and supplied by
 * the runtime with `machine.provide({ actors: { connect } })`; the wait between attempts is
 * the `backoff` delay on the actor clock, so a `SimulatedClock` drives it in tests. Once a
 * connection is established, the client library reconnects by itself; the runtime reports
 * its progress as `nats.*` events and asks the machine for the delay before each retry
 * (`context.delayMs`), so both paths follow one schedule.
 */
import { assign, fromPromise, setup } from 'xstate';

/** Exponential backoff with full jitter: the delay before retry n is uniform in [0, ceiling(n)). */
export interface BackoffPolicy {
  /** Ceiling of the first delay, in ms. */
  initialDelayMs: number;
  /** Growth of the ceiling per attempt. */
  factor: number;
  /** Upper bound of every ceiling, in ms. */
  maxDelayMs: number;
  /** Connection attempts in a row before giving up; `null` retries forever. */
  maxAttempts: number | null;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialDelayMs: 100,
  factor: 2,
  maxDelayMs: 2000,
  maxAttempts: null,
};

/** The ceiling of the delay after failed attempt `attempt` (1-based): min(cap, initial × factor^(attempt−1)). */
export function backoffCeiling(attempt: number, policy: Pick<BackoffPolicy, 'initialDelayMs' | 'factor' | 'maxDelayMs'>): number {
  const n = Math.max(1, Math.floor(attempt));
  const raw = policy.initialDelayMs * Math.pow(policy.factor, n - 1);
  // Past the cap (or on overflow to Infinity) the ceiling is the cap.
  return Number.isFinite(raw) ? Math.min(policy.maxDelayMs, raw) : policy.maxDelayMs;
}

/** Full jitter: a whole number of ms, uniform in [0, ceiling], from a random source in [0, 1). */
export function backoffDelay(
  attempt: number,
  policy: Pick<BackoffPolicy, 'initialDelayMs' | 'factor' | 'maxDelayMs'>,
  random: () => number,
): number {
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(r * backoffCeiling(attempt, policy));
}

/** Why an attempt failed or a connection closed, as the runtime describes it. */
export interface ConnectFailure {
  message: string;
  /** Terminal failures (bad credentials, unusable TLS material) are never retried. */
  terminal: boolean;
  /** A short machine-readable kind, e.g. `auth`, `tls`, `refused`. */
  code?: string;
}

/** What the `connect` actor is given: the attempt number (1-based, within this outage). */
export interface ConnectInput {
  attempt: number;
}

/** What the `connect` actor resolves with once connected. */
export interface ConnectOutput {
  server: string;
}

export interface ReconnectionInput extends Partial<BackoffPolicy> {
  /** Random source in [0, 1) for the jitter; injectable so tests get a fixed schedule. */
  random?: () => number;
}

export interface ReconnectionContext {
  policy: BackoffPolicy;
  random: () => number;
  /** Attempts made in the current outage (0 while connected). */
  attempt: number;
  /** The delay before the next attempt (ms), drawn when the last attempt started or failed. */
  delayMs: number;
  /** The server connected to, when connected or reconnecting. */
  server: string | null;
  lastError: ConnectFailure | null;
  /** Times the connection was (re)established. */
  connections: number;
}

export type ReconnectionEvent =
  /** The client lost the connection and starts reconnecting by itself. */
  | { type: 'nats.disconnected'; server?: string }
  /** The client starts one reconnect attempt. */
  | { type: 'nats.reconnecting' }
  /** The client is connected again. */
  | { type: 'nats.reconnected'; server?: string }
  /** The client gave up and closed; `error` says why (absent for a clean close). */
  | { type: 'nats.closed'; error?: ConnectFailure }
  /** Drain and stay down. */
  | { type: 'stop' };

export const ConnectionState = {
  connecting: 'connecting',
  connected: 'connected',
  reconnecting: 'reconnecting',
  backing_off: 'backing_off',
  stopped: 'stopped',
  failed: 'failed',
} as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

function toFailure(error: unknown): ConnectFailure {
  if (typeof error === 'object' && error !== null) {
    const e = error as { message?: unknown; terminal?: unknown; code?: unknown };
    const failure: ConnectFailure = {
      message: typeof e.message === 'string' ? e.message : 'the connection attempt failed',
      terminal: e.terminal === true,
    };
    if (typeof e.code === 'string') failure.code = e.code;
    return failure;
  }
  return { message: String(error), terminal: false };
}

function exhausted(context: ReconnectionContext): boolean {
  const max = context.policy.maxAttempts;
  return max !== null && context.attempt >= max;
}

export const reconnectionMachine = setup({
  types: {
    context: {} as ReconnectionContext,
    events: {} as ReconnectionEvent,
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- XState's way to declare the input type
    input: {} as ReconnectionInput | undefined,
  },
  actors: {
    /** One connection attempt; the runtime supplies the real one. */
    connect: fromPromise<ConnectOutput, ConnectInput>(() => Promise.reject(new Error('the connect actor must be provided by the runtime'))),
  },
  delays: {
    backoff: ({ context }) => context.delayMs,
  },
  guards: {
    failureIsTerminal: ({ event }) => toFailure((event as { error?: unknown }).error).terminal,
    attemptsExhausted: ({ context }) => exhausted(context),
    closedTerminally: ({ event }) => event.type === 'nats.closed' && event.error?.terminal === true,
    nextAttemptExceedsLimit: ({ context }) => {
      const max = context.policy.maxAttempts;
      return max !== null && context.attempt + 1 > max;
    },
  },
  actions: {
    /** Start counting a new outage. */
    beginOutage: assign({ attempt: 0 }),
    /** One more attempt starts; draw the delay that follows it should it fail. */
    countAttempt: assign(({ context }) => {
      const attempt = context.attempt + 1;
      return { attempt, delayMs: backoffDelay(attempt, context.policy, context.random) };
    }),
    /** Record the failure of the attempt that just ended. */
    recordFailure: assign({ lastError: ({ event }) => toFailure((event as { error?: unknown }).error) }),
    recordClose: assign({
      lastError: ({ event, context }) => (event.type === 'nats.closed' && event.error ? event.error : context.lastError),
    }),
    recordExhausted: assign({
      lastError: ({ context }) => ({
        message: `gave up after ${context.attempt} connection attempt(s)${
          context.lastError ? `; last error: ${context.lastError.message}` : ''
        }`,
        terminal: true,
        code: 'attempts_exhausted',
      }),
    }),
    markConnected: assign({
      attempt: 0,
      lastError: null,
      connections: ({ context }) => context.connections + 1,
      server: ({ context, event }) => {
        const output = (event as { output?: ConnectOutput }).output;
        if (output) return output.server;
        if (event.type === 'nats.reconnected' && event.server) return event.server;
        return context.server;
      },
    }),
    clearServer: assign({ server: null }),
  },
}).createMachine({
  id: 'reconnection',
  context: ({ input }) => {
    const policy: BackoffPolicy = {
      initialDelayMs: input?.initialDelayMs ?? DEFAULT_BACKOFF.initialDelayMs,
      factor: input?.factor ?? DEFAULT_BACKOFF.factor,
      maxDelayMs: input?.maxDelayMs ?? DEFAULT_BACKOFF.maxDelayMs,
      maxAttempts: input?.maxAttempts ?? DEFAULT_BACKOFF.maxAttempts,
    };
    return {
      policy,
      random: input?.random ?? Math.random,
      attempt: 0,
      delayMs: 0,
      server: null,
      lastError: null,
      connections: 0,
    };
  },
  initial: 'connecting',
  on: {
    stop: { target: '.stopped' },
  },
  states: {
    connecting: {
      entry: 'countAttempt',
      invoke: {
        src: 'connect',
        input: ({ context }) => ({ attempt: context.attempt }),
        onDone: { target: 'connected', actions: 'markConnected' },
        onError: [
          { guard: 'failureIsTerminal', target: 'failed', actions: 'recordFailure' },
          { guard: 'attemptsExhausted', target: 'failed', actions: ['recordFailure', 'recordExhausted'] },
          { target: 'backing_off', actions: 'recordFailure' },
        ],
      },
    },
    backing_off: {
      after: { backoff: 'connecting' },
    },
    connected: {
      on: {
        'nats.disconnected': { target: 'reconnecting', actions: 'beginOutage' },
        'nats.closed': [
          { guard: 'closedTerminally', target: 'failed', actions: ['recordClose', 'clearServer'] },
          { target: 'backing_off', actions: ['recordClose', 'clearServer', 'beginOutage', 'countAttempt'] },
        ],
      },
    },
    reconnecting: {
      on: {
        'nats.reconnecting': [
          { guard: 'nextAttemptExceedsLimit', target: 'failed', actions: 'recordExhausted' },
          { actions: 'countAttempt' },
        ],
        'nats.reconnected': { target: 'connected', actions: 'markConnected' },
        'nats.closed': [
          { guard: 'closedTerminally', target: 'failed', actions: ['recordClose', 'clearServer'] },
          { target: 'backing_off', actions: ['recordClose', 'clearServer', 'countAttempt'] },
        ],
      },
    },
    stopped: { type: 'final' },
    failed: { type: 'final' },
  },
});
