/** System machines: aggregate supervisor, publisher, reconnection supervisor. */
export * from './supervisor.machine.js';
export * from './publisher.machine.js';
export * from './reconnection.machine.js';
