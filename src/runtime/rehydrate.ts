/**
 * Rebuild an aggregate actor: the latest snapshot taken with the current machine version
 * (a snapshot of another version is ignored, never misread), then every stored event after
 * it, replayed as fact events. Signals emitted during replay are not acted on, and the replay
 * is not inspected: the slot attaches the inspector once the actor is rebuilt.
 */
import { createActor, type AnyActor, type Snapshot } from 'xstate';
import { registry, type AggregateKind, type MachineSignal } from '../../machines/index.js';
import { ENVELOPE_FIELDS } from '../domain/events.js';
import { ensureError } from '../errors.js';
import type { StoredEvent } from '../store/index.js';
import type { SlotHost } from './slotHost.js';

export interface Rehydrated {
  actor: AnyActor;
  /** The events replayed on top of the snapshot (all of them without one). */
  events: StoredEvent[];
  lastStreamSeq: number;
  snapshotVersion: number;
  ledger: unknown[];
}

const envelope = new Set<string>(ENVELOPE_FIELDS);

/** The fact event a stored domain event replays as. */
export function factEvent(stored: StoredEvent): { type: string } & Record<string, unknown> {
  const fact: { type: string } & Record<string, unknown> = { type: stored.fact };
  const ev = stored.event as Record<string, unknown>;
  for (const key in ev) if (!envelope.has(key)) fact[key] = ev[key];
  return fact;
}

/**
 * Create and start the actor of an aggregate, from a persisted snapshot or from the start;
 * its signals go to `onSignal`, its failures to the log.
 */
export function startAggregateActor(
  kind: AggregateKind,
  id: string,
  host: Pick<SlotHost, 'logger'>,
  persisted: Snapshot<unknown> | undefined,
  onSignal: (signal: MachineSignal) => void,
): AnyActor {
  const actor = createActor(registry[kind].machine, {
    input: { aggregate_id: id },
    id: `${kind}:${id}`,
    ...(persisted ? { snapshot: persisted } : {}),
  }) as AnyActor;
  actor.on('*', (signal) => onSignal(signal as MachineSignal));
  actor.subscribe({
    error: (err: unknown) => host.logger.error({ err: ensureError(err), aggregate_id: id, aggregate_type: kind }, 'aggregate actor failed'),
  });
  actor.start();
  return actor;
}

export async function rehydrate(
  kind: AggregateKind,
  id: string,
  host: SlotHost,
  onSignal: (signal: MachineSignal) => void,
): Promise<Rehydrated> {
  const def = registry[kind];
  let snapshot = host.loadSnapshot ? await host.loadSnapshot(kind, id) : undefined;
  if (snapshot && snapshot.machine_version !== def.version) {
    host.logger.info(
      { aggregate_id: id, aggregate_type: kind, snapshot_version: snapshot.machine_version, machine_version: def.version },
      'ignoring a snapshot taken with another machine version; replaying all events',
    );
    snapshot = undefined;
  }
  const afterSeq = snapshot?.stream_seq ?? 0;
  const events = await host.read(kind, id, afterSeq);
  let replaying = true;
  const actor = startAggregateActor(kind, id, host, snapshot?.persisted as Snapshot<unknown> | undefined, (signal) => {
    if (!replaying) onSignal(signal);
  });
  for (const stored of events) {
    actor.send(factEvent(stored));
    const version = (actor.getSnapshot() as { context: { version: number } }).context.version;
    if (version !== stored.event.sequence) {
      host.logger.error(
        { aggregate_id: id, fact: stored.fact, stored_sequence: stored.event.sequence, machine_version: version },
        'replayed event does not match the machine version: the history and the machine disagree',
      );
    }
  }
  replaying = false;
  return {
    actor,
    events,
    lastStreamSeq: events.at(-1)?.stream_seq ?? afterSeq,
    snapshotVersion: snapshot?.version ?? 0,
    ledger: snapshot?.ledger ?? [],
  };
}
