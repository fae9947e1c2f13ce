/**
 * The inspection wire schema: what the service publishes on `P.inspect.events` and answers
 * on the inspector's request subjects. Shared with the browser page (`inspector/`), so this
 * module imports nothing but zod. All times are milliseconds since the epoch.
 */
import { z } from 'zod';
import { AGGREGATE_KINDS } from '../../machines/kinds.js';

/** Bumped when a record or reply changes shape incompatibly. */
export const INSPECTION_WIRE_VERSION = 1;

/** The request/reply and stream tokens after `P.inspect.` (the service builds the subjects). */
export const INSPECT_TOKENS = {
  /** Stream of {@link InspectBatch}es. */
  events: 'events',
  /** Request {@link ActorsRequest} → {@link ActorsReply}. */
  actors: 'actors',
  /** Request {@link ActorRequest} → {@link ActorReply}. */
  actor: 'actor',
  /** Request {@link HistoryRequest} → {@link HistoryReply}. */
  history: 'history',
  /** Request {@link WatchRequest} → {@link WatchReply}: publish the full stream for a while. */
  watch: 'watch',
  /** Request (empty) → {@link ClusterReply}: the instances, partitions and leases. */
  cluster: 'cluster',
} as const;

/** Aggregate kinds and `system` for the service's own actors. */
export const ACTOR_TYPES = [...AGGREGATE_KINDS, 'system'] as const;
export { AGGREGATE_KINDS };
export type ActorType = (typeof ACTOR_TYPES)[number];

/** The system actors by their inspector id. */
export const SYSTEM_ACTORS = ['reconnection', 'publisher', 'supervisor'] as const;

/** Longest natural key sent (longer ones are cut and end in `…`). */
export const NAME_MAX = 256;

/**
 * Which actor a record is about: an aggregate (`type` = kind, `id` = aggregate ID) or a
 * system actor. `name` is the aggregate's natural key (a flake's path, a package's
 * `flake_ref#attribute`, a module's, overlay's or configuration's name); it is sent on
 * lifecycle records and on the first record after the service learned it, not on every
 * record (readers keep it per actor; the actor list carries it too).
 */
export const ActorRef = z.object({ type: z.enum(ACTOR_TYPES), id: z.string(), name: z.string().optional() });
export type ActorRef = z.infer<typeof ActorRef>;

/**
 * The identity of the command a record belongs to (SPEC §3). The service sends it on event
 * records and on replies; the state record that follows an actor's event record belongs to
 * the same command (readers carry it over).
 */
export const Cause = z.object({ message_id: z.string(), correlation_id: z.string(), causation_id: z.string() });
export type Cause = z.infer<typeof Cause>;

/** JSON after sanitising: bounded depth, lengths and key counts, secrets redacted. */
export const Json: z.ZodType<unknown> = z.unknown();

const base = { at: z.number(), actor: ActorRef };

/** An actor was created with no history (a new aggregate, or a system actor). */
export const SpawnedRecord = z.object({ k: z.literal('spawned'), ...base, state: z.string(), version: z.number().optional() });
/** An aggregate actor was rebuilt from snapshot + events. */
export const RehydratedRecord = z.object({
  k: z.literal('rehydrated'),
  ...base,
  state: z.string(),
  version: z.number(),
  replayed: z.number(),
  from_snapshot: z.boolean(),
});
/** An idle aggregate actor was stopped; it is rebuilt from the store on its next command. */
export const PassivatedRecord = z.object({ k: z.literal('passivated'), ...base, state: z.string(), version: z.number().optional() });
/** An actor stopped: `shutdown`, or `reloaded` (dropped to be rebuilt from the store, e.g. after a failure). */
export const StoppedRecord = z.object({ k: z.literal('stopped'), ...base, reason: z.string(), state: z.string().optional() });
/**
 * An event the actor received. `origin`: `command` (from NATS), `outcome` (an effect's result
 * sent back by the runtime), `system` (a system actor's event that changed its state).
 */
export const EventRecord = z.object({
  k: z.literal('event'),
  ...base,
  event: z.string(),
  origin: z.enum(['command', 'outcome', 'system']),
  /** The event's fields, sanitised (bounded, secrets redacted). */
  payload: Json.optional(),
  cause: Cause.optional(),
});
/** One transition taken: the event (the received one, or a fact the machine raised), source, target, named actions. */
export const TransitionTaken = z.object({ event: z.string(), from: z.string(), to: z.string(), actions: z.array(z.string()) });
export type TransitionTaken = z.infer<typeof TransitionTaken>;
/**
 * The actor's state after it handled an event, with every transition taken on the way (a
 * command may raise a fact, which takes a second transition) and every built-in action
 * executed (`emit fact.recorded module.created`, `raise package.build_started`, …).
 */
export const StateRecord = z.object({
  k: z.literal('state'),
  ...base,
  state: z.string(),
  version: z.number().optional(),
  /** XState's snapshot status: `active`, `done`, `error`. */
  status: z.string(),
  /** The event handled. */
  event: z.string(),
  transitions: z.array(TransitionTaken),
  actions: z.array(z.string()),
  /** Not sent: readers carry over the cause of the actor's preceding event record. */
  cause: Cause.optional(),
});
/** A domain event stored and published (its identity is the event's, causation = the command). */
export const StoredRecord = z.object({
  k: z.literal('stored'),
  ...base,
  event_type: z.string(),
  event_id: z.string(),
  correlation_id: z.string(),
  causation_id: z.string(),
  sequence: z.number(),
  subject: z.string(),
});
/** The reply a command got. */
export const ReplyRecord = z.object({
  k: z.literal('reply'),
  ...base,
  command: z.string(),
  cause: Cause,
  status: z.enum(['ok', 'error']),
  code: z.string().optional(),
  message: z.string().optional(),
  version: z.number().optional(),
});

export const InspectRecord = z.discriminatedUnion('k', [
  SpawnedRecord,
  RehydratedRecord,
  PassivatedRecord,
  StoppedRecord,
  EventRecord,
  StateRecord,
  StoredRecord,
  ReplyRecord,
]);
export type InspectRecord = z.infer<typeof InspectRecord>;
export type RecordKind = InspectRecord['k'];

/**
 * One message on `P.inspect.events`. `seq` counts batches of this instance (a gap means a
 * batch was missed); `dropped` counts records left out since the previous batch because the
 * stream's budget was spent (the page then reloads the actor list).
 */
export const InspectBatch = z.object({
  v: z.literal(INSPECTION_WIRE_VERSION),
  instance: z.string(),
  seq: z.number(),
  at: z.number(),
  dropped: z.number(),
  records: z.array(z.unknown()),
});
export type InspectBatch = Omit<z.infer<typeof InspectBatch>, 'records'> & { records: InspectRecord[] };

/** What the inspector knows of an actor. */
export const ActorSummary = z.object({
  type: z.enum(ACTOR_TYPES),
  id: z.string(),
  /** The natural key, once known (see {@link ActorRef}). */
  name: z.string().optional(),
  state: z.string(),
  version: z.number().optional(),
  status: z.enum(['live', 'asleep', 'passivated', 'stopped']),
  last_event: z.string().optional(),
  correlation_id: z.string().optional(),
  at: z.number(),
});
export type ActorSummary = z.infer<typeof ActorSummary>;

/** `P.inspect.actors`: a page of the tracked actors, newest first, optionally filtered. */
export const ActorsRequest = z.object({
  offset: z.number().int().min(0).default(0),
  limit: z.number().int().min(1).max(5_000).default(2_000),
  /** Matches a name (natural key), an ID or a correlation ID (substring, case-insensitive). */
  query: z.string().max(200).optional(),
  type: z.enum(ACTOR_TYPES).optional(),
  /** With several instances: only this instance answers (every instance answers otherwise, the first reply wins). */
  instance: z.string().max(100).optional(),
});
export type ActorsRequest = z.input<typeof ActorsRequest>;
export const ActorsReply = z.object({
  instance: z.string(),
  total: z.number(),
  offset: z.number(),
  actors: z.array(ActorSummary),
  /** Resident aggregate actors in the service (may exceed the tracked ones). */
  resident: z.number(),
  /** Most actors the service tracks for the inspector; older passivated ones are forgotten first. */
  tracked_cap: z.number(),
});
export type ActorsReply = z.infer<typeof ActorsReply>;

/** `P.inspect.actor`: the live detail of one actor. */
export const ActorRequest = z.object({
  type: z.enum(ACTOR_TYPES),
  id: z.string().min(1).max(200),
  /** With several instances: only this instance answers (the one running the actor has its context). */
  instance: z.string().max(100).optional(),
});
export type ActorRequest = z.infer<typeof ActorRequest>;
export const ActorReply = z.object({
  actor: ActorSummary.optional(),
  /** Present when the actor is resident: its sanitised context. */
  context: Json.optional(),
});
export type ActorReply = z.infer<typeof ActorReply>;

/** `P.inspect.history`: an aggregate's stored events replayed into its machine. */
export const HistoryRequest = z.object({
  type: z.enum(AGGREGATE_KINDS),
  id: z.string().min(1).max(200),
  /** Most steps returned (the latest ones). */
  limit: z.number().int().min(1).max(5_000).default(1_000),
});
export type HistoryRequest = z.input<typeof HistoryRequest>;
export const HistoryStep = z.object({
  sequence: z.number(),
  event_type: z.string(),
  fact: z.string(),
  occurred_at: z.string(),
  event_id: z.string(),
  correlation_id: z.string(),
  causation_id: z.string(),
  /** State after this event. */
  state: z.string(),
  payload: Json.optional(),
  /** Context after this event (left out of older steps when the reply would grow too large). */
  context: Json.optional(),
});
export type HistoryStep = z.infer<typeof HistoryStep>;
export const HistoryReply = z.union([
  z.object({
    status: z.literal('ok'),
    type: z.string(),
    id: z.string(),
    /** The natural key, from the context after the last event (absent when no event is stored). */
    name: z.string().optional(),
    /** Events stored for the aggregate. */
    total: z.number(),
    /** State before the first returned step. */
    initial_state: z.string(),
    steps: z.array(HistoryStep),
  }),
  z.object({ status: z.literal('error'), message: z.string() }),
]);
export type HistoryReply = z.infer<typeof HistoryReply>;

/**
 * `P.inspect.watch`: a lease on the full stream (every event, state, stored event and reply;
 * without one only lifecycle records and state changes are published). The page renews it
 * every 10 s; `nats req P.inspect.watch '{"seconds":300}'` takes one by hand.
 */
export const WatchRequest = z.object({ seconds: z.number().min(1).max(3_600).default(30) });
export type WatchRequest = z.input<typeof WatchRequest>;
export const WatchReply = z.object({ status: z.literal('ok'), instance: z.string(), until: z.number() });
export type WatchReply = z.infer<typeof WatchReply>;

/** One instance of the deployment, as the answering instance sees it. */
export const ClusterMember = z.object({
  id: z.string(),
  host: z.string(),
  version: z.string(),
  started_at: z.string(),
  /** Seen within its lease. */
  live: z.boolean(),
  /** Handing its partitions over (SIGTERM). */
  leaving: z.boolean(),
  /** Milliseconds since its last heartbeat was seen (0 for the answering instance). */
  last_seen_ms: z.number(),
});
export type ClusterMember = z.infer<typeof ClusterMember>;
/** One partition: its owner (null while nobody serves it) and the owner's epoch. */
export const ClusterLease = z.object({ partition: z.number(), owner: z.string().nullable(), epoch: z.number().nullable() });
export type ClusterLease = z.infer<typeof ClusterLease>;
/** `P.inspect.cluster`: the instances serving the deployment, and who owns each partition. */
export const ClusterReply = z.object({
  /** The instance that answered (its view of the cluster). */
  instance: z.string(),
  partitions: z.number(),
  members: z.array(ClusterMember),
  leases: z.array(ClusterLease),
});
export type ClusterReply = z.infer<typeof ClusterReply>;

/** A machine drawn as a statechart (served at `/api/machines.json`). */
export const StatechartTransition = z.object({
  event: z.string(),
  /** Target state key; equal to the source for a self-transition. */
  target: z.string(),
  guarded: z.boolean(),
  actions: z.array(z.string()),
  /** `command`, `fact`, `outcome` (an effect's result), `system`. */
  role: z.enum(['command', 'fact', 'outcome', 'system']),
  /** A command transition whose only action is to refuse it. */
  refuses: z.boolean(),
});
export type StatechartTransition = z.infer<typeof StatechartTransition>;
export const StatechartState = z.object({
  key: z.string(),
  final: z.boolean(),
  transitions: z.array(StatechartTransition),
});
export type StatechartState = z.infer<typeof StatechartState>;
export const Statechart = z.object({
  type: z.enum(ACTOR_TYPES),
  id: z.string(),
  initial: z.string(),
  states: z.array(StatechartState),
  /** Transitions the machine takes in every state (root level). */
  always: z.array(StatechartTransition),
});
export type Statechart = z.infer<typeof Statechart>;
export const MachinesDocument = z.object({ aggregates: z.array(Statechart), system: z.array(Statechart) });
export type MachinesDocument = z.infer<typeof MachinesDocument>;

/** The inspector's HTTP paths (the service serves them, the page calls them). */
export const INSPECTOR_PATHS = {
  /** {@link PageConfig} */
  config: '/api/config.json',
  /** {@link MachinesDocument} */
  machines: '/api/machines.json',
  /** Relay: server-sent events, one `data:` message per batch published on `P.inspect.events`. */
  stream: '/api/stream',
  /** Relay: POST a {@link RelayRequest}; the reply is the service's reply, or a {@link RelayError}. */
  request: '/api/request',
} as const;

/**
 * How the page reaches the inspection subjects: `relay` through the service's own HTTP
 * endpoint (server-sent events and a JSON POST over the service's NATS connection: the
 * browser needs no NATS account), or `websocket` straight to a NATS websocket listener.
 */
export const TRANSPORTS = ['relay', 'websocket'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** A request the page asks the relay to make on its behalf (only the inspector's read-only subjects are allowed). */
export const RelayRequest = z.object({
  subject: z.string().min(1).max(256),
  body: Json.optional(),
  /** How long to wait for the reply (default 5000). */
  timeout_ms: z.number().int().min(100).max(30_000).optional(),
});
export type RelayRequest = z.infer<typeof RelayRequest>;
/** What the relay answers when it cannot give the service's reply (with an HTTP status of 4xx/5xx). */
export const RelayError = z.object({ status: z.literal('error'), code: z.string(), message: z.string() });
export type RelayError = z.infer<typeof RelayError>;

/** `/api/config.json`: what the page needs to connect. */
export const PageConfig = z.object({
  version: z.string(),
  /** The service instance that serves this page. */
  instance: z.string(),
  prefix: z.string(),
  transport: z.enum(TRANSPORTS),
  /** Websocket URL of NATS in `websocket` mode; null in `relay` mode. */
  ws_url: z.string().nullable(),
  subjects: z.object({
    events: z.string(),
    actors: z.string(),
    actor: z.string(),
    history: z.string(),
    watch: z.string(),
    cluster: z.string(),
    commands: z.string(),
  }),
});
export type PageConfig = z.infer<typeof PageConfig>;

/** `a.b` for nested state values, the key for flat ones. */
export function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const inner = stateName(v);
      parts.push(inner ? `${k}.${inner}` : k);
    }
    return parts.join(',');
  }
  return '';
}
