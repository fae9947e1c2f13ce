/**
 * The aggregate supervisor's mode: whether commands are delivered (`running`), held while
 * NATS is away (`paused`; everything held is delivered, in arrival order, on resume) or
 * refused (`draining`, then `stopped`, at shutdown). The runtime reads the mode on every
 * command — one routing path, no transition per command — and keeps the keyed registry of
 * aggregates itself (a Map), because XState's `spawnChild` copies the children record on
 * every spawn, which is quadratic for a million resident aggregates.
 */
import { setup, assign } from 'xstate';

export type SupervisorEvent = { type: 'intake.pause'; reason: string } | { type: 'intake.resume' } | { type: 'drain' } | { type: 'drained' };

export interface SupervisorContext {
  /** Why intake is paused (null while running). */
  pause_reason: string | null;
  /** How many times intake was paused. */
  pauses: number;
}

export const SUPERVISOR_MACHINE_VERSION = 2;

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
  },
  actions: {
    /** Deliver everything held, in arrival order (runtime-provided). */
    releaseHeld: () => {},
  },
}).createMachine({
  id: 'supervisor',
  context: { pause_reason: null, pauses: 0 },
  initial: 'running',
  states: {
    running: {
      on: {
        'intake.pause': {
          target: 'paused',
          actions: assign({ pause_reason: ({ event }) => event.reason, pauses: ({ context }) => context.pauses + 1 }),
        },
        drain: 'draining',
      },
    },
    paused: {
      on: {
        'intake.pause': { actions: assign({ pause_reason: ({ event }) => event.reason }) },
        'intake.resume': {
          target: 'running',
          actions: ['releaseHeld', assign({ pause_reason: null })],
        },
        drain: 'draining',
      },
    },
    draining: {
      on: { drained: 'stopped' },
    },
    stopped: { type: 'final' },
  },
});
