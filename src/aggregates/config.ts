/**
 * The configuration read model: one record per configuration, ordered by name, indexed by
 * state and host name; each configuration's history (activations, failed activations,
 * rollbacks; the last {@link HISTORY_LIMIT}); and the one configuration that is current —
 * the last one switched to or rolled back, across all configurations.
 */
import type { z } from 'zod';
import type { ConfigActivated, ConfigActivationFailed, ConfigCreated, ConfigRolledBack } from '../../machines/index.js';
import { DEFAULT_LIMIT } from '../domain/queries.js';
import { NotFoundError } from '../errors.js';
import { Collection } from '../projections/collection.js';
import type { KindProjection } from '../projections/kindProjection.js';
import { after, asList, filter, historyReply, listPage, pageReply } from '../projections/paging.js';
import {
  HISTORY_LIMIT,
  type ConfigState,
  type ConfigView,
  type CurrentConfig,
  type FeedEvent,
  type HistoryEntry,
  type HistoryKind,
} from '../projections/views.js';
import { activateConfiguration, performWorkspaceFile, rollbackConfiguration, type EffectHandlersOf } from '../nix/index.js';

type Out<T extends z.ZodType> = z.output<T>;

interface History {
  entries: HistoryEntry[];
  total: number;
}

const restingState: Record<'switch' | 'boot' | 'test', ConfigState> = { switch: 'activated', boot: 'boot_ready', test: 'testing' };

export class ConfigModel {
  readonly records = new Collection<ConfigView>();
  private readonly histories = new Map<string, History>();
  private currentConfig: CurrentConfig | null = null;

  version(id: string): number {
    return this.records.get(id)?.version ?? 0;
  }

  get current(): CurrentConfig | null {
    return this.currentConfig;
  }

  /** History entries of `id`, newest first, numbered below `before` (all when undefined), optionally of some kinds. */
  history(
    id: string,
    before: number | undefined,
    limit: number,
    kinds?: readonly HistoryKind[],
  ): { items: HistoryEntry[]; more: boolean; total: number } {
    const h = this.histories.get(id);
    if (!h) return { items: [], more: false, total: 0 };
    const items: HistoryEntry[] = [];
    for (let i = h.entries.length - 1; i >= 0; i--) {
      const e = h.entries[i]!;
      if ((before !== undefined && e.entry >= before) || (kinds !== undefined && !kinds.includes(e.kind))) continue;
      if (items.length === limit) return { items, more: true, total: h.total };
      items.push(e);
    }
    return { items, more: false, total: h.total };
  }

  /** Apply one config fact (payload already checked against its schema); false when it does not fit. */
  apply(fe: FeedEvent, data: unknown): boolean {
    const { event } = fe;
    const id = event.aggregate_id;
    const at = event.occurred_at;
    const sequence = event.sequence;
    let view = this.records.get(id);
    if (fe.fact === 'config.created' || fe.fact === 'config.updated') {
      const d = data as Out<typeof ConfigCreated>;
      if (!view) {
        view = {
          config_id: id,
          name: d.name,
          state: 'created',
          configuration: d.configuration,
          file: d.file,
          current_generation: null,
          last_generation: 0,
          activations: 0,
          last_activation: null,
          version: sequence,
          created_at: at,
          updated_at: at,
        };
        this.records.put(id, d.name, view);
        this.histories.set(id, { entries: [], total: 0 });
      }
      view.configuration = d.configuration;
      view.file = d.file;
    } else {
      const h = this.histories.get(id);
      if (!view || !h) return false;
      const record = (entry: Omit<HistoryEntry, 'entry' | 'at' | 'sequence'>): void => {
        h.total++;
        h.entries.push({ entry: h.total, at, sequence, ...entry });
        if (h.entries.length > HISTORY_LIMIT) h.entries.shift();
      };
      switch (fe.fact) {
        case 'config.activated': {
          const d = data as Out<typeof ConfigActivated>;
          view.state = restingState[d.activation_type];
          view.last_generation = Math.max(view.last_generation, d.generation);
          view.activations++;
          view.last_activation = { activation_type: d.activation_type, generation: d.generation, executed: d.executed, at };
          if (d.reason !== undefined) view.last_activation.reason = d.reason;
          if (d.activation_type === 'switch') {
            view.current_generation = d.generation;
            this.currentConfig = { config_id: id, generation: d.generation, via: 'switch', since: at, executed: d.executed };
          }
          const entry: Omit<HistoryEntry, 'entry' | 'at' | 'sequence'> = {
            kind: 'activated',
            activation_type: d.activation_type,
            generation: d.generation,
            executed: d.executed,
          };
          if (d.reason !== undefined) entry.reason = d.reason;
          record(entry);
          break;
        }
        case 'config.activation_failed': {
          const d = data as Out<typeof ConfigActivationFailed>;
          const entry: Omit<HistoryEntry, 'entry' | 'at' | 'sequence'> = {
            kind: 'activation_failed',
            activation_type: d.activation_type,
            generation: d.generation,
            message: d.message,
          };
          if (d.exit_code !== undefined) entry.exit_code = d.exit_code;
          if (d.log_tail !== undefined) entry.log_tail = d.log_tail;
          record(entry);
          break;
        }
        case 'config.rolled_back': {
          const d = data as Out<typeof ConfigRolledBack>;
          view.state = 'activated';
          view.current_generation = d.to_generation;
          this.currentConfig = { config_id: id, generation: d.to_generation, via: 'rollback', since: at, executed: d.executed };
          const entry: Omit<HistoryEntry, 'entry' | 'at' | 'sequence'> = {
            kind: 'rolled_back',
            from_generation: d.from_generation,
            to_generation: d.to_generation,
            executed: d.executed,
          };
          if (d.reason !== undefined) entry.reason = d.reason;
          record(entry);
          break;
        }
        default:
          return false;
      }
    }
    view.version = sequence;
    view.updated_at = at;
    this.records.index(id, 'state', [view.state]);
    const hostname = view.configuration['hostname'];
    this.records.index(id, 'hostname', typeof hostname === 'string' ? [hostname] : []);
    return true;
  }
}

function configWire(model: ConfigModel, view: ConfigView): Record<string, unknown> {
  return { ...view, current: model.current?.config_id === view.config_id };
}

/** The configuration kind as the projections see it. */
export const configProjection: KindProjection<ConfigModel> = {
  kind: 'config',
  model: () => new ConfigModel(),
  queries: {
    get: ({ model, id, need }) => ({ body: { status: 'ok', config: configWire(model, need(model.records.get(id!))) } }),
    list: ({ model, name, payload }) => {
      const p = payload as { state?: string | string[]; hostname?: string | string[]; name_prefix?: string; limit?: number; cursor?: string };
      const page = listPage(name, model.records, p, [...filter('state', asList(p.state)), ...filter('hostname', asList(p.hostname))], p.name_prefix);
      return pageReply(name, page, (r) => configWire(model, r));
    },
    current: ({ model }) => {
      const current = model.current;
      const view = current ? model.records.get(current.config_id) : undefined;
      if (!current || !view) {
        throw new NotFoundError(
          'no configuration is current yet: one becomes current when config.activate with activation_type switch (or config.rollback) succeeds',
        );
      }
      return { body: { status: 'ok', ...current, name: view.name, config: configWire(model, view) } };
    },
    get_history: ({ model, name, payload, id, need }) => {
      const p = payload as { limit?: number; cursor?: string; kind?: HistoryKind | HistoryKind[] };
      const view = need(model.records.get(id!));
      const page = model.history(id!, after<number>(name, p.cursor, 'number'), p.limit ?? DEFAULT_LIMIT, asList(p.kind));
      return historyReply(name, page, (e) => e.entry, { config_id: view.config_id, name: view.name, current_generation: view.current_generation, total: page.total }, 'items');
    },
  },
  *files(model) {
    for (const view of model.records.records()) yield { id: view.config_id, version: view.version, name: view.name, body: view.configuration };
  },
};

/**
 * The configuration kind's effects, as the Nix port performs them. Activation and rollback
 * answer without nix: where they cannot run they report so, and the fact records the
 * activation for a host agent.
 */
export const configEffects: EffectHandlersOf<'config'> = {
  'config.write': performWorkspaceFile,
  'config.activate': { run: activateConfiguration, needsNix: false, readsWorkspace: true },
  'config.rollback': { run: rollbackConfiguration, needsNix: false, readsWorkspace: true },
};
