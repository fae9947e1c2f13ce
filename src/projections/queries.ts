/**
 * Answers one validated query from the read models. {@link prepareQuery} resolves what the
 * query addresses (ID or natural key, checked to agree) and what it must wait for
 * (`min_sequence`); `run()` reads the models and returns the reply body, or throws a
 * {@link DomainError} (`not_found`, `validation` for a cursor that does not fit).
 */
import type { z } from 'zod';
import { flakeId, namedId, packageId } from '../domain/ids.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { Collection, IndexFilter, Page } from './collection.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import type { ReadModels } from './readModels.js';
import { DEFAULT_LIMIT, DEFAULT_WAIT_MS, type QueryName, type queryPayloadSchemas } from './querySchemas.js';
import { resourceWire, type ResourceKind } from './resources.js';
import type { ConfigView } from './views.js';

type Payload<N extends QueryName> = z.output<(typeof queryPayloadSchemas)[N]>;
type AnyPayload = Record<string, unknown>;

/** A reply body, and for a page a way to cut it shorter (when the reply would exceed the server's max payload). */
export interface QueryOutcome {
  body: Record<string, unknown>;
  /** The same page with only its first `keep` items (and the cursor after the last of them). */
  shrink?: (keep: number) => Record<string, unknown>;
}

export interface PreparedQuery {
  name: QueryName;
  /** Wait until the read models hold this aggregate at this version (read-your-writes). */
  waitFor: { id: string; version: number } | undefined;
  timeoutMs: number;
  run(models: ReadModels): QueryOutcome;
}

function agree(given: unknown, computed: string, field: string, key: string): string {
  if (given !== undefined && given !== computed) {
    throw new ValidationError(
      `${field} ${JSON.stringify(given)} does not match ${key} (which gives ${computed}); send one or make them agree`,
      {
        fields: [field],
      },
    );
  }
  return computed;
}

/** The aggregate ID an addressed query names. */
function addressOf(name: QueryName, p: AnyPayload): string | undefined {
  const kind = name.split('.')[0]!;
  if (name.endsWith('.list') || name === 'config.current') return undefined;
  if (kind === 'flake') {
    return typeof p['path'] === 'string'
      ? agree(p['flake_id'], flakeId(p['path']), 'flake_id', `path ${p['path']}`)
      : String(p['flake_id']);
  }
  if (kind === 'package') {
    return typeof p['flake_ref'] === 'string' && typeof p['attribute'] === 'string'
      ? agree(p['package_id'], packageId(p['flake_ref'], p['attribute']), 'package_id', 'flake_ref#attribute')
      : String(p['package_id']);
  }
  const k = kind as 'module' | 'overlay' | 'config';
  return typeof p['name'] === 'string' ? agree(p[`${k}_id`], namedId(k, p['name']), `${k}_id`, `name ${p['name']}`) : String(p[`${k}_id`]);
}

function describe(name: QueryName, p: AnyPayload, id: string): string {
  const kind = name.split('.')[0]!;
  if (kind === 'flake') return typeof p['path'] === 'string' ? `flake at path '${p['path']}'` : `flake ${id}`;
  if (kind === 'package')
    return typeof p['flake_ref'] === 'string' ? `package ${String(p['flake_ref'])}#${String(p['attribute'])}` : `package ${id}`;
  return typeof p['name'] === 'string' ? `${kind} '${p['name']}'` : `${kind} ${id}`;
}

const creator: Record<string, string> = {
  flake: 'flake.create',
  package: 'package.build',
  module: 'module.create',
  overlay: 'overlay.create',
  config: 'config.create',
};

function notFound(name: QueryName, p: AnyPayload, id: string): NotFoundError {
  const kind = name.split('.')[0]!;
  return new NotFoundError(`no ${describe(name, p, id)} is known (aggregate_id ${id}); it exists once ${creator[kind]} succeeded`, {
    aggregate_id: id,
  });
}

const asList = <T extends string>(v: T | readonly T[] | undefined): readonly T[] | undefined =>
  v === undefined ? undefined : typeof v === 'string' ? [v] : v;

/** Resolve a cursor into the key after which the page starts. */
function after<K extends string | number>(
  list: string,
  cursor: string | undefined,
  keyType: K extends string ? 'string' : 'number',
): K | undefined {
  if (cursor === undefined) return undefined;
  const decoded = decodeCursor<K>(list, cursor, keyType);
  if (!decoded.ok) throw new ValidationError(`cursor ${decoded.message}`, { fields: ['cursor'] });
  return decoded.key;
}

/** A page of a collection as a reply, with its shrink. */
function pageReply<R>(list: string, page: Page<R>, wire: (r: R) => unknown): QueryOutcome {
  const body = (keep: number): Record<string, unknown> => {
    const n = Math.min(keep, page.items.length);
    const more = page.more || n < page.items.length;
    return {
      status: 'ok',
      items: page.items.slice(0, n).map(wire),
      next_cursor: more && n > 0 ? encodeCursor(list, page.keys[n - 1]!) : null,
    };
  };
  return { body: body(page.items.length), shrink: body };
}

function listPage<R>(
  list: string,
  collection: Collection<R>,
  p: { limit?: number | undefined; cursor?: string | undefined },
  where: IndexFilter[],
  prefix?: string,
  test?: (r: R) => boolean,
): Page<R> {
  const start = after<string>(list, p.cursor, 'string');
  return collection.page({
    limit: p.limit ?? DEFAULT_LIMIT,
    ...(start !== undefined ? { after: start } : {}),
    ...(prefix !== undefined ? { prefix } : {}),
    where,
    ...(test ? { test } : {}),
  });
}

const filter = (index: string, values: readonly string[] | undefined): IndexFilter[] => (values === undefined ? [] : [{ index, values }]);

function configWire(models: ReadModels, view: ConfigView): Record<string, unknown> {
  return { ...view, current: models.configs.current?.config_id === view.config_id };
}

/** Prepare a validated query (throws {@link ValidationError} when its ID and natural key disagree). */
export function prepareQuery(name: QueryName, payload: AnyPayload): PreparedQuery {
  const id = addressOf(name, payload);
  const minSequence = payload['min_sequence'] as number | undefined;
  const waitId = id ?? (payload['aggregate_id'] as string | undefined);
  return {
    name,
    waitFor: minSequence !== undefined && minSequence > 0 && waitId !== undefined ? { id: waitId, version: minSequence } : undefined,
    timeoutMs: (payload['timeout_ms'] as number | undefined) ?? DEFAULT_WAIT_MS,
    run: (models) => runQuery(models, name, payload, id),
  };
}

/** Answer a query from the read models. */
export function runQuery(models: ReadModels, name: QueryName, payload: AnyPayload, id = addressOf(name, payload)): QueryOutcome {
  const need = <R>(record: R | undefined): R => {
    if (record === undefined || id === undefined) throw notFound(name, payload, id ?? '');
    return record;
  };
  switch (name) {
    case 'flake.get':
      return { body: { status: 'ok', flake: need(models.flakes.records.get(id!)) } };
    case 'flake.get_inputs': {
      const f = need(models.flakes.records.get(id!));
      const inputs = Object.keys(f.inputs)
        .sort()
        .map((input) => ({ name: input, ...f.inputs[input] }));
      return { body: { status: 'ok', flake_id: f.flake_id, path: f.path, version: f.version, inputs } };
    }
    case 'flake.list': {
      const p = payload as Payload<'flake.list'>;
      const page = listPage(
        name,
        models.flakes.records,
        p,
        [...filter('input_url', asList(p.input_url)), ...filter('template', asList(p.template))],
        p.path_prefix,
      );
      return pageReply(name, page, (r) => r);
    }
    case 'package.get':
      return { body: { status: 'ok', package: need(models.packages.records.get(id!)) } };
    case 'package.status': {
      const p = payload as Payload<'package.status'>;
      const view = need(models.packages.records.get(id!));
      const stats = models.packages.stats(id!)!;
      const before = after<number>(name, p.cursor, 'number');
      const page = models.packages.builds(id!, before, p.limit ?? DEFAULT_LIMIT);
      const body = (keep: number): Record<string, unknown> => {
        const n = Math.min(keep, page.items.length);
        const more = page.more || n < page.items.length;
        return {
          status: 'ok',
          package_id: view.package_id,
          flake_ref: view.flake_ref,
          attribute: view.attribute,
          state: view.state,
          version: view.version,
          builds: stats,
          history: page.items.slice(0, n),
          next_cursor: more && n > 0 ? encodeCursor(name, page.items[n - 1]!.build) : null,
        };
      };
      return { body: body(page.items.length), shrink: body };
    }
    case 'package.list': {
      const p = payload as Payload<'package.list'>;
      const page = listPage(name, models.packages.records, p, [
        ...filter('state', asList(p.state)),
        ...filter('flake_ref', asList(p.flake_ref)),
      ]);
      return pageReply(name, page, (r) => r);
    }
    case 'module.get':
    case 'overlay.get': {
      const kind = name.split('.')[0] as ResourceKind;
      const model = kind === 'module' ? models.modules : models.overlays;
      return { body: { status: 'ok', [kind]: resourceWire(kind, need(model.records.get(id!))) } };
    }
    case 'module.list':
    case 'overlay.list': {
      const kind = name.split('.')[0] as ResourceKind;
      const model = kind === 'module' ? models.modules : models.overlays;
      const p = payload as Payload<'module.list'>;
      // Deleted ones only when asked for: a deleted module is gone for most readers.
      const page = listPage(name, model.records, p, filter('state', asList(p.state) ?? ['active']), p.name_prefix);
      return pageReply(name, page, (r) => resourceWire(kind, r));
    }
    case 'config.get':
      return { body: { status: 'ok', config: configWire(models, need(models.configs.records.get(id!))) } };
    case 'config.list': {
      const p = payload as Payload<'config.list'>;
      const page = listPage(
        name,
        models.configs.records,
        p,
        [...filter('state', asList(p.state)), ...filter('hostname', asList(p.hostname))],
        p.name_prefix,
      );
      return pageReply(name, page, (r) => configWire(models, r));
    }
    case 'config.current': {
      const current = models.configs.current;
      const view = current ? models.configs.records.get(current.config_id) : undefined;
      if (!current || !view) {
        throw new NotFoundError(
          'no configuration is current yet: one becomes current when config.activate with activation_type switch (or config.rollback) succeeds',
        );
      }
      return { body: { status: 'ok', ...current, name: view.name, config: configWire(models, view) } };
    }
    case 'config.get_history': {
      const p = payload as Payload<'config.get_history'>;
      const view = need(models.configs.records.get(id!));
      const before = after<number>(name, p.cursor, 'number');
      const page = models.configs.history(id!, before, p.limit ?? DEFAULT_LIMIT, asList(p.kind));
      const body = (keep: number): Record<string, unknown> => {
        const n = Math.min(keep, page.items.length);
        const more = page.more || n < page.items.length;
        return {
          status: 'ok',
          config_id: view.config_id,
          name: view.name,
          current_generation: view.current_generation,
          total: page.total,
          items: page.items.slice(0, n),
          next_cursor: more && n > 0 ? encodeCursor(name, page.items[n - 1]!.entry) : null,
        };
      };
      return { body: body(page.items.length), shrink: body };
    }
  }
}
