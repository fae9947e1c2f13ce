/**
 * Service state in a JetStream KV bucket (file storage): aggregate snapshots
 * (`snap.<kind>.<id>`) and the seed-publication checkpoint (`relay.checkpoint`).
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Subjects } from '../domain/subjects.js';

/** A stored aggregate snapshot, tagged with the machine version it was taken with. */
export interface AggregateSnapshot {
  kind: string;
  id: string;
  machine_version: number;
  /** Stream sequence of the last event folded into this snapshot. */
  stream_seq: number;
  version: number;
  /** XState's persisted snapshot. */
  persisted: unknown;
  /** Finished commands (the ledger), so retries stay exactly-once past the dedup window. */
  ledger: unknown[];
  taken_at: string;
}

const RELAY_KEY = 'relay.checkpoint';

export class StateStore {
  private constructor(private readonly kv: KV) {}

  static async open(nc: NatsConnection, subjects: Subjects): Promise<StateStore> {
    const kv = await new Kvm(nc).create(subjects.stateBucket, { history: 1, storage: 'file' as never, description: 'cim-domain-nix snapshots and checkpoints' });
    return new StateStore(kv);
  }

  async loadSnapshot(kind: string, id: string): Promise<AggregateSnapshot | undefined> {
    const e = await this.kv.get(`snap.${kind}.${id}`);
    if (!e || e.operation !== 'PUT' || e.value.length === 0) return undefined;
    return e.json<AggregateSnapshot>();
  }

  async saveSnapshot(snapshot: AggregateSnapshot): Promise<void> {
    await this.kv.put(`snap.${snapshot.kind}.${snapshot.id}`, JSON.stringify(snapshot));
  }

  async loadCheckpoint(): Promise<number> {
    const e = await this.kv.get(RELAY_KEY);
    if (!e || e.operation !== 'PUT') return 0;
    return Number(e.string()) || 0;
  }

  async saveCheckpoint(seq: number): Promise<void> {
    await this.kv.put(RELAY_KEY, String(seq));
  }
}
