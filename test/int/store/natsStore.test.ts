/** The JetStream event log and the KV state store held to the store contract, on a real nats-server. */
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { subjectsFor } from '../../../src/domain/subjects.js';
import { JetStreamEventLog, KvStateStore } from '../../../src/store/index.js';
import { startNatsServer } from '../../support/natsServer.js';
import { uniquePrefix } from '../../support/service.js';
import { storeContract } from '../../support/storeContract.js';

storeContract('JetStream and KV', async () => {
  const server = await startNatsServer();
  const nc = await connect({ servers: server.url });
  const subjects = subjectsFor(uniquePrefix('store'));
  const log = await JetStreamEventLog.open(nc, subjects, pino({ level: 'silent' }));
  const state = await KvStateStore.open(nc, subjects);
  return {
    log,
    state,
    dispose: async () => {
      await nc.close();
      await server.dispose();
    },
  };
});
