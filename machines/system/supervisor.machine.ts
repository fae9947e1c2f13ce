/**
 * The aggregate supervisor: owns the command intake's mode and routes every command to the
 * aggregate actor keyed by `(kind, id)`. The keyed registry itself is the runtime's
 * `routeCommand` action (a Map), because XState's `spawnChild` copies the children record
 * on every spawn, which is quadratic for a million resident aggregates.
 */
import { setup, assign } from 'xstate';

export interface RoutedCommandRef {
  /** `<kind>:<id>` */
  key: string;
}

export type SupervisorEvent =
  | { type: 'command.route'; command: RoutedCommandRef }
  | { type: 'intake.pause'; reason: string }
  | { type: 'intake.resume' }
  | { type: 'drain' }
  | { type: 'drained' };

export interface SupervisorContext {
  routed: number;
  held: number;
  refused: number;
  pause_reason: string | null;
}

export const SUPERVISOR_MACHINE_VERSION = 1;

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
  },
  actions: {
    /** Deliver to the aggregate actor, spawning it on first use (runtime-provided). */
    routeCommand: (_, _params: { command: RoutedCommandRef }) => {},
    /** Keep the command until intake resumes (runtime-provided). */
    holdCommand: (_, _params: { command: RoutedCommandRef }) => {},
    /** Deliver everything held, in arrival order (runtime-provided). */
    releaseHeld: () => {},
    /** Answer `unavailable`: the service is shutting down (runtime-provided). */
    refuseCommand: (_, _params: { command: RoutedCommandRef }) => {},
  },
}).createMachine({
  id: 'supervisor',
  context: { routed: 0, held: 0, refused: 0, pause_reason: null },
  initial: 'running',
  states: {
    running: {
      on: {
        'command.route': {
          actions: [{ type: 'routeCommand', params: ({ event }) => ({ command: event.command }) }],
        },
        'intake.pause': {
          target: 'paused',
          actions: assign({ pause_reason: ({ event }) => event.reason }),
        },
        drain: 'draining',
      },
    },
    paused: {
      on: {
        'command.route': {
          actions: [
            { type: 'holdCommand', params: ({ event }) => ({ command: event.command }) },
            assign({ held: ({ context }) => context.held + 1 }),
          ],
        },
        'intake.resume': {
          target: 'running',
          actions: ['releaseHeld', assign({ pause_reason: null })],
        },
        drain: 'draining',
      },
    },
    draining: {
      on: {
        'command.route': {
          actions: [
            { type: 'refuseCommand', params: ({ event }) => ({ command: event.command }) },
            assign({ refused: ({ context }) => context.refused + 1 }),
          ],
        },
        drained: 'stopped',
      },
    },
    stopped: { type: 'final' },
  },
});
