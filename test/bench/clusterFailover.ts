/**
 * Failover time (SPEC §9): careful clients send commands at a steady rate over many
 * aggregates; one of three instances is SIGKILLed; the time from the kill to the first `ok` on
 * an aggregate of a partition it owned, stored by its successor (the stream tags every event
 * with its writer and ownership epoch, `X-Nix-Writer`), and to the moment every such partition has served one.
 * Then the killed instance is started again for the next trial (it joins, and partitions are
 * handed to it).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { partitionOf, readClusterBucket } from '../../src/cluster/index.js';
import { ClusterLoad, readStream, writerInstance } from '../support/clusterLoad.js';
import { owners } from '../support/serviceFleet.js';
import type { BenchFleet } from './clusterFleet.js';

export interface FailoverPlan {
  trials: number;
  aggregates: number;
  rate: number;
  /** Load before the kill. */
  beforeMs: number;
  /** Load after every partition of the killed instance is claimed again. */
  afterMs: number;
}

export interface FailoverTrial {
  victim: string;
  /** Partitions the killed instance owned. */
  partitions: number;
  /** Kill → every one of its partitions claimed by a survivor (read from the bucket). */
  claimedMs: number;
  /** Kill → first `ok` on its aggregates, stored by a successor. */
  firstOkMs: number;
  /** Kill → each of its partitions (that had commands) has served one `ok` stored by a successor. */
  allServedMs: number;
  /** Its partitions that got no command after the kill (not in `allServedMs`). */
  partitionsWithoutCommands: number;
  commands: number;
  failed: number;
  retried: number;
}

/** Kill one instance per trial (each in turn), measure, and start it again. */
export async function measureFailover(
  fleet: BenchFleet,
  plan: FailoverPlan,
  log: (line: string) => void,
): Promise<FailoverTrial[]> {
  const { prefix, partitions } = fleet.settings;
  const trials: FailoverTrial[] = [];
  for (let t = 0; t < plan.trials; t++) {
    const live = fleet.live();
    const victim = live[t % live.length]!;
    // Nothing moving when the kill comes: its partitions are its own, none half handed off.
    await fleet.balanced();
    const load = new ClusterLoad(fleet.nc, {
      prefix,
      aggregates: plan.aggregates,
      rate: plan.rate,
      requestTimeoutMs: 500,
      name: (i) => `failover${t}-${i}`,
    });
    load.start();
    let killedAt = 0;
    let claimedMs = 0;
    /** The victim's partitions and their ownership epochs at the kill. */
    const mine = new Map<number, number>();
    try {
      await delay(plan.beforeMs);
      const before = await readClusterBucket(fleet.nc, prefix);
      if (!before) throw new Error(`no cluster bucket for ${prefix}`);
      const epochs = new Map(before.leases.map((l) => [l.partition, l.epoch]));
      for (const [p, o] of owners(before)) if (o === victim.instanceId) mine.set(p, epochs.get(p) ?? 0);
      killedAt = Date.now();
      await fleet.kill(victim);
      await fleet.spread();
      claimedMs = Date.now() - killedAt;
      await delay(plan.afterMs);
    } finally {
      await load.stop();
    }

    const writerOf = new Map((await readStream(fleet.nc, prefix)).map((e) => [e.event_id, e.writer]));
    const firstPerPartition = new Map<number, number>();
    for (const r of load.records) {
      if (r.answeredAt === undefined || r.answeredAt <= killedAt || r.reply?.['status'] !== 'ok') continue;
      const p = partitionOf(r.id, partitions);
      const epoch = mine.get(p);
      if (epoch === undefined) continue;
      const ev = (r.reply['events'] as { event_id: string }[] | undefined)?.[0];
      const tag = ev ? writerOf.get(ev.event_id) : undefined;
      // Stored by a successor: another instance, in a later ownership epoch of the partition.
      if (tag === undefined || writerInstance(tag) === victim.instanceId || Number(tag.split('@')[1]) <= epoch) continue;
      const ms = r.answeredAt - killedAt;
      firstPerPartition.set(p, Math.min(ms, firstPerPartition.get(p) ?? Number.POSITIVE_INFINITY));
    }
    const served = [...firstPerPartition.values()];
    const trial: FailoverTrial = {
      victim: victim.label,
      partitions: mine.size,
      claimedMs,
      firstOkMs: served.length ? Math.min(...served) : Number.NaN,
      allServedMs: served.length ? Math.max(...served) : Number.NaN,
      partitionsWithoutCommands: mine.size - served.length,
      commands: load.records.length,
      failed: load.failed().length,
      retried: load.retried().length,
    };
    trials.push(trial);
    log(
      `cluster: failover trial ${t + 1}/${plan.trials}: ${trial.partitions} partitions claimed ${trial.claimedMs} ms after the kill, ` +
        `first ok ${trial.firstOkMs} ms, all served ${trial.allServedMs} ms; ${trial.commands} commands, ${trial.failed} failed, ${trial.retried} retried`,
    );
    // Started again for the next trial (it joins: its handoffs are timed too).
    if (t + 1 < plan.trials) await fleet.restart(victim);
  }
  return trials;
}
