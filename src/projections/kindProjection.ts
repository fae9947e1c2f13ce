/**
 * What a kind's runtime file (src/aggregates/<kind>.ts) gives the projections: a read model
 * to feed, the runners of its queries, and — for a kind that owns workspace files — what its
 * records say those files should hold. The projections iterate these; none is named.
 */
import type { AggregateKind } from '../../machines/index.js';
import type { Collection } from './collection.js';
import type { FeedEvent } from './views.js';

/** A kind's read model: one record per aggregate, fed one checked fact at a time. */
export interface KindModel {
  readonly records: Collection<unknown>;
  /** The aggregate's version in the model (0 when unknown). */
  version(id: string): number;
  /** Apply one fact (payload already checked against its schema); false when it does not fit. */
  apply(fe: FeedEvent, data: unknown): boolean;
  /**
   * The aggregates whose last fact left them waiting for an effect that outlives its owner (a
   * package `building`): an instance that takes over their partition loads them, so the effect
   * runs again. Kinds without such a state leave it out.
   */
  awaitingEffect?(): Iterable<string>;
}

/** A reply body, and for a page a way to cut it shorter (when the reply would exceed the server's max payload). */
export interface QueryOutcome {
  body: Record<string, unknown>;
  /** The same page with only its first `keep` items (and the cursor after the last of them). */
  shrink?: (keep: number) => Record<string, unknown>;
}

/** What a query runner gets: its kind's model, the validated payload, the id it addresses (addressed queries). */
export interface QueryRun<M extends KindModel = KindModel> {
  model: M;
  /** `<agg>.<action>` (canonical). */
  name: string;
  payload: Record<string, unknown>;
  id: string | undefined;
  /** The record the addressed query names, or a `not_found` that says how it comes to exist. */
  need: <R>(record: R | undefined) => R;
}

/** The file an aggregate's record says the workspace holds (no body: the file is gone). */
export interface RecordedFile {
  id: string;
  version: number;
  name: string;
  body: Record<string, unknown> | undefined;
}

/** A kind as the projections see it. */
export interface KindProjection<M extends KindModel = KindModel> {
  kind: AggregateKind;
  model(): M;
  /** Query action (canonical) -> runner. */
  queries: Record<string, (run: QueryRun<M>) => QueryOutcome>;
  /** The files its records describe (kinds that own workspace files). */
  files?(model: M): Iterable<RecordedFile>;
}
