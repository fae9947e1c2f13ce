/**
 * The package read model: one record per package (`flake_ref#attribute`), ordered by that
 * key, indexed by state and flake reference; plus each package's build history (the last
 * {@link HISTORY_LIMIT} builds) and statistics over all builds.
 */
import type { z } from 'zod';
import type { PackageBuildFailed, PackageBuildStarted, PackageBuilt, PackageCacheFailed, PackageCached } from '../../machines/index.js';
import { DEFAULT_LIMIT } from '../domain/queries.js';
import { Collection } from '../projections/collection.js';
import type { KindProjection } from '../projections/kindProjection.js';
import { after, asList, filter, historyReply, listPage, pageReply } from '../projections/paging.js';
import { HISTORY_LIMIT, type BuildStats, type BuildView, type FeedEvent, type PackageView } from '../projections/views.js';
import { buildPackage, cachePackage, flakeDirectoryOfRef, type EffectHandlersOf } from '../nix/index.js';

type Out<T extends z.ZodType> = z.output<T>;

interface History {
  /** Retained builds, oldest first. */
  builds: BuildView[];
  total: number;
  consecutiveFailures: number;
  durationSum: number;
  durationCount: number;
  min: number | null;
  max: number | null;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
}

const elapsed = (from: string, to: string): number | null => {
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) && ms >= 0 ? ms : null;
};

export class PackageModel {
  readonly records = new Collection<PackageView>();
  private readonly histories = new Map<string, History>();

  version(id: string): number {
    return this.records.get(id)?.version ?? 0;
  }

  history(id: string): History | undefined {
    return this.histories.get(id);
  }

  /** Builds of package `id`, newest first, with build numbers below `before` (all when undefined). */
  builds(id: string, before: number | undefined, limit: number): { items: BuildView[]; more: boolean } {
    const h = this.histories.get(id);
    if (!h) return { items: [], more: false };
    const items: BuildView[] = [];
    for (let i = h.builds.length - 1; i >= 0; i--) {
      const b = h.builds[i]!;
      if (before !== undefined && b.build >= before) continue;
      if (items.length === limit) return { items, more: true };
      items.push(b);
    }
    return { items, more: false };
  }

  *awaitingEffect(): Iterable<string> {
    for (const view of this.records.records()) if (view.state === 'building') yield view.package_id;
  }

  stats(id: string): BuildStats | undefined {
    const view = this.records.get(id);
    const h = this.histories.get(id);
    if (!view || !h) return undefined;
    return {
      total: h.total,
      succeeded: view.builds,
      failed: view.failures,
      running: view.state === 'building',
      consecutive_failures: h.consecutiveFailures,
      duration_ms: {
        last: view.last_build?.duration_ms ?? null,
        average: h.durationCount > 0 ? Math.round(h.durationSum / h.durationCount) : null,
        min: h.min,
        max: h.max,
      },
      last_success_at: h.lastSuccessAt,
      last_failure_at: h.lastFailureAt,
    };
  }

  /** Apply one package fact (payload already checked against its schema); false when it does not fit. */
  apply(fe: FeedEvent, data: unknown): boolean {
    const { event } = fe;
    const id = event.aggregate_id;
    const at = event.occurred_at;
    let view = this.records.get(id);
    let h = this.histories.get(id);
    if (fe.fact === 'package.build_started') {
      const d = data as Out<typeof PackageBuildStarted>;
      if (!view || !h) {
        view = {
          package_id: id,
          flake_ref: d.flake_ref,
          attribute: d.attribute,
          state: 'building',
          output_path: null,
          store_paths: {},
          drv_path: null,
          builds: 0,
          failures: 0,
          last_build: null,
          last_cache: null,
          version: event.sequence,
          created_at: at,
          updated_at: at,
        };
        h = {
          builds: [],
          total: 0,
          consecutiveFailures: 0,
          durationSum: 0,
          durationCount: 0,
          min: null,
          max: null,
          lastSuccessAt: null,
          lastFailureAt: null,
        };
        this.records.put(id, `${d.flake_ref}#${d.attribute}`, view);
        this.histories.set(id, h);
      }
      h.total++;
      const build: BuildView = { build: h.total, outcome: 'running', started_at: at, finished_at: null, duration_ms: null };
      if (d.output_path !== undefined) build.output_path = d.output_path;
      h.builds.push(build);
      if (h.builds.length > HISTORY_LIMIT) h.builds.shift();
      view.state = 'building';
      view.output_path = d.output_path ?? null;
      view.last_build = build;
    } else {
      if (!view || !h) return false;
      const running = view.last_build?.outcome === 'running' ? view.last_build : undefined;
      switch (fe.fact) {
        case 'package.built': {
          const d = data as Out<typeof PackageBuilt>;
          if (running) {
            running.outcome = 'built';
            running.finished_at = at;
            running.duration_ms = d.duration_ms;
            running.store_paths = d.store_paths;
            running.drv_path = d.drv_path;
          }
          view.state = 'built';
          view.store_paths = d.store_paths;
          view.drv_path = d.drv_path;
          view.builds++;
          h.consecutiveFailures = 0;
          h.lastSuccessAt = at;
          this.measure(h, d.duration_ms);
          break;
        }
        case 'package.build_failed': {
          const d = data as Out<typeof PackageBuildFailed>;
          const duration = d.duration_ms ?? (running ? elapsed(running.started_at, at) : null);
          if (running) {
            running.outcome = 'failed';
            running.finished_at = at;
            running.duration_ms = duration;
            running.message = d.message;
            if (d.exit_code !== undefined) running.exit_code = d.exit_code;
            if (d.log_tail !== undefined) running.log_tail = d.log_tail;
          }
          view.state = 'failed';
          view.failures++;
          h.consecutiveFailures++;
          h.lastFailureAt = at;
          if (duration !== null) this.measure(h, duration);
          break;
        }
        case 'package.cached': {
          const d = data as Out<typeof PackageCached>;
          view.state = 'cached';
          view.last_cache = { ok: true, at, cache_url: d.cache_url, paths: d.paths };
          break;
        }
        case 'package.cache_failed': {
          const d = data as Out<typeof PackageCacheFailed>;
          view.state = 'built';
          view.last_cache = { ok: false, at, cache_url: d.cache_url ?? null, message: d.message };
          if (d.exit_code !== undefined) view.last_cache.exit_code = d.exit_code;
          break;
        }
        default:
          return false;
      }
    }
    view.version = event.sequence;
    view.updated_at = at;
    this.records.index(id, 'state', [view.state]);
    this.records.index(id, 'flake_ref', [view.flake_ref]);
    return true;
  }

  private measure(h: History, ms: number): void {
    h.durationSum += ms;
    h.durationCount++;
    h.min = h.min === null ? ms : Math.min(h.min, ms);
    h.max = h.max === null ? ms : Math.max(h.max, ms);
  }
}

/** The package kind as the projections see it. */
export const packageProjection: KindProjection<PackageModel> = {
  kind: 'package',
  model: () => new PackageModel(),
  queries: {
    get: ({ model, id, need }) => ({ body: { status: 'ok', package: need(model.records.get(id!)) } }),
    status: ({ model, name, payload, id, need }) => {
      const p = payload as { limit?: number; cursor?: string };
      const view = need(model.records.get(id!));
      const page = model.builds(id!, after<number>(name, p.cursor, 'number'), p.limit ?? DEFAULT_LIMIT);
      const head = {
        package_id: view.package_id,
        flake_ref: view.flake_ref,
        attribute: view.attribute,
        state: view.state,
        version: view.version,
        builds: model.stats(id!)!,
      };
      return historyReply(name, page, (b) => b.build, head);
    },
    list: ({ model, name, payload }) => {
      const p = payload as { state?: string | string[]; flake_ref?: string | string[]; limit?: number; cursor?: string };
      const page = listPage(name, model.records, p, [...filter('state', asList(p.state)), ...filter('flake_ref', asList(p.flake_ref))]);
      return pageReply(name, page, (r) => r);
    },
  },
};

/** The package kind's effects, as the Nix port performs them. */
export const packageEffects: EffectHandlersOf<'package'> = {
  'package.build': { run: buildPackage, worksIn: (env, r) => flakeDirectoryOfRef(env, r.flake_ref) },
  'package.cache': { run: cachePackage, worksIn: (env, r) => flakeDirectoryOfRef(env, r.flake_ref) },
};
