/**
 * What the main thread asks of the load generator (a worker thread with its own NATS
 * connection and event loop) and what it gets back. Everything here is structured-cloneable.
 */
import type { LatencySummary } from './stats.js';
import type { ThreadReport } from './threadWatch.js';

/** What each request is. */
export type TargetSpec =
  /** Core request/reply to a plain responder: the limit. */
  | { kind: 'echo'; subject: string; payload: string }
  /** JetStream publish, waiting for the ack: the storage limit. Subjects `<prefix>.<i % subjects>`. */
  | { kind: 'jetstream'; subjectPrefix: string; subjects: number; payload: string; headers: Record<string, string> }
  /**
   * Commands to aggregates `<names>-<from + j % count>`; `create` sends `module.create`,
   * `update` sends `module.update` with a new body each time. Replies are read for status/code.
   */
  | { kind: 'command'; action: 'create' | 'update'; subject: string; names: string; from: number; count: number }
  /** Queries to the same aggregates (body `{ name }`). */
  | { kind: 'query'; subject: string; names: string; from: number; count: number }
  /**
   * Two targets in one paced stream: request j goes to `background` when j % backgroundEvery
   * is 0, else to `measured`; `latency` is the measured part's, `backgroundLatency` the other's
   * (queries timed while commands load the service, with one clock).
   */
  | { kind: 'mix'; measured: TargetSpec; background: TargetSpec; backgroundEvery: number };

/** How requests are driven. */
export type DriveSpec =
  /**
   * Open loop: request j is due at t0 + j / rate, whatever happened before; latency is taken
   * from that intended time, so a stall shows in every request it delays.
   */
  | { kind: 'open'; rate: number; durationMs: number }
  /**
   * Closed loop with a bounded window: `window` requests outstanding, a new one sent as each
   * finishes, for `durationMs` (after `warmupMs`, not counted) or until `total` were sent.
   */
  | { kind: 'window'; window: number; durationMs?: number; warmupMs?: number; total?: number };

export interface LoadPlan {
  label: string;
  target: TargetSpec;
  drive: DriveSpec;
  /** Per-request timeout; a timed-out request counts with its elapsed time. */
  timeoutMs: number;
  /** Open loop: stop (and say so) when this many requests are outstanding. */
  maxOutstanding?: number;
}

export interface LoadResult {
  label: string;
  target: TargetSpec['kind'];
  drive: DriveSpec;
  /** Requests sent and finished (replied, failed or timed out). */
  sent: number;
  finished: number;
  /** Replies with `status: ok` (every reply for echo; every ack for JetStream). */
  ok: number;
  /** Failures by code: reply codes (`unavailable`, …) or client-side (`timeout`, `no_responders`, …). */
  errors: Record<string, number>;
  /** One message per error code, to say what went wrong. */
  errorMessages: Record<string, string>;
  /** Open loop: from intended send time to reply. Window: from actual send to reply. */
  latency: LatencySummary;
  /** Open loop only: how late each request left against its intended time (scheduler precision). */
  sendLag?: LatencySummary;
  /** A `mix` target: the latency of its background requests (`latency` is the measured ones'). */
  backgroundLatency?: LatencySummary;
  /** Finished requests per second over the measured interval. */
  throughput: number;
  /** The measured interval (ms). */
  measuredMs: number;
  /** The open loop stopped early because `maxOutstanding` requests were waiting. */
  overloaded: boolean;
  /** The run hit its safety deadline with requests still outstanding. */
  incomplete: boolean;
  /** Bytes of one request payload (first request). */
  payloadBytes: number;
  /** What stopped the main thread (the service) during the run, when the caller watched it. */
  stalls?: ThreadReport;
  /** What stopped the load generator's own thread during the run (its GC pauses delay the replies it times). */
  client?: ThreadReport;
  /** CPU per request on the main thread and in nats-server, when the caller measured it. */
  cpu?: { mainUs: number | undefined; serverUs: number | undefined };
}

/** Main → worker. */
export type WorkerRequest = { id: number; type: 'run'; plan: LoadPlan } | { id: number; type: 'close' };

/** Worker → main. */
export type WorkerReply =
  { id: number; ok: true; result?: LoadResult } | { id: number; ok: false; error: string } | { id: -1; ok: true; ready: true };

/** Main → clock thread: tick from `t0` every `intervalMs`, `count` times (times in bench ms). */
export interface ClockPlan {
  t0: number;
  intervalMs: number;
  count: number;
}

/** Clock thread → worker: requests due so far (`due`), or -1 when the plan is done. */
export type ClockTick = number;

/** Data every bench thread gets. */
export interface ThreadInit {
  /** `process.hrtime.bigint()` of the main thread at start: the shared time origin. */
  base: bigint;
}
