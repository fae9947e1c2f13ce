/**
 * The door of `src/projections/`: the read models, fed by the event stream. On start they
 * replay the whole stream (the events are the only state: no checkpoint can disagree with
 * them), report ready once read up to the stream's last sequence at start, and stay current
 * while the service runs. Every start returns a stop.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Subjects } from '../domain/subjects.js';
import { startEventFeed } from '../messaging/eventFeed.js';
import { ReadModels } from './readModels.js';

export { ReadModels, type ReadModelsStats, type WaitOutcome } from './readModels.js';
export { runQuery, type QueryOutcome } from './queries.js';
export { queryPayloadSchemas, canonicalQuery, type QueryName } from './querySchemas.js';

export interface RunningProjections {
  readonly models: ReadModels;
  stop(): Promise<void>;
}

/**
 * Create the read models and start feeding them. Resolves once the feed runs (not once
 * caught up: queries that arrive before wait for {@link ReadModels.waitFor}).
 */
export async function startProjections(deps: { nc: NatsConnection; subjects: Subjects; logger: Logger }): Promise<RunningProjections> {
  const logger = deps.logger.child({ component: 'projections' });
  const models = new ReadModels(logger);
  const feed = await startEventFeed({
    nc: deps.nc,
    subjects: deps.subjects,
    logger,
    afterSeq: 0,
    onEvent: (stored) => models.apply(stored),
    onUnreadable: (seq, reason) => models.unreadable(seq, reason),
    onIdle: () => models.idle(),
    wantsIdle: () => !models.ready,
    factOf: (event) => ReadModels.factOf(event),
  });
  models.begin(feed.target);
  return {
    models,
    stop: async () => {
      await feed.stop();
      models.stop();
    },
  };
}
