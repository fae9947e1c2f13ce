/**
 * The flake kind at run time: its read model (one record per flake, ordered by path,
 * indexed by input URL and template), the runners of its queries and its effect handlers.
 */
import type { z } from 'zod';
import type {
  FlakeCheckFailed,
  FlakeChecked,
  FlakeCreated,
  FlakeInputAdded,
  FlakeInputRemoved,
  FlakeUpdateFailed,
  FlakeUpdated,
} from '../../machines/index.js';
import { Collection } from '../projections/collection.js';
import type { KindProjection } from '../projections/kindProjection.js';
import { asList, filter, listPage, pageReply } from '../projections/paging.js';
import type { FeedEvent, FlakeInputView, FlakeView, OutcomeView } from '../projections/views.js';
import { addFlakeInput, checkFlake, removeFlakeInput, updateFlake, writeFlake, type EffectHandlersOf, type FlakeHistoryStep, type FlakeSource } from '../nix/index.js';
import type { StoredEvent } from '../store/index.js';
import { flakeId } from '../domain/ids.js';

type Out<T extends z.ZodType> = z.output<T>;
type Failure = Out<typeof FlakeUpdateFailed>;

function failure(base: { at: string; sequence: number }, f: Failure): OutcomeView {
  const out: OutcomeView = { ok: false, ...base, message: f.message };
  if (f.exit_code !== undefined) out.exit_code = f.exit_code;
  if (f.log_tail !== undefined) out.log_tail = f.log_tail;
  return out;
}

export class FlakeModel {
  readonly records = new Collection<FlakeView>();

  version(id: string): number {
    return this.records.get(id)?.version ?? 0;
  }

  /** Apply one flake fact (payload already checked against its schema); false when it does not fit. */
  apply(fe: FeedEvent, data: unknown): boolean {
    const { event } = fe;
    const id = event.aggregate_id;
    const at = event.occurred_at;
    const sequence = event.sequence;
    if (fe.fact === 'flake.created') {
      const d = data as Out<typeof FlakeCreated>;
      const inputs: Record<string, FlakeInputView> = {};
      for (const [name, url] of Object.entries(d.inputs)) inputs[name] = { url };
      const view: FlakeView = {
        flake_id: id,
        path: d.path,
        description: d.description,
        template: d.template,
        inputs,
        files: d.files,
        last_update: null,
        last_check: null,
        version: sequence,
        created_at: at,
        updated_at: at,
      };
      this.records.put(id, d.path, view);
      this.reindex(view);
      return true;
    }
    const view = this.records.get(id);
    if (!view) return false;
    switch (fe.fact) {
      case 'flake.input_added': {
        const d = data as Out<typeof FlakeInputAdded>;
        const input: FlakeInputView = { url: d.url };
        if (d.follows !== undefined) input.follows = d.follows;
        if (d.flake !== undefined) input.flake = d.flake;
        if (d.locked !== undefined) input.locked = d.locked;
        view.inputs[d.name] = input;
        break;
      }
      case 'flake.input_removed':
        delete view.inputs[(data as Out<typeof FlakeInputRemoved>).name];
        break;
      case 'flake.updated': {
        const d = data as Out<typeof FlakeUpdated>;
        for (const [name, locked] of Object.entries(d.inputs)) {
          const current = view.inputs[name];
          if (current) current.locked = locked;
          else view.inputs[name] = { url: locked.url, locked };
        }
        view.last_update = { ok: true, at, sequence, inputs: Object.keys(d.inputs).sort() };
        break;
      }
      case 'flake.update_failed':
        view.last_update = failure({ at, sequence }, data as Failure);
        break;
      case 'flake.checked':
        view.last_check = { ok: true, at, sequence, duration_ms: (data as Out<typeof FlakeChecked>).duration_ms };
        break;
      case 'flake.check_failed':
        view.last_check = failure({ at, sequence }, data as Out<typeof FlakeCheckFailed>);
        break;
      default:
        return false;
    }
    view.version = sequence;
    view.updated_at = at;
    this.reindex(view);
    return true;
  }

  private reindex(view: FlakeView): void {
    const urls = [...new Set(Object.values(view.inputs).map((i) => i.url))];
    this.records.index(view.flake_id, 'input_url', urls);
    this.records.index(view.flake_id, 'template', [view.template]);
  }
}

/** The flake kind as the projections see it. */
export const flakeProjection: KindProjection<FlakeModel> = {
  kind: 'flake',
  model: () => new FlakeModel(),
  queries: {
    get: ({ model, id, need }) => ({ body: { status: 'ok', flake: need(model.records.get(id!)) } }),
    get_inputs: ({ model, id, need }) => {
      const f = need(model.records.get(id!));
      const inputs = Object.keys(f.inputs)
        .sort()
        .map((input) => ({ name: input, ...f.inputs[input] }));
      return { body: { status: 'ok', flake_id: f.flake_id, path: f.path, version: f.version, inputs } };
    },
    list: ({ model, name, payload }) => {
      const p = payload as { input_url?: string | string[]; template?: string | string[]; path_prefix?: string; limit?: number; cursor?: string };
      const page = listPage(name, model.records, p, [...filter('input_url', asList(p.input_url)), ...filter('template', asList(p.template))], p.path_prefix);
      return pageReply(name, page, (r) => r);
    },
  },
};

/** The flake kind's effects, as the Nix port performs them. */
export const flakeEffects: EffectHandlersOf<'flake'> = {
  'flake.write': writeFlake,
  'flake.add_input': { run: addFlakeInput, worksIn: (_env, r) => r.path },
  'flake.remove_input': { run: removeFlakeInput, worksIn: (_env, r) => r.path },
  'flake.update': { run: updateFlake, worksIn: (_env, r) => r.path },
  'flake.check': { run: checkFlake, worksIn: (_env, r) => r.path },
};

/** The steps of a flake's history, from its stored events (what materialising it replays). */
export function flakeHistory(events: readonly StoredEvent[]): FlakeHistoryStep[] {
  const steps: FlakeHistoryStep[] = [];
  for (const { fact, event } of events) {
    const e = event as unknown as Record<string, unknown>;
    if (fact === 'flake.created') {
      steps.push({
        type: 'created',
        path: String(e['path']),
        description: String(e['description']),
        template: String(e['template']),
        inputs: (e['inputs'] ?? {}) as Record<string, string>,
      });
    } else if (fact === 'flake.input_added') {
      const step: Extract<FlakeHistoryStep, { type: 'input_added' }> = { type: 'input_added', name: String(e['name']), url: String(e['url']) };
      if (e['follows'] !== undefined) step.follows = e['follows'] as Record<string, string>;
      if (typeof e['flake'] === 'boolean') step.flake = e['flake'];
      steps.push(step);
    } else if (fact === 'flake.input_removed') {
      steps.push({ type: 'input_removed', name: String(e['name']) });
    }
  }
  return steps;
}

/** Where a flake's history comes from: the stored events of the flake aggregate at a workspace-relative path. */
export function flakeSource(read: (kind: 'flake', id: string) => Promise<StoredEvent[]>): FlakeSource {
  return async (path) => {
    const events = await read('flake', flakeId(path));
    return events.length === 0 ? undefined : flakeHistory(events);
  };
}
