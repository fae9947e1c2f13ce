/**
 * The publisher's mode. Every event leaves through the runtime's publisher, which asks this
 * machine whether to store now (`ready`), hold (`holding`: NATS is away) or refuse
 * (`stopped`); failures and recoveries are events here, so the mode is visible to the
 * inspector. Per-event work stays outside the machine to keep the hot path cheap.
 */
import { setup, assign } from 'xstate';

export type PublisherEvent =
  | { type: 'connection.lost' }
  | { type: 'connection.restored' }
  | { type: 'store.failed'; error: string }
  | { type: 'store.recovered' }
  | { type: 'dead_lettered'; count: number }
  | { type: 'dead_letters.flushed'; count: number }
  | { type: 'stop' };

export interface PublisherContext {
  failures: number;
  dead_lettered: number;
  last_error: string | null;
}

export const PUBLISHER_MACHINE_VERSION = 1;

export const publisherMachine = setup({
  types: { context: {} as PublisherContext, events: {} as PublisherEvent },
}).createMachine({
  id: 'publisher',
  context: { failures: 0, dead_lettered: 0, last_error: null },
  initial: 'ready',
  on: {
    stop: '.stopped',
    dead_lettered: { actions: assign({ dead_lettered: ({ context, event }) => context.dead_lettered + event.count }) },
    'dead_letters.flushed': {
      actions: assign({ dead_lettered: ({ context, event }) => Math.max(0, context.dead_lettered - event.count) }),
    },
  },
  states: {
    ready: {
      on: {
        'connection.lost': 'holding',
        'store.failed': {
          target: 'retrying',
          actions: assign({ failures: ({ context }) => context.failures + 1, last_error: ({ event }) => event.error }),
        },
      },
    },
    retrying: {
      on: {
        'store.recovered': { target: 'ready', actions: assign({ last_error: null }) },
        'store.failed': {
          actions: assign({ failures: ({ context }) => context.failures + 1, last_error: ({ event }) => event.error }),
        },
        'connection.lost': 'holding',
      },
    },
    holding: {
      on: {
        'connection.restored': 'ready',
        'store.recovered': 'ready',
      },
    },
    stopped: { type: 'final' },
  },
});
