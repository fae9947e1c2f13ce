/**
 * What the runtime does when a partition changes hands (SPEC §9, docs/cluster.md):
 *
 * - **release** (a handoff: SIGTERM, or a member joined): the partition's commands already
 *   wait for the next owner; its aggregates finish what is in flight (bounded), write their
 *   snapshots and leave memory, then the cluster layer releases the lease.
 * - **acquired**: the workspace files of the partition's aggregates are caught up from the read
 *   models (once they have read the stream as it is now), and every package the read models
 *   show `building` is loaded, which starts its build again (a rebuilt aggregate in a waiting
 *   state re-runs its effect): nothing stays `building` because its owner died. After a
 *   takeover (the owner crashed), the events of the partition stored after the dead owner's
 *   last publication mark are published again on their seed subjects (subscribers may see a
 *   duplicate, drop it by `X-Event-ID`; never a gap).
 * - **lost** (its lease ran out here and another instance claimed it): its aggregates are
 *   dropped at once, effects aborted, nothing saved.
 */
import type { Logger } from 'pino';
import type { AcquiredInfo, ClusterHooks, LostInfo } from '../cluster/index.js';
import { ensureError } from '../errors.js';
import type { DesiredFile, ReadModels } from '../projections/index.js';
import type { AppendRequest, EventLog } from '../store/index.js';
import { sleep, type Clock } from '../time/clock.js';
import type { AggregateSupervisor } from './aggregateSupervisor.js';

/** How long the catch-up waits for the read models to reach the stream's end, at most. */
const READ_MODELS_BOUND_MS = 10_000;
/** Takeovers from one dead owner arrive a few milliseconds apart: they are published again together. */
const REPUBLISH_GATHER_MS = 50;

export interface PartitionHooksDeps {
  supervisor: Pick<AggregateSupervisor, 'releasePartition' | 'dropPartition' | 'touch'>;
  partitionOf(id: string): number;
  logger: Logger;
  clock: Clock;
  /** Longest a release waits for in-flight work (below the cluster's handoff bound). */
  releaseBoundMs: number;
  /** The read models (building packages, workspace files); without them only release/lost act. */
  models?: ReadModels;
  /** What the workspace should hold (`desiredWorkspace(models)`). */
  desiredFiles?(): DesiredFile[];
  /** Write files where the workspace differs (the materializer's `catchUp`). */
  catchUp?(files: DesiredFile[]): void;
  /** The event stream's last sequence now: the read models must reach it before the catch-up. */
  streamTail?(): Promise<number>;
  /** Read the stream after a sequence and publish on the seed subjects (takeover). */
  log?: Pick<EventLog, 'readAll'>;
  publishSeed?: (req: Pick<AppendRequest, 'event' | 'fact'>) => void;
  /** The publication mark another instance announced with its last heartbeat. */
  progressOf?: (instance: string) => number | undefined;
}

/** Counters and timings, for health and the tests' figures. */
export interface PartitionHookStats {
  released: number;
  /** Release hook durations (ms): last and largest. */
  release_ms: { last: number; max: number };
  /** Aggregates still busy at the release bound (stopped; their callers retry at the next owner). */
  release_stopped: number;
  acquired: number;
  /** Aggregates found waiting for an effect (a package `building`) on acquisition and loaded, so it runs again. */
  effects_resumed: number;
  /** Workspace files handed to the catch-up on acquisition. */
  files_caught_up: number;
  /** Events published again after takeovers. */
  republished: number;
  lost: number;
  dropped_aggregates: number;
}

export class PartitionHooks implements ClusterHooks {
  readonly counts: PartitionHookStats = {
    released: 0,
    release_ms: { last: 0, max: 0 },
    release_stopped: 0,
    acquired: 0,
    effects_resumed: 0,
    files_caught_up: 0,
    republished: 0,
    lost: 0,
    dropped_aggregates: 0,
  };
  private readonly republishing = new Map<string, Set<number>>();

  constructor(private readonly deps: PartitionHooksDeps) {}

  async release(partition: number): Promise<void> {
    const started = this.deps.clock.now();
    const { aggregates, stopped } = await this.deps.supervisor.releasePartition(partition, this.deps.releaseBoundMs);
    const ms = this.deps.clock.now() - started;
    this.counts.released++;
    this.counts.release_ms = { last: ms, max: Math.max(this.counts.release_ms.max, ms) };
    this.counts.release_stopped += stopped;
    this.deps.logger.info({ partition, aggregates, stopped, ms }, 'partition handed off: in-flight work finished, snapshots written, aggregates passivated');
  }

  acquired(partition: number, info: AcquiredInfo): Promise<void> {
    this.counts.acquired++;
    if (info.takeover && info.previousOwner !== undefined) this.gatherRepublish(info.previousOwner, partition);
    return this.settle(partition).catch((e: unknown) =>
      this.deps.logger.error({ err: ensureError(e), partition }, 'settling an acquired partition failed'),
    );
  }

  lost(partition: number, info: LostInfo): void {
    const dropped = this.deps.supervisor.dropPartition(partition);
    this.counts.lost++;
    this.counts.dropped_aggregates += dropped;
    this.deps.logger.warn({ partition, epoch: info.epoch, by: info.by, dropped }, 'partition lost without a handoff: its aggregates were dropped here');
  }

  /** Catch the partition's workspace files up, then load its building packages (their builds run again). */
  private async settle(partition: number): Promise<void> {
    const { models } = this.deps;
    if (!models) return;
    await this.readModelsCurrent(models);
    const inPartition = (id: string): boolean => this.deps.partitionOf(id) === partition;
    if (this.deps.desiredFiles && this.deps.catchUp) {
      const files = this.deps.desiredFiles().filter((f) => inPartition(f.key.slice(f.key.indexOf(':') + 1)));
      if (files.length > 0) this.deps.catchUp(files);
      this.counts.files_caught_up += files.length;
    }
    let resumed = 0;
    for (const { projection, model } of models.kinds()) {
      for (const id of model.awaitingEffect?.() ?? []) {
        if (!inPartition(id)) continue;
        this.deps.supervisor.touch(projection.kind, id);
        resumed++;
      }
    }
    this.counts.effects_resumed += resumed;
    if (resumed > 0) this.deps.logger.info({ partition, aggregates: resumed }, 'aggregates left waiting for an effect by the previous owner loaded: their effects run again');
  }

  /** Resolves once the read models are caught up and have read the stream up to its end as it is now (bounded). */
  private async readModelsCurrent(models: ReadModels): Promise<void> {
    const deadline = this.deps.clock.now() + READ_MODELS_BOUND_MS;
    if (!models.ready) await models.waitFor(undefined, 0, READ_MODELS_BOUND_MS);
    const tail = this.deps.streamTail ? await this.deps.streamTail().catch(() => 0) : 0;
    while (models.stats().stream_seq < tail && this.deps.clock.now() < deadline) await sleep(this.deps.clock, 20);
  }

  /** Publish again (together) what the dead owner may have stored but not published. */
  private gatherRepublish(previousOwner: string, partition: number): void {
    const { log, publishSeed, progressOf } = this.deps;
    if (!log || !publishSeed || !progressOf) return;
    let partitions = this.republishing.get(previousOwner);
    if (partitions) {
      partitions.add(partition);
      return;
    }
    partitions = new Set([partition]);
    this.republishing.set(previousOwner, partitions);
    this.deps.clock.setTimeout(() => {
      this.republishing.delete(previousOwner);
      const after = progressOf(previousOwner);
      if (after === undefined) {
        this.deps.logger.warn({ previous_owner: previousOwner }, 'no publication mark of the previous owner: its last events are not published again');
        return;
      }
      void this.republish(log, publishSeed, partitions, after, previousOwner);
    }, REPUBLISH_GATHER_MS);
  }

  private async republish(
    log: Pick<EventLog, 'readAll'>,
    publishSeed: (req: Pick<AppendRequest, 'event' | 'fact'>) => void,
    partitions: Set<number>,
    after: number,
    previousOwner: string,
  ): Promise<void> {
    let count = 0;
    try {
      for await (const batch of log.readAll(after)) {
        for (const stored of batch) {
          if (!partitions.has(this.deps.partitionOf(stored.event.aggregate_id))) continue;
          publishSeed({ event: stored.event, fact: stored.fact });
          count++;
        }
      }
    } catch (e) {
      this.deps.logger.warn({ err: ensureError(e), previous_owner: previousOwner }, 'publishing the previous owner’s last events again failed');
    }
    this.counts.republished += count;
    this.deps.logger.info(
      { previous_owner: previousOwner, partitions: [...partitions], after, republished: count },
      'published again the events of taken-over partitions stored after the previous owner’s publication mark',
    );
  }
}
