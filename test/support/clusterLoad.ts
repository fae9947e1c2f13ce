/**
 * Load for the scale-out tests: careful clients (a command is retried with the same message id
 * on a timeout, no responders or `unavailable`, until a definite answer) sending module
 * commands at a steady rate over many aggregates, one command per aggregate at a time (create,
 * then updates, in order). Then an audit of the event stream, read with its headers: every
 * command answered `ok` and stored exactly once, every aggregate gapless, every event seen on
 * its seed subject, and no aggregate written by two owners interleaved (the stream keeps the
 * writing instance and its ownership epoch in the `X-Nix-Writer` header).
 */
import { randomUUID } from 'node:crypto';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { namedId } from '../../src/domain/ids.js';
import { subjectsFor } from '../../src/domain/subjects.js';

export interface CommandRecord {
  name: string;
  id: string;
  /** 1 for the create, then 2, 3 … */
  n: number;
  messageId: string;
  sentAt: number;
  answeredAt?: number;
  attempts: number;
  /** What came back before the definite answer: `timeout`, `no_responders`, or an error code. */
  transient: string[];
  reply?: Record<string, unknown>;
}

export interface LoadOptions {
  prefix: string;
  aggregates: number;
  /** Commands per second (over all aggregates). */
  rate: number;
  /** How long a request waits for its answer before the client sends it again. */
  requestTimeoutMs?: number;
  /** Name of aggregate i (default `load<i>`). */
  name?: (i: number) => string;
}

/** Sends commands until `stop()`; `stop()` waits for the commands in flight to get a definite answer. */
export class ClusterLoad {
  readonly records: CommandRecord[] = [];
  private readonly next: number[];
  private readonly busy: boolean[];
  private timer: ReturnType<typeof setInterval> | undefined;
  private inFlight = new Set<Promise<void>>();
  private cursor = 0;
  /** Ticks where every aggregate still waited for its previous command. */
  starved = 0;
  private stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: LoadOptions,
  ) {
    this.next = new Array<number>(options.aggregates).fill(1);
    this.busy = new Array<boolean>(options.aggregates).fill(false);
  }

  nameOf(i: number): string {
    return this.options.name?.(i) ?? `load${i}`;
  }

  start(): void {
    const tickMs = 5;
    let credit = 0;
    this.timer = setInterval(() => {
      credit += (this.options.rate * tickMs) / 1000;
      while (credit >= 1) {
        credit--;
        if (!this.issue()) {
          this.starved++;
          credit = 0;
        }
      }
    }, tickMs);
  }

  private issue(): boolean {
    const n = this.options.aggregates;
    for (let k = 0; k < n; k++) {
      const i = (this.cursor + k) % n;
      if (this.busy[i]) continue;
      this.cursor = (i + 1) % n;
      this.busy[i] = true;
      const step = this.next[i]!;
      this.next[i] = step + 1;
      const p = this.send(i, step).finally(() => {
        this.busy[i] = false;
        this.inFlight.delete(p);
      });
      this.inFlight.add(p);
      return true;
    }
    return false;
  }

  private async send(i: number, n: number): Promise<void> {
    const name = this.nameOf(i);
    const subjects = subjectsFor(this.options.prefix);
    const messageId = randomUUID();
    const record: CommandRecord = { name, id: namedId('module', name), n, messageId, sentAt: Date.now(), attempts: 0, transient: [] };
    this.records.push(record);
    const body = JSON.stringify({ name, module: { options: {}, config: { step: n }, imports: [] }, identity: { message_id: messageId } });
    const subject = subjects.command('module', n === 1 ? 'create' : 'update');
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      record.attempts++;
      try {
        const reply = (await this.nc.request(subject, body, { timeout: this.options.requestTimeoutMs ?? 1_000 })).json<Record<string, unknown>>();
        if (reply['status'] === 'ok' || (reply['code'] !== 'unavailable' && reply['code'] !== 'conflict')) {
          record.reply = reply;
          record.answeredAt = Date.now();
          return;
        }
        record.transient.push(String(reply['code']));
      } catch (e) {
        record.transient.push(/no responders|503/i.test(String(e)) ? 'no_responders' : 'timeout');
      }
      // Client back-off between retries (what a real client does), not a synchronisation sleep.
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  get running(): boolean {
    return !this.stopped;
  }

  /** Commands with a definite answer that is not ok. */
  failed(): CommandRecord[] {
    return this.records.filter((r) => r.reply?.['status'] !== 'ok');
  }

  /** Commands that met at least one transient answer (timeout, unavailable, no responders) on the way. */
  retried(): CommandRecord[] {
    return this.records.filter((r) => r.transient.length > 0);
  }
}

/** One stored event, with what the stream says about it. */
export interface StreamEvent {
  aggregate_id: string;
  sequence: number;
  command_id: string;
  event_id: string;
  event_type: string;
  /** The instance that stored it (`X-Nix-Writer`). */
  writer: string;
  /** Server time of the store (ms). */
  at: number;
  stream_seq: number;
}

/** Every event of the prefix's stream, in stream order. */
export async function readStream(nc: NatsConnection, prefix: string): Promise<StreamEvent[]> {
  const subjects = subjectsFor(prefix);
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  const total = (await jsm.streams.info(subjects.eventStream)).state.messages;
  const consumer = await jetstream(nc, { timeout: 10_000 }).consumers.get(subjects.eventStream, { deliver_policy: DeliverPolicy.All });
  const out: StreamEvent[] = [];
  try {
    while (out.length < total) {
      let got = 0;
      for await (const m of await consumer.fetch({ max_messages: 1000, expires: 5_000 })) {
        got++;
        const ev = m.json<{ aggregate_id: string; sequence: number; event_type: string; identity: { message_id: string; causation_id: string } }>();
        out.push({
          aggregate_id: ev.aggregate_id,
          sequence: ev.sequence,
          command_id: m.headers?.get('X-Command-ID') ?? ev.identity.causation_id,
          event_id: ev.identity.message_id,
          event_type: ev.event_type,
          writer: m.headers?.get('X-Nix-Writer') ?? '',
          at: m.info.timestampNanos / 1e6,
          stream_seq: m.seq,
        });
      }
      if (got === 0) break;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
  return out;
}

/** Event ids seen on `P.event.>` (the seed subjects), from the moment this is called. */
export function watchSeeds(nc: NatsConnection, prefix: string): { ids: Set<string>; sub: Subscription } {
  const ids = new Set<string>();
  const sub = nc.subscribe(subjectsFor(prefix).events, {
    callback: (err, m) => {
      if (!err) ids.add(m.headers?.get('X-Event-ID') ?? '');
    },
  });
  return { ids, sub };
}

/**
 * Aggregates with events of two owners interleaved. Every event carries its writer and the
 * writer's ownership epoch of the aggregate's partition (`X-Nix-Writer: <instance>@<epoch>`;
 * the epoch grows by one with every change of owner). One owner at a time means: along an
 * aggregate's sequence the epochs never go back, and each epoch has one writer. A partition
 * that moves away and comes back (a handoff and a handoff back, even within a lease) is fine:
 * it comes back with a higher epoch. Also reported: how long the quickest such return took.
 */
export function interleavings(events: readonly StreamEvent[]): string[] {
  const byAggregate = new Map<string, StreamEvent[]>();
  for (const e of events) {
    const list = byAggregate.get(e.aggregate_id) ?? [];
    list.push(e);
    byAggregate.set(e.aggregate_id, list);
  }
  const problems: string[] = [];
  for (const [id, list] of byAggregate) {
    list.sort((a, b) => a.sequence - b.sequence);
    const writerOfEpoch = new Map<number, string>();
    let epoch = 0;
    for (const e of list) {
      const [writer = '', tag = ''] = e.writer.split('@');
      const at = Number(tag);
      if (!Number.isInteger(at) || at < 1) {
        problems.push(`aggregate ${id} #${e.sequence}: writer tag ${JSON.stringify(e.writer)} has no ownership epoch`);
        continue;
      }
      if (at < epoch) problems.push(`aggregate ${id} #${e.sequence}: written by ${writer} in epoch ${at} after epoch ${epoch} had begun (two owners interleaved)`);
      const other = writerOfEpoch.get(at);
      if (other !== undefined && other !== writer) problems.push(`aggregate ${id} #${e.sequence}: epoch ${at} written by ${other} and ${writer}`);
      writerOfEpoch.set(at, writer);
      epoch = Math.max(epoch, at);
    }
  }
  return problems;
}

/** The instance part of a writer tag (`<instance>@<epoch>`). */
export function writerInstance(tag: string): string {
  return tag.split('@')[0] ?? '';
}

/**
 * The audit of a load against the stream: every command ok, stored once (one event each),
 * aggregates gapless with as many events as commands, every event on its seed subject, no
 * interleaved owners ({@link interleavings}), every event tagged with its writer.
 */
export function auditLoad(load: ClusterLoad, events: readonly StreamEvent[], seen: ReadonlySet<string>, options: { owners?: boolean } = {}): string[] {
  const problems: string[] = [];
  for (const r of load.failed()) problems.push(`${r.name} #${r.n}: ${JSON.stringify(r.reply ?? 'no answer')}`);
  const perCommand = new Map<string, number>();
  for (const e of events) perCommand.set(e.command_id, (perCommand.get(e.command_id) ?? 0) + 1);
  for (const r of load.records) {
    const stored = perCommand.get(r.messageId) ?? 0;
    if (stored !== 1) problems.push(`${r.name} #${r.n} (${r.messageId}) stored ${stored} times`);
  }
  const seqs = new Map<string, number[]>();
  for (const e of events) seqs.set(e.aggregate_id, [...(seqs.get(e.aggregate_id) ?? []), e.sequence]);
  const commands = new Map<string, number>();
  for (const r of load.records) commands.set(r.id, (commands.get(r.id) ?? 0) + 1);
  for (const [id, n] of commands) {
    const s = (seqs.get(id) ?? []).sort((a, b) => a - b);
    if (s.join(',') !== Array.from({ length: n }, (_, i) => i + 1).join(',')) problems.push(`aggregate ${id}: sequences ${s.join(',')} for ${n} commands`);
  }
  const unseen = events.filter((e) => !seen.has(e.event_id));
  if (unseen.length > 0) problems.push(`${unseen.length} stored events never seen on their seed subjects (first: ${unseen[0]!.event_id})`);
  const untagged = events.filter((e) => e.writer === '');
  if (untagged.length > 0) problems.push(`${untagged.length} stored events without X-Nix-Writer`);
  // Without routing (the old queue-group behaviour) every instance writes every aggregate: no owners to check.
  if (options.owners ?? true) problems.push(...interleavings(events));
  return problems;
}
