/**
 * Service state in a JetStream KV bucket (file storage): aggregate snapshots
 * (`snap.<kind>.<id>`) and the seed-publication checkpoint (`relay.checkpoint`).
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { SETUP_ATTEMPT_MS, ensureReplicas, explainReplicaError, isReplicaRefusal, untilAnswered } from '../cluster/index.js';
import type { Subjects } from '../domain/subjects.js';
import type { AggregateSnapshot, StateStore } from './ports.js';

const RELAY_KEY = 'relay.checkpoint';
/** How long creating or changing the bucket may take (replicated streams take seconds to place). */
const ADMIN_TIMEOUT_MS = 15_000;

export class KvStateStore implements StateStore {
  private constructor(private readonly kv: KV) {}

  /**
   * Open (or create) the bucket with `replicas` copies (`NIX_REPLICAS`); an existing bucket is
   * brought to that count, or start-up stops with what to set or run ({@link ensureReplicas}).
   */
  static async open(nc: NatsConnection, subjects: Subjects, replicas = 1): Promise<KvStateStore> {
    try {
      const kvm = new Kvm(jetstream(nc, { timeout: SETUP_ATTEMPT_MS }));
      await untilAnswered(
        () => kvm.create(subjects.stateBucket, { history: 1, replicas, storage: 'file' as never, description: 'cim-domain-nix snapshots and checkpoints' }),
        ADMIN_TIMEOUT_MS,
      );
    } catch (e) {
      throw isReplicaRefusal(e) ? explainReplicaError(e, `KV_${subjects.stateBucket}`, replicas) : e;
    }
    // An existing bucket keeps its settings on create: bring its replicas to the setting.
    await ensureReplicas(await jetstreamManager(nc, { timeout: ADMIN_TIMEOUT_MS }), `KV_${subjects.stateBucket}`, replicas);
    // The bucket's own requests keep the client's default timeout. Opening it asks for the
    // stream's info, which a just-created R3 bucket on a busy cluster may leave unanswered for a
    // while: asked again until ADMIN_TIMEOUT_MS, like the create above (a start-up in the cluster
    // bench smoke run once failed on one 5 s timeout here or in the first checkpoint read).
    return new KvStateStore(await untilAnswered(() => new Kvm(nc).open(subjects.stateBucket), ADMIN_TIMEOUT_MS));
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
    // Read once at start (the relay's first step): a timeout is asked again, like the setup.
    const e = await untilAnswered(() => this.kv.get(RELAY_KEY), ADMIN_TIMEOUT_MS);
    if (!e || e.operation !== 'PUT') return 0;
    return Number(e.string()) || 0;
  }

  async saveCheckpoint(seq: number): Promise<void> {
    await this.kv.put(RELAY_KEY, String(seq));
  }
}
