/**
 * The door of `src/projections/`: the read models, fed by the event stream. On start they
 * replay the whole stream (the events are the only state: no checkpoint can disagree with
 * them), report ready once read up to the stream's last sequence at start, and stay current
 * while the service runs. Every start returns a stop.
 */
import type { Logger } from 'pino';
import type { EventLog } from '../store/index.js';
import type { KindProjection } from './kindProjection.js';
import { ReadModels } from './readModels.js';

export { ReadModels, type ReadModelsStats, type WaitOutcome } from './readModels.js';
export { prepareQuery, runQuery, type PreparedQuery, type QueryOutcome } from './queries.js';
export { desiredWorkspace, type DesiredFile } from './workspaceState.js';
export type { KindModel, KindProjection, QueryRun, RecordedFile } from './kindProjection.js';

export interface RunningProjections {
  readonly models: ReadModels;
  stop(): Promise<void>;
}

/**
 * Create the read models and start feeding them. Resolves once the feed runs (not once
 * caught up: queries that arrive before wait for {@link ReadModels.waitFor}).
 */
export async function startProjections(deps: { log: EventLog; kinds: readonly KindProjection[]; logger: Logger }): Promise<RunningProjections> {
  const logger = deps.logger.child({ component: 'projections' });
  const models = new ReadModels(deps.kinds, logger);
  const feed = await deps.log.follow({
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
