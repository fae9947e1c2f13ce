/**
 * What modules and overlays share at run time (both are one rendered file): the read model (the same lifecycle: created, updated, deleted, created
 * again): one record per name, ordered by name, indexed by state. A deleted one stays, with
 * `state: 'deleted'` and no body, so its history of incarnations is not lost.
 */
import { Collection } from '../projections/collection.js';
import type { KindProjection } from '../projections/kindProjection.js';
import { asList, filter, listPage, pageReply } from '../projections/paging.js';
import type { FeedEvent, ResourceView } from '../projections/views.js';

export type ResourceKind = 'module' | 'overlay';

interface Written {
  name: string;
  file: string;
  [body: string]: unknown;
}

export class ResourceModel {
  readonly records = new Collection<ResourceView>();

  constructor(readonly kind: ResourceKind) {}

  version(id: string): number {
    return this.records.get(id)?.version ?? 0;
  }

  /** Apply one module or overlay fact (payload already checked against its schema); false when it does not fit. */
  apply(fe: FeedEvent, data: unknown): boolean {
    const { event } = fe;
    const id = event.aggregate_id;
    const at = event.occurred_at;
    const action = fe.fact.slice(this.kind.length + 1);
    let view = this.records.get(id);
    if (action === 'created') {
      const d = data as Written;
      if (!view) {
        view = {
          id,
          name: d.name,
          state: 'active',
          body: null,
          file: null,
          incarnation: 0,
          version: 0,
          created_at: at,
          updated_at: at,
          deleted_at: null,
        };
        this.records.put(id, d.name, view);
      }
      view.state = 'active';
      view.body = d[this.kind] as Record<string, unknown>;
      view.file = d.file;
      view.incarnation++;
      view.created_at = at;
      view.deleted_at = null;
    } else if (!view) {
      return false;
    } else if (action === 'updated') {
      const d = data as Written;
      view.body = d[this.kind] as Record<string, unknown>;
      view.file = d.file;
    } else if (action === 'deleted') {
      view.state = 'deleted';
      view.body = null;
      view.file = null;
      view.deleted_at = at;
    } else {
      return false;
    }
    view.version = event.sequence;
    view.updated_at = at;
    this.records.index(id, 'state', [view.state]);
    return true;
  }
}

/** The wire form of a module or overlay record: `<kind>_id` and the body under its kind's name. */
export function resourceWire(kind: ResourceKind, view: ResourceView): Record<string, unknown> {
  return {
    [`${kind}_id`]: view.id,
    name: view.name,
    state: view.state,
    [kind]: view.body,
    file: view.file,
    incarnation: view.incarnation,
    version: view.version,
    created_at: view.created_at,
    updated_at: view.updated_at,
    deleted_at: view.deleted_at,
  };
}

/** A module-like kind as the projections see it: get, list (active ones unless asked), and its files. */
export function resourceProjection(kind: ResourceKind): KindProjection<ResourceModel> {
  return {
    kind,
    model: () => new ResourceModel(kind),
    queries: {
      get: ({ model, id, need }) => ({ body: { status: 'ok', [kind]: resourceWire(kind, need(model.records.get(id!))) } }),
      list: ({ model, name, payload }) => {
        const p = payload as { state?: string | string[]; name_prefix?: string; limit?: number; cursor?: string };
        // Deleted ones only when asked for: a deleted module is gone for most readers.
        const page = listPage(name, model.records, p, filter('state', asList(p.state) ?? ['active']), p.name_prefix);
        return pageReply(name, page, (r) => resourceWire(kind, r));
      },
    },
    *files(model) {
      for (const view of model.records.records()) {
        yield { id: view.id, version: view.version, name: view.name, body: view.state === 'deleted' || view.body === null ? undefined : view.body };
      }
    },
  };
}
