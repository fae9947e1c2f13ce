import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, initialTransition, SimulatedClock, transition, type Actor } from 'xstate';
import {
  backoffCeiling,
  backoffDelay,
  reconnectionMachine,
  type ConnectInput,
  type ConnectOutput,
  type ReconnectionInput,
} from '../../machines/system/reconnection.machine.js';

/** A scripted connect actor: each attempt takes the next outcome (a server, or an error to reject with). */
type Outcome = { server: string } | { error: { message: string; terminal: boolean; code?: string } };

function harness(outcomes: Outcome[], input: ReconnectionInput = {}) {
  const clock = new SimulatedClock();
  const attempts: { attempt: number; at: number }[] = [];
  const machine = reconnectionMachine.provide({
    actors: {
      connect: fromPromise<ConnectOutput, ConnectInput>(({ input: i }) => {
        attempts.push({ attempt: i.attempt, at: clock.now() });
        const next = outcomes.shift();
        if (!next) return new Promise<ConnectOutput>(() => undefined); // never settles
        return 'server' in next
          ? Promise.resolve({ server: next.server })
          : Promise.reject(Object.assign(new Error(next.error.message), next.error));
      }),
    },
  });
  const actor = createActor(machine, { clock, input });
  return { clock, attempts, actor };
}

/** Let the promise of the connect actor settle. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

const state = (actor: Actor<typeof reconnectionMachine>): unknown => actor.getSnapshot().value;

describe('reconnection machine: delay schedule', () => {
  const policy = { initialDelayMs: 100, factor: 2, maxDelayMs: 2000 };

  it('grows the ceiling exponentially from the initial delay up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50, 5000].map((n) => backoffCeiling(n, policy))).toEqual([
      100, 200, 400, 800, 1600, 2000, 2000, 2000, 2000,
    ]);
  });

  it('draws each delay uniformly below the ceiling (full jitter)', () => {
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(200);
    expect(backoffDelay(3, policy, () => 0.999999)).toBe(400);
    expect(backoffDelay(10, policy, () => 0.25)).toBe(500);
  });

  it('never exceeds the cap for any random value', () => {
    for (let n = 1; n < 40; n++) {
      for (const r of [0, 0.1, 0.5, 0.9, 0.99999]) {
        const d = backoffDelay(n, policy, () => r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(2000);
      }
    }
  });

  it('honours a different initial delay, factor and cap', () => {
    const p = { initialDelayMs: 50, factor: 3, maxDelayMs: 1000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffCeiling(n, p))).toEqual([50, 150, 450, 1000, 1000]);
  });
});

describe('reconnection machine: first connection', () => {
  it('connects on the first attempt', async () => {
    const { actor, attempts } = harness([{ server: 'nats://a:1' }]);
    actor.start();
    await settle();
    expect(state(actor)).toBe('connected');
    expect(actor.getSnapshot().context.server).toBe('nats://a:1');
    expect(attempts.map((a) => a.attempt)).toEqual([1]);
  });

  it('backs off on the clock between failed attempts, following the schedule', async () => {
    const refused = { error: { message: 'connection refused', terminal: false } };
    // random() = 1 - ε: every delay is its ceiling, so the schedule is exact.
    const { actor, attempts, clock } = harness([refused, refused, refused, refused, { server: 'nats://a:1' }], {
      random: () => 0.9999999,
    });
    actor.start();
    await settle();
    expect(state(actor)).toBe('backing_off');
    expect(actor.getSnapshot().context.delayMs).toBe(100);

    clock.increment(99);
    await settle();
    expect(attempts).toHaveLength(1); // not yet
    clock.increment(1);
    await settle();
    expect(attempts).toHaveLength(2);
    expect(state(actor)).toBe('backing_off');
    expect(actor.getSnapshot().context.delayMs).toBe(200);

    clock.increment(200);
    await settle();
    expect(actor.getSnapshot().context.delayMs).toBe(400);
    clock.increment(400);
    await settle();
    expect(actor.getSnapshot().context.delayMs).toBe(800);
    clock.increment(800);
    await settle();
    expect(state(actor)).toBe('connected');
    expect(attempts.map((a) => a.at)).toEqual([0, 100, 300, 700, 1500]);
    expect(actor.getSnapshot().context.attempt).toBe(0);
  });

  it('uses the injected random source for the jitter', async () => {
    const refused = { error: { message: 'connection refused', terminal: false } };
    const { actor, attempts, clock } = harness([refused, refused, { server: 'nats://a:1' }], { random: () => 0.5 });
    actor.start();
    await settle();
    expect(actor.getSnapshot().context.delayMs).toBe(50);
    clock.increment(50);
    await settle();
    expect(actor.getSnapshot().context.delayMs).toBe(100);
    clock.increment(100);
    await settle();
    expect(state(actor)).toBe('connected');
    expect(attempts.map((a) => a.at)).toEqual([0, 50, 150]);
  });

  it('caps every delay at the configured maximum', async () => {
    const refused = { error: { message: 'connection refused', terminal: false } };
    const { actor, clock } = harness(
      Array.from({ length: 12 }, () => refused),
      {
        random: () => 0.9999999,
        maxDelayMs: 2000,
      },
    );
    actor.start();
    await settle();
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      delays.push(actor.getSnapshot().context.delayMs);
      clock.increment(actor.getSnapshot().context.delayMs);
      await settle();
    }
    expect(delays).toEqual([100, 200, 400, 800, 1600, 2000, 2000, 2000, 2000, 2000]);
  });

  it('fails after the attempt limit, naming the last error', async () => {
    const refused = { error: { message: 'connection refused', terminal: false, code: 'refused' } };
    const { actor, attempts, clock } = harness([refused, refused, refused, refused], {
      maxAttempts: 3,
      random: () => 0.9999999,
    });
    actor.start();
    await settle();
    clock.increment(100);
    await settle();
    clock.increment(200);
    await settle();
    expect(attempts).toHaveLength(3);
    expect(state(actor)).toBe('failed');
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().context.lastError?.code).toBe('attempts_exhausted');
    expect(actor.getSnapshot().context.lastError?.message).toMatch(/3 connection attempt.*connection refused/);
  });

  it('goes straight to failed on a terminal failure, without retrying', async () => {
    const { actor, attempts, clock } = harness([
      { error: { message: 'Authorization Violation', terminal: true, code: 'auth' } },
      { server: 'nats://a:1' },
    ]);
    actor.start();
    await settle();
    clock.increment(10_000);
    await settle();
    expect(state(actor)).toBe('failed');
    expect(attempts).toHaveLength(1);
    expect(actor.getSnapshot().context.lastError).toEqual({
      message: 'Authorization Violation',
      terminal: true,
      code: 'auth',
    });
  });

  it('stops while backing off and never attempts again', async () => {
    const refused = { error: { message: 'connection refused', terminal: false } };
    const { actor, attempts, clock } = harness([refused, { server: 'nats://a:1' }]);
    actor.start();
    await settle();
    actor.send({ type: 'stop' });
    clock.increment(10_000);
    await settle();
    expect(state(actor)).toBe('stopped');
    expect(attempts).toHaveLength(1);
  });

  it('stops while an attempt is in flight', async () => {
    const { actor } = harness([]); // the attempt never settles
    actor.start();
    await settle();
    expect(state(actor)).toBe('connecting');
    actor.send({ type: 'stop' });
    expect(state(actor)).toBe('stopped');
  });
});

describe('reconnection machine: an established connection', () => {
  async function connected(input: ReconnectionInput = {}, more: Outcome[] = []) {
    const h = harness([{ server: 'nats://a:1' }, ...more], input);
    h.actor.start();
    await settle();
    expect(state(h.actor)).toBe('connected');
    return h;
  }

  it('goes to reconnecting on disconnect and back to connected on reconnect', async () => {
    const { actor } = await connected();
    actor.send({ type: 'nats.disconnected', server: 'nats://a:1' });
    expect(state(actor)).toBe('reconnecting');
    actor.send({ type: 'nats.reconnecting' });
    actor.send({ type: 'nats.reconnecting' });
    expect(actor.getSnapshot().context.attempt).toBe(2);
    actor.send({ type: 'nats.reconnected', server: 'nats://b:2' });
    expect(state(actor)).toBe('connected');
    expect(actor.getSnapshot().context.server).toBe('nats://b:2');
    expect(actor.getSnapshot().context.attempt).toBe(0);
    expect(actor.getSnapshot().context.connections).toBe(2);
  });

  it('draws the client reconnect delays from the same schedule', async () => {
    const { actor } = await connected({ random: () => 0.9999999 });
    actor.send({ type: 'nats.disconnected' });
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      actor.send({ type: 'nats.reconnecting' });
      delays.push(actor.getSnapshot().context.delayMs);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1600, 2000, 2000]);
  });

  it('fails when reconnect attempts exceed the limit', async () => {
    const { actor } = await connected({ maxAttempts: 2 });
    actor.send({ type: 'nats.disconnected' });
    actor.send({ type: 'nats.reconnecting' });
    actor.send({ type: 'nats.reconnecting' });
    expect(state(actor)).toBe('reconnecting');
    actor.send({ type: 'nats.reconnecting' });
    expect(state(actor)).toBe('failed');
    expect(actor.getSnapshot().context.lastError?.code).toBe('attempts_exhausted');
  });

  it('retries forever by default', async () => {
    const { actor } = await connected();
    actor.send({ type: 'nats.disconnected' });
    for (let i = 0; i < 1000; i++) actor.send({ type: 'nats.reconnecting' });
    expect(state(actor)).toBe('reconnecting');
  });

  it('backs off and connects anew when the client closes the connection', async () => {
    const { actor, attempts, clock } = await connected({ random: () => 0.9999999 }, [{ server: 'nats://a:1' }]);
    actor.send({ type: 'nats.closed', error: { message: 'stale connection', terminal: false } });
    expect(state(actor)).toBe('backing_off');
    expect(actor.getSnapshot().context.server).toBeNull();
    clock.increment(actor.getSnapshot().context.delayMs);
    await settle();
    expect(state(actor)).toBe('connected');
    expect(attempts).toHaveLength(2);
  });

  it('fails when the client closes for a terminal reason', async () => {
    const { actor } = await connected();
    actor.send({ type: 'nats.disconnected' });
    actor.send({ type: 'nats.closed', error: { message: 'Authorization Violation', terminal: true, code: 'auth' } });
    expect(state(actor)).toBe('failed');
    expect(actor.getSnapshot().context.lastError?.code).toBe('auth');
  });

  it('stops from connected and from reconnecting', async () => {
    const a = await connected();
    a.actor.send({ type: 'stop' });
    expect(state(a.actor)).toBe('stopped');
    const b = await connected();
    b.actor.send({ type: 'nats.disconnected' });
    b.actor.send({ type: 'stop' });
    expect(state(b.actor)).toBe('stopped');
  });

  it('ignores client reports that do not apply to the state', async () => {
    const { actor } = await connected();
    actor.send({ type: 'nats.reconnected' });
    actor.send({ type: 'nats.reconnecting' });
    expect(state(actor)).toBe('connected');
    expect(actor.getSnapshot().context.attempt).toBe(0);
  });
});

describe('reconnection machine: pure transitions', () => {
  const [initial, initialActions] = initialTransition(reconnectionMachine, { random: () => 0.5 });

  it('starts connecting: counts attempt 1, draws its delay and invokes connect', () => {
    expect(initial.value).toBe('connecting');
    expect(initial.context.attempt).toBe(1);
    expect(initial.context.delayMs).toBe(50);
    expect(initialActions.map((a) => a.type)).toContain('xstate.spawnChild');
  });

  it('goes from connected to reconnecting on disconnect, and counts client attempts', () => {
    const connected = reconnectionMachine.resolveState({
      value: 'connected',
      context: { ...initial.context, attempt: 0, server: 'nats://a:1' },
    });
    const [reconnecting] = transition(reconnectionMachine, connected, { type: 'nats.disconnected' });
    expect(reconnecting.value).toBe('reconnecting');
    const [next] = transition(reconnectionMachine, reconnecting, { type: 'nats.reconnecting' });
    expect(next.context.attempt).toBe(1);
    expect(next.context.delayMs).toBe(50);
  });

  it('stops from any state on stop', () => {
    for (const value of ['connecting', 'connected', 'reconnecting', 'backing_off'] as const) {
      const snap = reconnectionMachine.resolveState({ value, context: initial.context });
      const [next] = transition(reconnectionMachine, snap, { type: 'stop' });
      expect(next.value).toBe('stopped');
      expect(next.status).toBe('done');
    }
  });
});
