/** The in-memory twins held to the store contract the JetStream and KV implementations meet. */
import { MemoryEventLog, MemoryStateStore } from '../../../src/store/index.js';
import { storeContract } from '../../support/storeContract.js';

storeContract('in-memory twins', () => Promise.resolve({ log: new MemoryEventLog(), state: new MemoryStateStore(), dispose: () => Promise.resolve() }));
