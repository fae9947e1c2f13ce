/**
 * The flake read model: one record per flake, ordered by path, indexed by input URL and
 * template.
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
import { Collection } from './collection.js';
import type { FeedEvent, FlakeInputView, FlakeView, OutcomeView } from './views.js';

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
