/**
 * Replica counts of JetStream streams (the event stream, and the stream behind every KV
 * bucket), set from `NIX_REPLICAS`. What nats-server 2.9.10 answers, and what we say instead:
 *
 * - more replicas than the cluster has JetStream servers: `no suitable peers for placement`
 *   (err_code 10005), on create and on update alike;
 * - replicas > 1 on a server that is not in a cluster: creating answers `replicas > 1 not
 *   supported in non-clustered mode` (10074), but UPDATING an existing stream is accepted and
 *   recorded while nothing is replicated — so we check the server is clustered ourselves.
 */
import { JetStreamApiError, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { errors } from '@nats-io/nats-core';
import { ensureError } from '../errors.js';
import { ClusterConfigError } from './errors.js';

const NO_PEERS = 10005;
const NOT_CLUSTERED = 10074;

/** What {@link ensureReplicas} did. */
export interface ReplicaChange {
  stream: string;
  from: number;
  to: number;
  changed: boolean;
}

/**
 * Make `streamName` have `replicas` copies: a no-op when it has them, an update when
 * JetStream allows it (R1→R3 and back work on 2.9 in a cluster; the new copies catch up in
 * the background). Throws {@link ClusterConfigError} that says what to set or run otherwise.
 */
export async function ensureReplicas(jsm: JetStreamManager, streamName: string, replicas: number): Promise<ReplicaChange> {
  let info: StreamInfo;
  try {
    info = await streamInfo(jsm, streamName, LEADER_WAIT_MS);
  } catch (e) {
    throw new ClusterConfigError(`cannot read stream ${streamName} to check its replicas (${ensureError(e).message}); create it first`, {
      cause: e,
    });
  }
  const from = info.config.num_replicas || 1;
  if (replicas > 1 && !info.cluster?.name) {
    throw notClustered(streamName, replicas);
  }
  if (from !== replicas) {
    try {
      const updated = await jsm.streams.update(streamName, { num_replicas: replicas });
      if ((updated.config.num_replicas || 1) !== replicas) throw new Error(`the server kept ${updated.config.num_replicas} replicas`);
    } catch (e) {
      throw explainReplicaError(e, streamName, replicas, from);
    }
  }
  // A replicated stream that another instance is creating right now answers only once its peers
  // have elected a leader, and one just scaled up only once its new copies have caught up: wait
  // for that, so the first read or write does not time out.
  if (info.cluster?.name) await waitForLeader(jsm, streamName, from !== replicas ? undefined : info.cluster.leader, replicas);
  return { stream: streamName, from, to: replicas, changed: from !== replicas };
}

/** How long a request of a stream being set up may stay unanswered before it is sent again. */
export const SETUP_ATTEMPT_MS = 2_000;

/**
 * Run `attempt` (a JetStream request made with a client whose timeout is
 * {@link SETUP_ATTEMPT_MS}) again while it times out, until `totalMs`: a replicated stream that
 * another instance is creating at the same moment answers nothing until it has a leader, and
 * nats.js would otherwise wait out one long timeout before failing.
 */
export async function untilAnswered<T>(attempt: () => Promise<T>, totalMs = 15_000): Promise<T> {
  const deadline = Date.now() + totalMs;
  for (;;) {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof errors.TimeoutError) || Date.now() + SETUP_ATTEMPT_MS > deadline) throw e;
    }
  }
}

/** How long a clustered stream may take to get a leader at start-up. */
const LEADER_WAIT_MS = 15_000;

/** One stream info answer within `ms`, else undefined (the request itself may answer later). */
function infoWithin(jsm: JetStreamManager, streamName: string, ms: number): Promise<StreamInfo | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  const asked = jsm.streams.info(streamName);
  asked.catch(() => undefined);
  return Promise.race([asked, late]).finally(() => clearTimeout(timer));
}

/**
 * The stream's info, asked again every second until `timeoutMs`: a replicated stream being
 * created (by another instance starting at the same moment) answers nothing until it has a
 * leader, and an unanswered request would wait for its whole timeout.
 */
async function streamInfo(jsm: JetStreamManager, streamName: string, timeoutMs: number): Promise<StreamInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await infoWithin(jsm, streamName, 1_000);
    if (info) return info;
    if (Date.now() > deadline) return jsm.streams.info(streamName);
  }
}

async function waitForLeader(jsm: JetStreamManager, streamName: string, known: string | undefined, replicas: number): Promise<void> {
  const deadline = Date.now() + LEADER_WAIT_MS;
  let leader = known;
  while (!leader) {
    if (Date.now() > deadline) {
      throw new ClusterConfigError(
        `stream ${streamName} has no leader (or its new copies have not caught up) after ${LEADER_WAIT_MS} ms: are a majority of its replicas' NATS servers running and connected? Check \`nats stream info ${streamName}\`.`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    const cluster = (await infoWithin(jsm, streamName, 1_000).catch(() => undefined))?.cluster;
    const current = (cluster?.replicas ?? []).filter((r) => r.current).length;
    leader = cluster?.leader !== undefined && current >= replicas - 1 ? cluster.leader : undefined;
  }
}

/** Is this JetStream's refusal of a replica count (too many for the cluster, or no cluster)? */
export function isReplicaRefusal(e: unknown): boolean {
  return e instanceof JetStreamApiError && (e.code === NO_PEERS || e.code === NOT_CLUSTERED);
}

/**
 * Turn a JetStream answer about replicas into an error that says what to do; other errors are
 * wrapped with the command to run by hand. Exported for the code that creates streams.
 */
export function explainReplicaError(e: unknown, streamName: string, replicas: number, from?: number): ClusterConfigError {
  const err = ensureError(e);
  if (err instanceof JetStreamApiError && err.code === NO_PEERS) {
    return new ClusterConfigError(
      `NIX_REPLICAS=${replicas} is larger than the NATS cluster can hold for stream ${streamName}: nats-server answered ` +
        `"no suitable peers for placement" (err_code 10005), which means fewer than ${replicas} JetStream servers are ` +
        `connected in the cluster (or they lack storage). Set NIX_REPLICAS to at most the number of JetStream servers ` +
        `(1, 3 or 5; 3 for a three-node cluster), or add servers, then start again.`,
      { cause: err, setting: 'NIX_REPLICAS' },
    );
  }
  if (err instanceof JetStreamApiError && err.code === NOT_CLUSTERED) return notClustered(streamName, replicas, err);
  const what =
    from === undefined
      ? `create stream ${streamName} with ${replicas} replicas`
      : `change stream ${streamName} from ${from} to ${replicas} replicas`;
  return new ClusterConfigError(
    `could not ${what} (${err.message}). Change it by hand with \`nats stream edit ${streamName} --replicas ${replicas}\` ` +
      `(or set NIX_REPLICAS=${from ?? 1} to keep it as it is), then start again.`,
    { cause: err, setting: 'NIX_REPLICAS' },
  );
}

function notClustered(streamName: string, replicas: number, cause?: Error): ClusterConfigError {
  return new ClusterConfigError(
    `NIX_REPLICAS=${replicas} but the NATS server is not part of a cluster, so stream ${streamName} cannot be replicated ` +
      `(a single server answers "replicas > 1 not supported in non-clustered mode"). Set NIX_REPLICAS=1, or run ` +
      `nats-server as a cluster (see docs/cluster.md, "Running several instances").`,
    { ...(cause ? { cause } : {}), setting: 'NIX_REPLICAS' },
  );
}
