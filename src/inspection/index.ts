/**
 * Inspection, composed: the hub (XState `inspect` events → bounded batches on
 * `P.inspect.events`), the request/reply subjects the page uses (`P.inspect.actors`,
 * `P.inspect.actor`, `P.inspect.history`) and the loopback web server that serves the page.
 * On by default; `inspector.enabled=false` (or port 0) turns all of it off.
 */
import type { AggregateKind } from '../../machines/index.js';
import type { Config } from '../config.js';
import type { Subjects } from '../domain/subjects.js';
import { ensureError } from '../errors.js';
import type { Logger } from '../logging.js';
import { loadHistory, type ReadHistory } from './history.js';
import { InspectionHub } from './hub.js';
import { DETAIL_LIMITS, sanitize } from './sanitize.js';
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
  type WatchReply,
} from './wire.js';

export { InspectionHub } from './hub.js';
export type { AggregateLifecycle } from './hub.js';

/** The part of a NATS connection inspection uses (a `NatsConnection` fits). */
export interface InspectNats {
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
}

const decoder = new TextDecoder();

export class Inspection {
  readonly hub: InspectionHub;
  private server: InspectorServer | undefined;
  private readonly subs: { unsubscribe(): void }[] = [];
  private resident: () => number = () => 0;
  readonly wsUrl: string | null;

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
    this.wsUrl = deps.embeddedWsUrl ?? deps.config.nats.wsUrl ?? null;
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
                msg.respond(JSON.stringify(await handler(body)));
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
    serve(INSPECT_TOKENS.actors, (body) => {
      const r = ActorsRequest.safeParse(body);
      return r.success ? this.hub.list(r.data) : invalid(r.error.issues);
    });
    serve(INSPECT_TOKENS.actor, (body) => {
      const r = ActorRequest.safeParse(body);
      if (!r.success) return invalid(r.error.issues);
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
      ws_url: this.wsUrl,
      subjects: {
        events: subjects.inspect(INSPECT_TOKENS.events),
        actors: subjects.inspect(INSPECT_TOKENS.actors),
        actor: subjects.inspect(INSPECT_TOKENS.actor),
        history: subjects.inspect(INSPECT_TOKENS.history),
        watch: subjects.inspect(INSPECT_TOKENS.watch),
        commands: subjects.commands,
      },
    };
    try {
      this.server = await startInspectorServer({
        port: config.inspector.port,
        pageDir,
        config: () => pageConfig,
        machines: () => machinesDocument(),
        wsUrl: this.wsUrl,
      });
      logger.info(
        { inspector_url: this.server.url, ws_url: this.wsUrl, stream: pageConfig.subjects.events },
        `inspector: open ${this.server.url} (live on ${subjects.inspect('>')})`,
      );
      if (!this.wsUrl) {
        logger.warn(
          'the inspector page has no NATS websocket URL: set NATS_WS_URL (nats.wsUrl) to a websocket listener of your server, e.g. nats-server with `websocket { listen: "127.0.0.1:8080", no_tls: true }` and NATS_WS_URL=ws://127.0.0.1:8080',
        );
      }
    } catch (e) {
      logger.error(
        { err: ensureError(e), port: config.inspector.port },
        `the inspector page could not listen on 127.0.0.1:${config.inspector.port}; set INSPECTOR_PORT to a free port (the inspection stream stays on)`,
      );
    }
  }

  /** The page's URL, once serving. */
  get url(): string | undefined {
    return this.server?.url;
  }

  async stop(): Promise<void> {
    for (const s of this.subs.splice(0)) s.unsubscribe();
    this.hub.stop();
    await this.server?.stop();
    this.server = undefined;
  }
}
