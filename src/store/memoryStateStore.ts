/**
 * The in-memory twin of the KV state store (snapshots and the relay checkpoint), held to the
 * same contract; `available = false` makes it fail as a bucket that does not answer.
 */
import { UnavailableError } from '../errors.js';
import type { AggregateSnapshot, StateStore } from './ports.js';

export class MemoryStateStore implements StateStore {
  private readonly snapshots = new Map<string, string>();
  private checkpoint = 0;
  /** While false, every operation fails (a transient error). */
  available = true;
  /** Snapshots saved so far. */
  saved = 0;

  loadSnapshot(kind: string, id: string): Promise<AggregateSnapshot | undefined> {
    return this.answer(() => {
      const text = this.snapshots.get(`${kind}.${id}`);
      return text === undefined ? undefined : (JSON.parse(text) as AggregateSnapshot);
    });
  }

  saveSnapshot(snapshot: AggregateSnapshot): Promise<void> {
    return this.answer(() => {
      // Stored as bytes, as the bucket does: a later change of the caller's object is not kept.
      this.snapshots.set(`${snapshot.kind}.${snapshot.id}`, JSON.stringify(snapshot));
      this.saved++;
    });
  }

  loadCheckpoint(): Promise<number> {
    return this.answer(() => this.checkpoint);
  }

  saveCheckpoint(seq: number): Promise<void> {
    return this.answer(() => {
      this.checkpoint = seq;
    });
  }

  private answer<T>(fn: () => T): Promise<T> {
    if (!this.available) return Promise.reject(new UnavailableError('the state store does not answer (in-memory twin made unavailable)'));
    return Promise.resolve(fn());
  }
}
