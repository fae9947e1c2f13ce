/**
 * The door of `src/store/`: the ports of the event log, the state store and the seed
 * subjects, their NATS implementations and their in-memory twins.
 */
export type { AggregateSnapshot, Appended, AppendRequest, EventLog, FollowOptions, Following, SeedPublisher, StateStore, StoredEvent } from './ports.js';
export { JetStreamEventLog, eventStreamConfig } from './jetStreamEventLog.js';
export { KvStateStore } from './kvStateStore.js';
export { MemoryEventLog } from './memoryEventLog.js';
export { MemoryStateStore } from './memoryStateStore.js';
export { MemorySeedPublisher, NatsSeedPublisher, type SeedPublication } from './seedPublishers.js';
