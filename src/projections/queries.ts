/**
 * Answers one validated query from the read models. {@link prepareQuery} resolves what the
 * query addresses (ID or natural key, checked to agree) and what it must wait for
 * (`min_sequence`); `run()` hands the query to its kind's runner (src/aggregates/<kind>.ts)
 * and returns the reply body, or throws a {@link DomainError} (`not_found`, `validation` for
 * a cursor that does not fit).
 */
import { registry } from '../../machines/index.js';
import { addressOf } from '../domain/commands.js';
import { DEFAULT_WAIT_MS, type QueryDef } from '../domain/queries.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { QueryOutcome } from './kindProjection.js';
import type { ReadModels } from './readModels.js';

export type { QueryOutcome } from './kindProjection.js';

type AnyPayload = Record<string, unknown>;

export interface PreparedQuery {
  name: string;
  /** Wait until the read models hold this aggregate at this version (read-your-writes). */
  waitFor: { id: string; version: number } | undefined;
  timeoutMs: number;
  run(models: ReadModels): QueryOutcome;
}

/** The aggregate an addressed query names (throws {@link ValidationError} when its ID and natural key disagree). */
function idOf(query: QueryDef, p: AnyPayload, workspace?: string): string | undefined {
  if (!query.addressed) return undefined;
  const def = registry[query.aggregate];
  const addressed = addressOf(def, p, { workspace });
  if (addressed === undefined) return undefined;
  if (!addressed.ok) throw new ValidationError(addressed.message, { fields: [def.addressing.idField] });
  return addressed.id;
}

function notFound(query: QueryDef, p: AnyPayload, id: string): NotFoundError {
  const { addressing } = registry[query.aggregate];
  return new NotFoundError(`no ${addressing.describe(p)} is known (aggregate_id ${id}); it exists once ${addressing.creator} succeeded`, {
    aggregate_id: id,
  });
}

/** Answer a query from the read models (`id`: the aggregate it addresses). */
export function runQuery(models: ReadModels, query: QueryDef, payload: AnyPayload, id = idOf(query, payload)): QueryOutcome {
  const runner = models.projection(query.aggregate).queries[query.action];
  if (!runner) throw new Error(`no runner for the query ${query.name}`);
  return runner({
    model: models.of(query.aggregate),
    name: query.name,
    payload,
    id,
    need: (record) => {
      if (record === undefined || id === undefined) throw notFound(query, payload, id ?? '');
      return record;
    },
  });
}

/** Prepare a validated query (throws {@link ValidationError} when its ID and natural key disagree). */
export function prepareQuery(query: QueryDef, payload: AnyPayload, workspace?: string): PreparedQuery {
  const id = idOf(query, payload, workspace);
  const minSequence = payload['min_sequence'] as number | undefined;
  const waitId = id ?? (payload['aggregate_id'] as string | undefined);
  return {
    name: query.name,
    waitFor: minSequence !== undefined && minSequence > 0 && waitId !== undefined ? { id: waitId, version: minSequence } : undefined,
    timeoutMs: (payload['timeout_ms'] as number | undefined) ?? DEFAULT_WAIT_MS,
    run: (models) => runQuery(models, query, payload, id),
  };
}
