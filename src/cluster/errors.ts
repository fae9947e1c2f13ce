/**
 * Failures of the cluster layer. Start-up refusals ({@link ClusterConfigError}) say what to
 * set or run; {@link KvConflictError} is the compare-and-set losing, which the protocol expects
 * and handles; {@link NoOwnerError} is the `unavailable` reply for a partition without owner.
 */
import { UnavailableError } from '../errors.js';

/** A setting or the stored deployment state forbids starting; terminal, never retried. */
export class ClusterConfigError extends Error {
  readonly terminal = true;
  /** The setting to change (e.g. `NIX_PARTITIONS`), when one is at fault. */
  readonly setting: string | undefined;
  constructor(message: string, options?: ErrorOptions & { setting?: string }) {
    super(message, options);
    this.name = 'ClusterConfigError';
    this.setting = options?.setting;
  }
}

/** A compare-and-set lost: the key exists (create) or is no longer at the expected revision. */
export class KvConflictError extends Error {
  readonly key: string;
  /** The revision the write expected (0 for create). */
  readonly expected: number;
  constructor(key: string, expected: number, options?: ErrorOptions) {
    super(
      expected === 0
        ? `KV key ${key} exists already (create only writes an absent key)`
        : `KV key ${key} is no longer at revision ${expected} (another writer changed it)`,
      options,
    );
    this.name = 'KvConflictError';
    this.key = key;
    this.expected = expected;
  }
}

/** A KV operation got no answer in time (the bucket is unreachable, or its leader is being elected). */
export class KvTimeoutError extends Error {
  constructor(operation: string, key: string, ms: number, options?: ErrorOptions) {
    super(
      `KV ${operation} of ${key} got no answer within ${ms} ms (is the NATS cluster reachable and does the bucket have a leader?)`,
      options,
    );
    this.name = 'KvTimeoutError';
  }
}

/** No instance owns the partition within the time asked (handoff or failover still running). */
export class NoOwnerError extends UnavailableError {
  constructor(partition: number, timeoutMs: number) {
    super(`partition ${partition} has no owner after ${timeoutMs} ms (an instance is handing it off or failing over); retry the command`, {
      partition,
      timeout_ms: timeoutMs,
    });
  }
}
