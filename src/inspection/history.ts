/**
 * An aggregate's history for the inspector: its stored events, replayed one by one into its
 * pure machine (the same replay that rebuilds a passivated actor), with the state and the
 * context after each. Works for any aggregate in the store, resident or not.
 */
import { createActor } from 'xstate';
import { registry, type AggregateKind } from '../../machines/index.js';
import { ensureError } from '../errors.js';
import type { StoredEvent } from '../store/index.js';
import { factEvent } from '../runtime/rehydrate.js';
import { naturalKeyOf } from './names.js';
import { DETAIL_LIMITS, eventPayload, sanitize } from './sanitize.js';
import { stateName, type HistoryReply, type HistoryStep } from './wire.js';

export type ReadHistory = (kind: AggregateKind, id: string) => Promise<StoredEvent[]>;

/** Replay `events` into a fresh actor of `kind`; the last `limit` steps, bounded to `maxBytes` of JSON. */
export function replayHistory(
  kind: AggregateKind,
  id: string,
  events: readonly StoredEvent[],
  limit: number,
  maxBytes: number,
): HistoryReply {
  const actor = createActor(registry[kind].machine, { input: { aggregate_id: id } });
  actor.start();
  const initial = stateName(actor.getSnapshot().value);
  const first = Math.max(0, events.length - limit);
  let initialState = initial;
  let name: string | undefined;
  const steps: HistoryStep[] = [];
  try {
    for (let i = 0; i < events.length; i++) {
      const stored = events[i]!;
      const fact = factEvent(stored);
      actor.send(fact);
      const snap = actor.getSnapshot() as { value: unknown; context: unknown };
      name = naturalKeyOf(kind, snap.context) ?? name;
      if (i < first) {
        if (i === first - 1) initialState = stateName(snap.value);
        continue;
      }
      const e = stored.event;
      const payload = eventPayload(fact, DETAIL_LIMITS);
      steps.push({
        sequence: e.sequence,
        event_type: e.event_type,
        fact: stored.fact,
        occurred_at: e.occurred_at,
        event_id: e.identity.message_id,
        correlation_id: e.identity.correlation_id,
        causation_id: e.identity.causation_id,
        state: stateName(snap.value),
        ...(payload !== undefined ? { payload } : {}),
        context: sanitize(snap.context, DETAIL_LIMITS),
      });
    }
  } finally {
    actor.stop();
  }
  const reply: HistoryReply = {
    status: 'ok',
    type: kind,
    id,
    ...(name !== undefined ? { name } : {}),
    total: events.length,
    initial_state: initialState,
    steps,
  };
  // Bound the reply: contexts of the oldest steps go first, then payloads, then the oldest steps.
  let size = JSON.stringify(reply).length;
  for (let i = 0; size > maxBytes && i < steps.length - 1; i++) {
    const s = steps[i]!;
    if (s.context !== undefined) {
      size -= JSON.stringify(s.context).length;
      delete s.context;
    }
  }
  for (let i = 0; size > maxBytes && i < steps.length - 1; i++) {
    const s = steps[i]!;
    if (s.payload !== undefined) {
      size -= JSON.stringify(s.payload).length;
      delete s.payload;
    }
  }
  while (size > maxBytes && steps.length > 1) {
    const s = steps.shift()!;
    reply.initial_state = s.state;
    size -= JSON.stringify(s).length;
  }
  return reply;
}

/** Load and replay; never throws (the reply says what went wrong). */
export async function loadHistory(
  read: ReadHistory,
  kind: AggregateKind,
  id: string,
  limit: number,
  maxBytes: number,
): Promise<HistoryReply> {
  try {
    const events = await read(kind, id);
    return replayHistory(kind, id, events, limit, maxBytes);
  } catch (e) {
    return { status: 'error', message: `the history of ${kind} ${id} could not be loaded: ${ensureError(e).message}` };
  }
}
