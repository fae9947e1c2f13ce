/**
 * Rebuilding an aggregate of 1,000 events: the time to the first reply after it was
 * passivated (and after a service restart), without and with a snapshot, plus the parts of
 * a rebuild taken in-process with the service's own code (read from JetStream, load the
 * snapshot, replay) and the replay rate.
 */
import { pino } from 'pino';
import { namedId } from '../../src/domain/ids.js';
import { subjectsFor } from '../../src/domain/subjects.js';
import { systemClock } from '../../src/time/clock.js';
import { JetStreamEventLog, type StoredEvent } from '../../src/store/index.js';
import { KvStateStore } from '../../src/store/index.js';
import type { SlotHost } from '../../src/runtime/aggregateSlot.js';
import { rehydrate } from '../../src/runtime/rehydrate.js';
import type { TestService } from '../support/service.js';
import { commandFleet, createFleet, mergeFailures } from './commands.js';
import { health, removePrefixState, startBenchService, stopBenchService, timedRequest, type BenchContext } from './context.js';
import { judge, type Figure } from './figures.js';
import { benchName, moduleUpdatePayload } from './payloads.js';
import { TARGETS } from './options.js';
import { median } from './stats.js';

export interface RehydrationVariant {
  label: string;
  snapshotEvery: number;
  /** Events stored before the first measured rebuild. */
  events: number;
  /** Round trip of the first command after passivation, per repeat (ms). */
  firstReplyMs: number[];
  /** Round trip of the next command (actor live), per repeat (ms). */
  warmReplyMs: number[];
  /** `rehydrate()` with the real store: snapshot load + read + replay (ms, median). */
  rehydrateMs: number;
  /** Events `rehydrate()` replayed on top of the snapshot. */
  replayedOnSnapshot: number;
  /** Reading the whole history from JetStream (ms, median). */
  readAllMs: number;
  /** Service stop → start of a new one with the same prefix (ms). */
  restartStartMs: number;
  /** First command's round trip on the restarted service (ms). */
  restartFirstReplyMs: number;
  failures: Record<string, number>;
  failureMessages: Record<string, string>;
}

export interface RehydrationResults {
  variants: RehydrationVariant[];
  /** Replay only (events in memory, no I/O): ms per full replay (median) and events/s. */
  replay: { events: number; ms: number; perSecond: number };
  figures: Figure[];
}

const silent = pino({ level: 'silent' });

/** Wait until the service reports no live aggregate (bounded). */
async function waitPassivated(ctx: BenchContext, deadlineMs = 10_000): Promise<void> {
  const end = ctx.now() + deadlineMs;
  while (ctx.now() < end) {
    const h = await health(ctx.admin).catch(() => undefined);
    if (h?.aggregates?.live === 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the aggregate was not passivated within ${deadlineMs} ms (NIX_PASSIVATION_IDLE_MS is honoured by the service?)`);
}

function slotHost(read: SlotHost['read'], loadSnapshot?: SlotHost['loadSnapshot']): SlotHost {
  return {
    logger: silent,
    subjects: subjectsFor('bench'),
    clock: systemClock,
    snapshotEvery: 0,
    read,
    ...(loadSnapshot ? { loadSnapshot } : {}),
    storeDeferred: () => Promise.reject(new Error('the bench only rebuilds')),
    runEffect: () => Promise.reject(new Error('the bench only rebuilds')),
  };
}

/** Median of up to `times` runs, stopping early once `budgetMs` is spent (at least one run). */
async function timeMedian(times: number, fn: () => Promise<void>, now: () => number, budgetMs = 3_000): Promise<number> {
  const out: number[] = [];
  const start = now();
  for (let i = 0; i < times && (i === 0 || now() - start < budgetMs); i++) {
    const t = now();
    await fn();
    out.push(now() - t);
  }
  return median(out);
}

async function measureVariant(
  ctx: BenchContext,
  label: string,
  snapshotEvery: number,
): Promise<{ variant: RehydrationVariant; events: StoredEvent[] }> {
  const s = ctx.settings.rehydration;
  const env = { NIX_SNAPSHOT_EVERY: String(snapshotEvery), NIX_PASSIVATION_IDLE_MS: '50' };
  let svc: TestService | undefined = await startBenchService(ctx, 'rehy', env);
  const prefix = svc.prefix;
  const fleet = commandFleet(svc, `rehydrate-${snapshotEvery}`, 1);
  const name = benchName(fleet.names, 0);
  const failures: Record<string, number>[] = [];
  const failureMessages: Record<string, string> = {};
  const note = (r: { errors: Record<string, number>; errorMessages: Record<string, string> }): void => {
    failures.push(r.errors);
    Object.assign(failureMessages, r.errorMessages);
  };
  try {
    ctx.log(`rehydration (${label}): storing ${s.events} events on one aggregate`);
    note(await createFleet(ctx, fleet, 1));
    note(
      await ctx.load.run({
        label: 'fill one aggregate',
        target: fleet.update,
        drive: { kind: 'window', window: 8, total: s.events - 1 },
        timeoutMs: ctx.settings.timeoutMs,
      }),
    );
    const subject = `${prefix}.cmd.module.update`;
    let counter = 0;
    /** One update's round trip; a failure is counted (a timeout with its elapsed time), not thrown. */
    const update = async (): Promise<number> => {
      const t = ctx.now();
      try {
        const { ms, reply } = await timedRequest(ctx, ctx.admin, subject, moduleUpdatePayload(name, ++counter), ctx.settings.timeoutMs);
        if (reply['status'] !== 'ok') {
          const code = String(reply['code']);
          failures.push({ [code]: 1 });
          failureMessages[code] ??= String(reply['message']);
        }
        return ms;
      } catch (e) {
        const code = e instanceof Error && /timeout/i.test(`${e.name} ${e.message}`) ? 'timeout' : 'request_failed';
        failures.push({ [code]: 1 });
        failureMessages[code] ??= e instanceof Error ? e.message : String(e);
        return ctx.now() - t;
      }
    };
    const firstReplyMs: number[] = [];
    const warmReplyMs: number[] = [];
    for (let i = 0; i < s.repeats; i++) {
      await waitPassivated(ctx);
      firstReplyMs.push(await update());
      warmReplyMs.push(await update());
    }

    // The parts, in-process, with the service's own store and rebuild code.
    const subjects = subjectsFor(prefix);
    const store = await JetStreamEventLog.open(ctx.admin, subjects, silent);
    const state = await KvStateStore.open(ctx.admin, subjects);
    const id = namedId('module', name);
    let events: StoredEvent[] = [];
    const readAllMs = await timeMedian(
      5,
      async () => {
        events = await store.read('module', id, 0);
      },
      ctx.now,
    );
    let replayedOnSnapshot = 0;
    const host = slotHost(
      (kind, aggId, after) => store.read(kind, aggId, after),
      (kind, aggId) => state.loadSnapshot(kind, aggId),
    );
    const rehydrateMs = await timeMedian(
      5,
      async () => {
        const r = await rehydrate('module', id, host, () => undefined);
        replayedOnSnapshot = r.events.length;
        r.actor.stop();
      },
      ctx.now,
    );

    // A restart: a new service on the same stream rebuilds on the first command.
    await stopBenchService(svc);
    svc = undefined;
    const t = ctx.now();
    svc = await startBenchService(ctx, 'rehy', env, prefix);
    const restartStartMs = ctx.now() - t;
    const restartFirstReplyMs = await update();

    return {
      events,
      variant: {
        label,
        snapshotEvery,
        events: s.events,
        firstReplyMs,
        warmReplyMs,
        rehydrateMs,
        replayedOnSnapshot,
        readAllMs,
        restartStartMs,
        restartFirstReplyMs,
        failures: mergeFailures(...failures),
        failureMessages,
      },
    };
  } finally {
    if (svc) await stopBenchService(svc);
    await removePrefixState(ctx.admin, prefix);
  }
}

export async function measureRehydration(ctx: BenchContext): Promise<RehydrationResults> {
  const s = ctx.settings.rehydration;
  const smoke = ctx.settings.mode === 'smoke';
  const plain = await measureVariant(ctx, 'without snapshot', 1_000_000_000);
  const snap = await measureVariant(ctx, `snapshot every ${s.snapshotEvery}`, s.snapshotEvery);

  // Replay alone: the history already in memory, so only actor creation and replay count.
  const events = plain.events;
  const id = events[0]?.event.aggregate_id ?? 'none';
  const inMemory = slotHost((_k, _id, after) => Promise.resolve(events.filter((e) => e.stream_seq > after)));
  // Warm up until the JIT has optimised the replay path, then take the median of many.
  const warm = smoke ? 3 : 30;
  const runs = smoke ? 5 : 50;
  for (let i = 0; i < warm; i++) (await rehydrate('module', id, inMemory, () => undefined)).actor.stop();
  const replayMs = await timeMedian(
    runs,
    async () => {
      (await rehydrate('module', id, inMemory, () => undefined)).actor.stop();
    },
    ctx.now,
  );
  const replay = { events: events.length, ms: replayMs, perSecond: (events.length / replayMs) * 1000 };

  const section = `rebuild an aggregate of ${s.events.toLocaleString('en-US')} events`;
  const target = { op: '<=' as const, value: TARGETS.rebuildMs };
  const figures: Figure[] = [];
  for (const v of [plain.variant, snap.variant]) {
    const first = median(v.firstReplyMs);
    const warm = median(v.warmReplyMs);
    figures.push(
      judge({
        section,
        name: `first reply after passivation, ${v.label}`,
        value: first,
        unit: 'ms',
        target,
        failures: v.failures,
        smoke,
        note: `median of ${v.firstReplyMs.length}, max ${Math.max(...v.firstReplyMs).toFixed(2)} ms; the next (warm) reply ${warm.toFixed(2)} ms`,
      }),
      judge({
        section,
        name: `rehydrate() in-process, ${v.label}`,
        value: v.rehydrateMs,
        unit: 'ms',
        smoke,
        note: `replayed ${v.replayedOnSnapshot} events${v.snapshotEvery < 1_000_000_000 ? ' on top of the snapshot' : ''}; reading all ${v.events} from JetStream alone ${v.readAllMs.toFixed(2)} ms`,
      }),
      judge({
        section,
        name: `first reply after a service restart, ${v.label}`,
        value: v.restartFirstReplyMs,
        unit: 'ms',
        smoke,
        note: `service start ${v.restartStartMs.toFixed(0)} ms`,
      }),
    );
  }
  figures.push(
    judge({
      section,
      name: 'replay rate (events in memory)',
      value: replay.perSecond,
      unit: 'events/s',
      target: { op: '>=', value: TARGETS.replayPerS },
      smoke,
      note: `${replay.events} events in ${replay.ms.toFixed(2)} ms (median of ${runs}, after ${warm} warm-up replays)`,
    }),
  );
  return { variants: [plain.variant, snap.variant], replay, figures };
}
