/**
 * A client that behaves as a careful user of the service under faults: it retries a command
 * with the same `message_id` on timeout, no responders or `unavailable`, until it gets a
 * definite answer; and an audit of the event store that checks the guarantees afterwards.
 */
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, DeliverPolicy } from '@nats-io/jetstream';
import { subjectsFor } from '../../src/domain/subjects.js';

export interface Outcome {
  data: Record<string, unknown>;
  attempts: number;
}

/** Send until a definite answer (ok or a terminal error); bounded by `deadline`. */
export async function sendUntilAnswered(
  nc: NatsConnection,
  subject: string,
  payload: Record<string, unknown>,
  deadline: number,
  timeoutMs = 2_000,
): Promise<Outcome> {
  const body = JSON.stringify({ ...payload, identity: payload['identity'] ?? { message_id: randomUUID() } });
  let attempts = 0;
  while (Date.now() < deadline) {
    attempts++;
    try {
      const reply = await nc.request(subject, body, { timeout: timeoutMs });
      const data = reply.json<Record<string, unknown>>();
      if (data['status'] === 'ok' || (data['code'] !== 'unavailable' && data['code'] !== 'conflict')) return { data, attempts };
    } catch {
      // timeout, no responders or a connection being re-established: retry below
    }
    // Client back-off between retries (what a real client does), not a synchronisation sleep.
    await new Promise((r) => setTimeout(r, 25 + Math.random() * 50));
  }
  throw new Error(`no definite answer for ${subject} before the deadline (${attempts} attempts)`);
}

export interface AuditedEvent {
  aggregate_id: string;
  sequence: number;
  command_id: string;
  event_id: string;
}

/** Every event in a prefix's stream, read with a fresh connection. */
export async function readStore(url: string, prefix: string): Promise<AuditedEvent[]> {
  const nc = await connect({ servers: url });
  try {
    const subjects = subjectsFor(prefix);
    const js = jetstream(nc);
    const info = await (await import('@nats-io/jetstream')).jetstreamManager(nc).then((m) => m.streams.info(subjects.eventStream));
    const total = info.state.messages;
    const consumer = await js.consumers.get(subjects.eventStream, { deliver_policy: DeliverPolicy.All });
    const out: AuditedEvent[] = [];
    while (out.length < total) {
      const batch = await consumer.fetch({ max_messages: 1000, expires: 5_000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        const ev = m.json<{ aggregate_id: string; sequence: number; identity: { message_id: string } }>();
        out.push({ aggregate_id: ev.aggregate_id, sequence: ev.sequence, command_id: m.headers?.get('X-Command-ID') ?? '', event_id: ev.identity.message_id });
      }
      if (got === 0) break;
    }
    await consumer.delete().catch(() => undefined);
    return out;
  } finally {
    await nc.close();
  }
}

/** Problems with the stored events: gaps, duplicate sequences, a command stored twice. */
export function auditProblems(events: AuditedEvent[], expectedPerAggregate?: number): string[] {
  const problems: string[] = [];
  const byAggregate = new Map<string, number[]>();
  const byCommandSeq = new Map<string, number>();
  for (const e of events) {
    const list = byAggregate.get(e.aggregate_id) ?? [];
    list.push(e.sequence);
    byAggregate.set(e.aggregate_id, list);
    const key = `${e.command_id}:${e.sequence}`;
    byCommandSeq.set(key, (byCommandSeq.get(key) ?? 0) + 1);
  }
  for (const [id, seqs] of byAggregate) {
    const want = Array.from({ length: seqs.length }, (_, i) => i + 1);
    if (seqs.join(',') !== want.join(',')) problems.push(`aggregate ${id}: sequences ${seqs.join(',')}`);
    if (expectedPerAggregate !== undefined && seqs.length !== expectedPerAggregate) problems.push(`aggregate ${id}: ${seqs.length} events, expected ${expectedPerAggregate}`);
  }
  const perCommand = new Map<string, number>();
  for (const e of events) perCommand.set(e.command_id, (perCommand.get(e.command_id) ?? 0) + 1);
  for (const [cmd, n] of perCommand) if (n > 1) problems.push(`command ${cmd} stored ${n} events (expected 1)`);
  return problems;
}
