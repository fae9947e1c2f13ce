/**
 * The NATS service protocol (ADR-32, `io.nats.micro.v1`), answered by our own code: one
 * queue subscription per endpoint, and `$SRV.PING|INFO|STATS` in their three forms (all
 * services, by name, by name and id).
 *
 * Why not `@nats-io/services`: its last release (3.0.0-25, a pre-release on an old
 * pre-release core) leaves `last_error` out of STATS, counts an error only when a handler
 * throws, and measures the synchronous part of a handler only. Here an endpoint's request
 * counts from its arrival to its reply (commands answer when their effect is done), and an
 * error is what the protocol calls one: a reply carrying the `Nats-Service-Error` headers.
 */
import type { Msg, MsgHdrs, NatsConnection, Payload, PublishOptions, Subscription } from '@nats-io/transport-node';
import { ensureError } from '../errors.js';
import { WireHeaders } from '../messaging/wireHeaders.js';

/** The header that carries the text of a service error (ADR-32). */
export const SERVICE_ERROR_HEADER = 'Nats-Service-Error';
/** The header that carries the numeric code of a service error (ADR-32). */
export const SERVICE_ERROR_CODE_HEADER = 'Nats-Service-Error-Code';

/** The `$SRV` verbs; a const object, as nats.js's `ServiceVerb`. */
export const MicroVerb = { PING: 'PING', INFO: 'INFO', STATS: 'STATS' } as const;
export type MicroVerb = (typeof MicroVerb)[keyof typeof MicroVerb];

/** The `type` of each response. */
export const MicroResponseType = {
  PING: 'io.nats.micro.v1.ping_response',
  INFO: 'io.nats.micro.v1.info_response',
  STATS: 'io.nats.micro.v1.stats_response',
} as const;

const API_PREFIX = '$SRV';
const NAME_RE = /^[A-Za-z0-9_-]+$/;
// semver.org's suggested expression.
const SEMVER_RE =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** `$SRV.<verb>`, `$SRV.<verb>.<name>` or `$SRV.<verb>.<name>.<id>`. */
export function controlSubject(verb: MicroVerb, name?: string, id?: string): string {
  if (name === undefined) return `${API_PREFIX}.${verb}`;
  return id === undefined ? `${API_PREFIX}.${verb}.${name}` : `${API_PREFIX}.${verb}.${name}.${id}`;
}

export interface MicroServiceConfig {
  /** The kind of service: letters, digits, `_` and `-`. */
  name: string;
  /** A semantic version. */
  version: string;
  /** This instance's id (a subject token). */
  id: string;
  description: string;
  metadata: Record<string, string>;
  /** The default queue group of the endpoints. */
  queue: string;
}

export interface MicroEndpointConfig {
  name: string;
  subject: string;
  metadata: Record<string, string>;
  /** Called once per request; the message's `respond` records the outcome in the stats. */
  handler: (msg: Msg) => void;
}

interface EndpointInfo {
  name: string;
  subject: string;
  queue_group: string;
  metadata: Record<string, string>;
}

interface EndpointStats {
  name: string;
  subject: string;
  queue_group: string;
  num_requests: number;
  num_errors: number;
  last_error: string;
  processing_time: number;
  average_processing_time: number;
}

const MAX_LAST_ERROR = 512;

/** One endpoint: its subscription and its counters. */
class Endpoint {
  numRequests = 0;
  numErrors = 0;
  lastError = '';
  /** Whole nanoseconds from arrival to reply, summed. */
  processingNs = 0;
  sub: Subscription | undefined;

  constructor(
    readonly config: MicroEndpointConfig,
    readonly queue: string,
  ) {}

  info(): EndpointInfo {
    return { name: this.config.name, subject: this.config.subject, queue_group: this.queue, metadata: this.config.metadata };
  }

  stats(): EndpointStats {
    return {
      name: this.config.name,
      subject: this.config.subject,
      queue_group: this.queue,
      num_requests: this.numRequests,
      num_errors: this.numErrors,
      last_error: this.lastError,
      processing_time: this.processingNs,
      average_processing_time: this.numRequests > 0 ? Math.trunc(this.processingNs / this.numRequests) : 0,
    };
  }

  /** A reply (or the decision not to send one) for a request that arrived at `start` (ms). */
  settle(start: number, headers: MsgHdrs | undefined): void {
    this.processingNs += Math.round((performance.now() - start) * 1e6);
    const code = headers?.get(SERVICE_ERROR_CODE_HEADER);
    if (code) {
      this.numErrors++;
      const text = `${code} ${headers?.get(SERVICE_ERROR_HEADER) ?? ''}`.trim();
      this.lastError = text.length > MAX_LAST_ERROR ? `${text.slice(0, MAX_LAST_ERROR - 1)}…` : text;
    }
  }

  /** A handler that threw: an error of the endpoint (its time counted unless it had replied). */
  failed(start: number | undefined, message: string): void {
    if (start !== undefined) this.processingNs += Math.round((performance.now() - start) * 1e6);
    this.numErrors++;
    const text = `500 ${serviceErrorText(message)}`;
    this.lastError = text.length > MAX_LAST_ERROR ? `${text.slice(0, MAX_LAST_ERROR - 1)}…` : text;
  }
}

/**
 * A request as the endpoint's handler sees it: the message, whose first `respond` also
 * settles the request in its endpoint's stats (an error when the reply carries
 * `Nats-Service-Error-Code`). Handlers call `respond` for an error even without a reply
 * subject (nothing is sent then), so such errors are counted too.
 */
class TrackedMsg implements Msg {
  readonly subject: string;
  readonly sid: number;
  readonly data: Uint8Array;
  readonly reply?: string;
  readonly headers?: MsgHdrs;
  private settled = false;

  constructor(
    private readonly msg: Msg,
    private readonly endpoint: Endpoint,
    private readonly start: number,
  ) {
    this.subject = msg.subject;
    this.sid = msg.sid;
    this.data = msg.data;
    if (msg.reply !== undefined) this.reply = msg.reply;
    const headers = msg.headers;
    if (headers !== undefined) this.headers = headers;
  }

  /**
   * The handler threw: answer a service error 500 unless it had replied already; either way
   * the endpoint counts an error.
   */
  fail(message: string): void {
    if (this.settled) {
      this.endpoint.failed(undefined, message);
      return;
    }
    this.settled = true;
    this.endpoint.failed(this.start, message);
    this.msg.respond(undefined, { headers: serviceErrorHeaders(500, message) });
  }

  respond(payload?: Payload, opts?: PublishOptions): boolean {
    if (!this.settled) {
      this.settled = true;
      this.endpoint.settle(this.start, opts?.headers);
    }
    return this.msg.respond(payload, opts);
  }

  json<T>(reviver?: Parameters<Msg['json']>[0]): T {
    return this.msg.json<T>(reviver);
  }

  string(): string {
    return this.msg.string();
  }
}

/** A service of the NATS service protocol on one connection. */
export class MicroService {
  private readonly endpoints: Endpoint[] = [];
  private readonly control: Subscription[] = [];
  private readonly started = new Date().toISOString();
  private stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly config: MicroServiceConfig,
  ) {
    if (!NAME_RE.test(config.name)) throw new Error(`service name '${config.name}': use letters, digits, _ and - only`);
    if (!NAME_RE.test(config.id)) throw new Error(`service id '${config.id}': use letters, digits, _ and - only`);
    if (!SEMVER_RE.test(config.version)) throw new Error(`service version '${config.version}' is not a semantic version`);
  }

  get id(): string {
    return this.config.id;
  }

  /** Subscribe one endpoint (in the service's queue group). */
  addEndpoint(config: MicroEndpointConfig): void {
    if (!NAME_RE.test(config.name)) throw new Error(`endpoint name '${config.name}': use letters, digits, _ and - only`);
    const endpoint = new Endpoint(config, this.config.queue);
    endpoint.sub = this.nc.subscribe(config.subject, {
      queue: this.config.queue,
      callback: (err, msg) => {
        if (err) return; // a permission error: the connection supervisor logs it
        endpoint.numRequests++;
        const tracked = new TrackedMsg(msg, endpoint, performance.now());
        try {
          config.handler(tracked);
        } catch (e) {
          // A handler that throws is a service error (as nats.js's services answer it).
          tracked.fail(ensureError(e).message);
        }
      },
    });
    this.endpoints.push(endpoint);
  }

  /** Answer `$SRV.PING|INFO|STATS` (all three forms each); no queue group, every instance answers. */
  start(): void {
    const answers: Record<MicroVerb, () => unknown> = {
      PING: () => this.ping(),
      INFO: () => this.info(),
      STATS: () => this.stats(),
    };
    for (const verb of Object.values(MicroVerb)) {
      for (const subject of [
        controlSubject(verb),
        controlSubject(verb, this.config.name),
        controlSubject(verb, this.config.name, this.config.id),
      ]) {
        this.control.push(
          this.nc.subscribe(subject, {
            callback: (err, msg) => {
              if (err) return;
              msg.respond(JSON.stringify(answers[verb]()));
            },
          }),
        );
      }
    }
  }

  ping(): { type: string; name: string; id: string; version: string; metadata: Record<string, string> } {
    return {
      type: MicroResponseType.PING,
      name: this.config.name,
      id: this.config.id,
      version: this.config.version,
      metadata: this.config.metadata,
    };
  }

  info(): ReturnType<MicroService['ping']> & { description: string; endpoints: EndpointInfo[] } {
    return {
      ...this.ping(),
      type: MicroResponseType.INFO,
      description: this.config.description,
      endpoints: this.endpoints.map((e) => e.info()),
    };
  }

  stats(): ReturnType<MicroService['ping']> & { started: string; endpoints: EndpointStats[] } {
    return { ...this.ping(), type: MicroResponseType.STATS, started: this.started, endpoints: this.endpoints.map((e) => e.stats()) };
  }

  /** Drain every subscription (endpoints and `$SRV`), together. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const subs = [...this.endpoints.flatMap((e) => (e.sub ? [e.sub] : [])), ...this.control];
    await Promise.all(subs.map((sub) => sub.drain().catch(() => undefined)));
  }
}

/**
 * The headers of a service error: `Nats-Service-Error-Code` (a number) and
 * `Nats-Service-Error` (the text, on one line: line breaks and control characters become
 * spaces, and it is cut at 1,024 characters; the full message stays in the body).
 */
export function serviceErrorHeaders(code: number, message: string, into?: MsgHdrs): MsgHdrs {
  const h = into ?? new WireHeaders();
  h.set(SERVICE_ERROR_CODE_HEADER, String(code));
  h.set(SERVICE_ERROR_HEADER, serviceErrorText(message));
  return h;
}

/** A message as one header value. */
export function serviceErrorText(message: string): string {
  // eslint-disable-next-line no-control-regex
  const line = message.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return line.length > 1024 ? `${line.slice(0, 1023)}…` : line || 'error';
}
