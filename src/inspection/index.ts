/**
 * Inspection, composed: the hub (XState `inspect` events → bounded batches on
 * `P.inspect.events`), the request/reply subjects the page uses (`P.inspect.actors`,
 * `P.inspect.actor`, `P.inspect.history`, `P.inspect.watch`) and the web server that serves
 * the page and, in relay mode, relays those subjects to it over the service's own NATS
 * connection. On by default; `inspector.enabled=false` (or port 0) turns all of it off.
 */
import type { AggregateKind } from '../../machines/index.js';
import { isLoopbackHost, type Config } from '../config.js';
import type { Subjects } from '../domain/subjects.js';
import { ensureError } from '../errors.js';
import type { Logger } from '../logging.js';
import { loadHistory, type ReadHistory } from './history.js';
import { InspectionHub } from './hub.js';
import { DETAIL_LIMITS, sanitize } from './sanitize.js';
import { InspectionRelay, type RelayNats } from './relay.js';
import { findPageDir, startInspectorServer, type InspectorServer } from './server.js';
import { machinesDocument } from './statecharts.js';
import {
  ActorRequest,
  ActorsRequest,
  HistoryRequest,
  INSPECT_TOKENS,
  WatchRequest,
  type ActorReply,
  type PageConfig,
  type Transport,
  type WatchReply,
  type ClusterReply,
} from './wire.js';

export { InspectionHub } from './hub.js';
export type { AggregateLifecycle } from './hub.js';

/** The part of a NATS connection inspection uses (a `NatsConnection` fits). */
export interface InspectNats extends RelayNats {
  publish(subject: string, data?: string | Uint8Array): void;
  subscribe(subject: string, opts: { callback: (err: Error | null, msg: InspectMsg) => void }): { unsubscribe(): void };
  readonly info?: { max_payload: number } | undefined;
}

export interface InspectMsg {
  readonly data: Uint8Array;
  respond(data?: string | Uint8Array): boolean;
}

export interface InspectionDeps {
  config: Config;
  logger: Logger;
  nc: InspectNats;
  subjects: Subjects;
  instance: string;
  version: string;
  /** The embedded server's websocket URL, when the service started one. */
  embeddedWsUrl?: string | undefined;
}

/** What the running service lends the inspector's request handlers. */
export interface InspectionSources {
  read: ReadHistory;
  /** Resident aggregate actors. */
  resident(): number;
  /** A resident aggregate's current context, if it is resident. */
  context(kind: AggregateKind, id: string): unknown;
  /** The instances and partition owners as this instance sees them. */
  cluster(): Omit<ClusterReply, 'instance'>;
}

/** A handler's answer that sends nothing: the request names another instance. */
const NOT_MINE = Symbol('not mine');

const decoder = new TextDecoder();

export class Inspection {
  readonly hub: InspectionHub;
  private server: InspectorServer | undefined;
  private readonly subs: { unsubscribe(): void }[] = [];
  private resident: () => number = () => 0;
  private relay: InspectionRelay | undefined;
  /** The NATS websocket URL the page connects to in `websocket` mode; null in `relay` mode. */
  readonly wsUrl: string | null;
  readonly transport: Transport;

  private constructor(private readonly deps: InspectionDeps) {
    const { nc, subjects } = deps;
    const events = subjects.inspect(INSPECT_TOKENS.events);
    let failing = false;
    this.hub = new InspectionHub({
      instance: deps.instance,
      logger: deps.logger,
      resident: () => this.resident(),
      publish: (data) => {
        try {
          nc.publish(events, data);
          failing = false;
        } catch (e) {
          if (!failing)
            deps.logger.warn(
              { err: ensureError(e) },
              'inspection batches cannot be published (NATS away); they are dropped until it returns',
            );
          failing = true;
        }
      },
    });
    // Websocket mode where a websocket is configured, or the embedded server's while the page
    // stays on loopback (that listener is loopback-only); relay mode everywhere else.
    const { config } = deps;
    this.wsUrl = config.nats.wsUrl ?? (isLoopbackHost(config.inspector.host) ? deps.embeddedWsUrl : undefined) ?? null;
    this.transport = this.wsUrl ? 'websocket' : 'relay';
  }

  /** The inspection of this service, or undefined when it is turned off. */
  static create(deps: InspectionDeps): Inspection | undefined {
    return deps.config.inspector.enabled ? new Inspection(deps) : undefined;
  }

  /** Answer the page's requests and serve the page; logs its URL. A taken port is logged, not fatal. */
  async start(sources: InspectionSources): Promise<void> {
    const { nc, subjects, logger, config } = this.deps;
    this.resident = () => sources.resident();
    const maxBytes = Math.floor((nc.info?.max_payload ?? 1_048_576) * 0.9);
    const serve = (token: string, handler: (body: unknown) => unknown): void => {
      // A request addressed to another instance (`instance` in its body) is left to that instance.
      this.subs.push(
        nc.subscribe(subjects.inspect(token), {
          callback: (err, msg) => {
            if (err) return;
            void (async () => {
              let body: unknown = {};
              try {
                const text = decoder.decode(msg.data);
                body = text.trim() ? JSON.parse(text) : {};
              } catch {
                msg.respond(JSON.stringify({ status: 'error', message: 'the request is not JSON' }));
                return;
              }
              try {
                const reply = await handler(body);
                if (reply !== NOT_MINE) msg.respond(JSON.stringify(reply));
              } catch (e) {
                msg.respond(JSON.stringify({ status: 'error', message: ensureError(e).message }));
              }
            })();
          },
        }),
      );
    };
    const invalid = (issues: { path: PropertyKey[]; message: string }[]): { status: 'error'; message: string } => ({
      status: 'error',
      message: issues.map((i) => `${i.path.map(String).join('.') || 'request'}: ${i.message}`).join('; '),
    });
    const elsewhere = (instance: string | undefined): boolean => instance !== undefined && instance !== this.deps.instance;
    serve(INSPECT_TOKENS.actors, (body) => {
      const r = ActorsRequest.safeParse(body);
      if (!r.success) return invalid(r.error.issues);
      return elsewhere(r.data.instance) ? NOT_MINE : this.hub.list(r.data);
    });
    serve(INSPECT_TOKENS.actor, (body) => {
      const r = ActorRequest.safeParse(body);
      if (!r.success) return invalid(r.error.issues);
      if (elsewhere(r.data.instance)) return NOT_MINE;
      const reply: ActorReply = {};
      const actor = this.hub.get(r.data.type, r.data.id);
      if (actor) reply.actor = actor;
      if (r.data.type !== 'system') {
        const ctx = sources.context(r.data.type, r.data.id);
        if (ctx !== undefined) reply.context = sanitize(ctx, DETAIL_LIMITS);
      }
      return reply;
    });
    serve(INSPECT_TOKENS.watch, (body) => {
      const r = WatchRequest.safeParse(body);
      if (!r.success) return invalid(r.error.issues);
      const reply: WatchReply = { status: 'ok', instance: this.deps.instance, until: this.hub.watch(r.data.seconds * 1_000) };
      return reply;
    });
    serve(INSPECT_TOKENS.cluster, () => {
      const reply: ClusterReply = { instance: this.deps.instance, ...sources.cluster() };
      return reply;
    });
    serve(INSPECT_TOKENS.history, async (body) => {
      const r = HistoryRequest.safeParse(body);
      if (!r.success) return invalid(r.error.issues);
      return loadHistory(sources.read, r.data.type, r.data.id, r.data.limit, maxBytes);
    });

    const pageDir = findPageDir();
    if (!pageDir) logger.warn('the inspector page is not built (inspector/dist is missing): run `npm run inspector`');
    const pageConfig: PageConfig = {
      version: this.deps.version,
      instance: this.deps.instance,
      prefix: subjects.prefix,
      transport: this.transport,
      ws_url: this.wsUrl,
      subjects: {
        events: subjects.inspect(INSPECT_TOKENS.events),
        actors: subjects.inspect(INSPECT_TOKENS.actors),
        actor: subjects.inspect(INSPECT_TOKENS.actor),
        history: subjects.inspect(INSPECT_TOKENS.history),
        watch: subjects.inspect(INSPECT_TOKENS.watch),
        cluster: subjects.inspect(INSPECT_TOKENS.cluster),
        commands: subjects.commands,
      },
    };
    const { host, token } = config.inspector;
    if (this.transport === 'relay') {
      // Read-only by construction: the inspector's own request subjects, nothing else.
      const s = pageConfig.subjects;
      this.relay = new InspectionRelay({ nc, logger, stream: s.events, allowed: [s.actors, s.actor, s.history, s.watch, s.cluster] });
    }
    try {
      this.server = await startInspectorServer({
        port: config.inspector.port,
        host,
        pageDir,
        config: () => pageConfig,
        machines: () => machinesDocument(),
        wsUrl: this.wsUrl,
        token,
        relay: this.relay,
        logger,
      });
      const url = this.server.url;
      const how =
        this.transport === 'relay'
          ? `the page reads ${subjects.inspect('>')} through this endpoint over the service's NATS connection (read-only)`
          : `the page connects to NATS at ${this.wsUrl ?? ''}`;
      const access = token
        ? `every data request needs Authorization: Bearer <INSPECTOR_TOKEN>; open ${url}#token=<INSPECTOR_TOKEN> or enter the token in the page`
        : 'loopback only, no token';
      // The token itself is never logged.
      logger.info(
        {
          inspector_url: url,
          transport: this.transport,
          ws_url: this.wsUrl,
          host,
          token_required: token !== undefined,
          stream: pageConfig.subjects.events,
        },
        `inspector: open ${url} (${how}; ${access})`,
      );
      if (!token && config.natsUrlExplicit && (config.nats.user || config.nats.token || config.nats.nkeySeed || config.nats.creds)) {
        logger.warn(
          'the inspector answers anyone on this machine without a token while NATS itself needs credentials: set INSPECTOR_TOKEN on a shared host',
        );
      }
    } catch (e) {
      logger.error(
        { err: ensureError(e), port: config.inspector.port, host },
        `the inspector page could not listen on ${host}:${config.inspector.port}; set INSPECTOR_PORT to a free port or INSPECTOR_HOST to an address of this machine (the inspection stream stays on)`,
      );
    }
  }

  /** The page's URL, once serving. */
  get url(): string | undefined {
    return this.server?.url;
  }

  async stop(): Promise<void> {
    this.relay?.stop();
    for (const s of this.subs.splice(0)) s.unsubscribe();
    this.hub.stop();
    await this.server?.stop();
    this.server = undefined;
  }
}
