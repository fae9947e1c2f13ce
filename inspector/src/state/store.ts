/**
 * The page's model of what the service reports: the actors (one row each, with the natural
 * key as its name and the instance that reported it), a bounded ring of recent records for
 * the timeline and sequence views, and counters. Views subscribe and re-render once per frame.
 */
import type { ActorSummary, InspectRecord } from '../../../src/inspection/wire.js';

export interface ActorRow extends ActorSummary {
  key: string;
  /** When the row last changed in this page (for the flash). */
  changed: number;
  /**
   * The service instance that last reported the actor (the batch's or the list's `instance`).
   * With one instance it is the one the page is connected to; with several, the one running it.
   */
  instance?: string;
}

/** Most records the timeline keeps (older ones fall off). */
export const TIMELINE_CAP = 20_000;

export type Topic = 'actors' | 'timeline';

export const keyOf = (type: string, id: string): string => `${type}:${id}`;

/** Record the correlation a record belongs to, if any. */
export function correlationOf(r: InspectRecord): string | undefined {
  if (r.k === 'stored') return r.correlation_id;
  if ('cause' in r && r.cause) return r.cause.correlation_id;
  return undefined;
}

/** How an actor is shown: its name (natural key) when known, else the start of its ID. */
export function displayName(row: { type: string; id: string; name?: string | undefined }): string {
  if (row.name !== undefined) return row.name;
  return row.type === 'system' ? row.id : row.id.slice(0, 8);
}

export class Store {
  readonly actors = new Map<string, ActorRow>();
  /** Ring buffer of records, oldest first once wrapped. */
  private ring: InspectRecord[] = [];
  private head = 0;
  recordsSeen = 0;
  dropped = 0;
  batches = 0;
  lastSeq = new Map<string, number>();
  /** The command each actor is handling (records after its event record belong to it). */
  private readonly causes = new Map<string, NonNullable<Extract<InspectRecord, { k: 'event' }>['cause']>>();
  private readonly listeners = new Map<Topic, Set<() => void>>();
  /** Bumped on every change of the actor set or a row (views compare it). */
  actorsVersion = 0;
  timelineVersion = 0;

  on(topic: Topic, fn: () => void): void {
    let set = this.listeners.get(topic);
    if (!set) this.listeners.set(topic, (set = new Set()));
    set.add(fn);
  }

  emit(topic: Topic): void {
    for (const fn of this.listeners.get(topic) ?? []) fn();
  }

  /** The name of an actor by key, if known. */
  nameOf(key: string): string | undefined {
    return this.actors.get(key)?.name;
  }

  /** Instances seen reporting (their batches or lists). */
  get instances(): ReadonlySet<string> {
    return new Set(this.lastSeq.keys());
  }

  /** Merge a page of the service's actor list (live records newer than it win; a name is kept either way). */
  mergeActors(list: readonly ActorSummary[], instance?: string): void {
    for (const a of list) {
      const key = keyOf(a.type, a.id);
      const row = this.actors.get(key);
      if (row && row.at > a.at) {
        if (row.name === undefined && a.name !== undefined) row.name = a.name;
        continue;
      }
      const next: ActorRow = { ...a, key, changed: row?.changed ?? 0 };
      if (next.name === undefined && row?.name !== undefined) next.name = row.name;
      if (instance !== undefined) next.instance = instance;
      this.actors.set(key, next);
    }
    this.actorsVersion++;
    this.emit('actors');
  }

  /** Apply records from one batch of `instance`. */
  apply(records: readonly InspectRecord[], instance?: string): void {
    let actorsChanged = false;
    const now = performance.now();
    for (const r of records) {
      this.recordsSeen++;
      this.carryCause(r);
      this.push(r);
      if (this.applyToActor(r, now, instance)) actorsChanged = true;
    }
    this.timelineVersion++;
    this.emit('timeline');
    if (actorsChanged) {
      this.actorsVersion++;
      this.emit('actors');
    }
  }

  /** Give a state record the cause of the actor's preceding event record (the command it handled). */
  private carryCause(r: InspectRecord): void {
    const key = keyOf(r.actor.type, r.actor.id);
    if (r.k === 'event') {
      if (r.cause) this.causes.set(key, r.cause);
      else this.causes.delete(key);
    } else if (r.k === 'state') {
      const c = this.causes.get(key);
      if (c && !r.cause) r.cause = c;
      this.causes.delete(key);
    }
  }

  private push(r: InspectRecord): void {
    if (this.ring.length < TIMELINE_CAP) {
      this.ring.push(r);
    } else {
      this.ring[this.head] = r;
      this.head = (this.head + 1) % TIMELINE_CAP;
    }
  }

  /** Records in time order (oldest first). */
  records(): InspectRecord[] {
    return this.head === 0 ? this.ring.slice() : [...this.ring.slice(this.head), ...this.ring.slice(0, this.head)];
  }

  private row(r: InspectRecord, instance: string | undefined): ActorRow {
    const key = keyOf(r.actor.type, r.actor.id);
    let row = this.actors.get(key);
    if (!row) {
      row = { key, type: r.actor.type, id: r.actor.id, state: '', status: 'live', at: r.at, changed: 0 };
      this.actors.set(key, row);
    }
    if (instance !== undefined) row.instance = instance;
    if (r.actor.name !== undefined) row.name = r.actor.name;
    return row;
  }

  private applyToActor(r: InspectRecord, now: number, instance: string | undefined): boolean {
    // The name comes once (lifecycle records and the first record after the service learned it).
    let named = false;
    if (r.actor.name !== undefined) {
      const row = this.actors.get(keyOf(r.actor.type, r.actor.id));
      if (row && row.name !== r.actor.name) {
        row.name = r.actor.name;
        named = true;
      }
    }
    return this.applyState(r, now, instance) || named;
  }

  private applyState(r: InspectRecord, now: number, instance: string | undefined): boolean {
    switch (r.k) {
      case 'spawned':
      case 'rehydrated': {
        const row = this.row(r, instance);
        row.state = r.state;
        if (r.version !== undefined) row.version = r.version;
        row.status = 'live';
        row.at = r.at;
        row.changed = now;
        return true;
      }
      case 'state': {
        const row = this.row(r, instance);
        row.state = r.state;
        if (r.version !== undefined) row.version = r.version;
        if (!r.event.startsWith('xstate.')) row.last_event = r.event;
        if (r.cause) row.correlation_id = r.cause.correlation_id;
        row.status = r.status === 'stopped' ? 'stopped' : 'live';
        row.at = r.at;
        row.changed = now;
        return true;
      }
      case 'passivated': {
        const row = this.row(r, instance);
        row.status = 'passivated';
        row.at = r.at;
        row.changed = now;
        return true;
      }
      case 'stopped': {
        const row = this.row(r, instance);
        row.status = r.reason === 'asleep' ? 'asleep' : 'stopped';
        row.at = r.at;
        row.changed = now;
        return true;
      }
      default:
        return false;
    }
  }
}
