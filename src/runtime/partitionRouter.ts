/**
 * Where a command goes when several instances serve one deployment (SPEC §9): to this
 * instance's supervisor when it owns the aggregate's partition; else, unchanged (payload,
 * headers, the client's reply subject), to the owner on `P.route.<owner>.<hops>.<agg>.<action>`
 * — the original subject and a hop count carried as subject tokens — so the owner answers the
 * client directly. While nobody serves the partition (a handoff, a takeover) the command waits,
 * bounded, for the next owner. A command forwarded to an instance that lost the partition
 * meanwhile is forwarded again, at most {@link MAX_HOPS} times. With a single instance every
 * partition is its own: one partition computation and one lease check, then the supervisor.
 */
import type { Logger } from 'pino';
import type { AggregateKind } from '../../machines/index.js';
import type { Cluster } from '../cluster/index.js';
import type { Subjects } from '../domain/subjects.js';
import { UnavailableError, ensureError, toErrorReply } from '../errors.js';
import type { CommandWork } from './slotHost.js';

/** A command is refused (`unavailable`) rather than forwarded beyond this many hops. */
export const MAX_HOPS = 3;

/**
 * A command message as the router sees it: its subject and, when another instance forwarded it
 * here, how often it was forwarded and the message as it arrived (what is passed on again). The
 * bus (src/messaging/routeBus.ts on NATS) knows the real message type.
 */
export interface Routable {
  readonly subject: string;
  readonly hops?: number;
  readonly received?: Routable;
}

/** The message a command came in, for the router to pass it on. */
export interface Inbound {
  msg: Routable;
  /**
   * Called right before the message goes to another instance, which answers it from then on:
   * the intake forgets it (no timeout answer). False when the intake has answered already.
   */
  handOn(): boolean;
}

/** What the command intake routes through: the supervisor itself, or a {@link PartitionRouter}. */
export interface CommandRoute {
  route(kind: AggregateKind, id: string, work: CommandWork, inbound?: Inbound): void;
}

/** The messages between instances, of type `M` (a NATS message on the real bus). */
export interface RouteBus<M extends Routable = Routable> {
  /** Publish `msg` unchanged (its payload, headers and reply subject) on `subject`. */
  forward(subject: string, msg: Routable): void;
  /**
   * Receive the commands forwarded on `subject` (a wildcard), each presented as arriving on its
   * original command subject with its hop count ({@link Subjects.parseRouted}); returns the stop.
   */
  listen(subject: string, handler: (msg: M) => void): () => Promise<void>;
}

export interface PartitionRouterDeps<M extends Routable = Routable> {
  cluster: Pick<Cluster, 'instanceId' | 'partitionOf' | 'ownerOf' | 'waitForOwner'>;
  /** This instance's supervisor. */
  local: CommandRoute;
  bus: RouteBus<M>;
  subjects: Subjects;
  logger: Logger;
  /** Longest a command waits for its partition to get an owner before `unavailable`. */
  waitMs: number;
}

/** Routing counters, for health. */
export interface RouterStats {
  /** Commands served here (this instance owned their partition). */
  local: number;
  /** Commands sent to their owner. */
  forwarded: number;
  /** Commands other instances forwarded here. */
  received: number;
  /** Commands that waited for their partition to get an owner. */
  waited: number;
  /** … of which got none in time (`unavailable`). */
  no_owner: number;
  /** Commands refused because they had been forwarded too often. */
  too_many_hops: number;
  /** Commands handed back to the queue group because this instance was leaving. */
  requeued: number;
}

export class PartitionRouter<M extends Routable = Routable> implements CommandRoute {
  private readonly self: string;
  private leaving = false;
  private stopListening: (() => Promise<void>) | undefined;
  readonly counts: RouterStats = { local: 0, forwarded: 0, received: 0, waited: 0, no_owner: 0, too_many_hops: 0, requeued: 0 };
  /** Forwarded commands waiting for an owner now. */
  private waitingNow = 0;

  constructor(private readonly deps: PartitionRouterDeps<M>) {
    this.self = deps.cluster.instanceId;
  }

  /** Receive the commands other instances forward here; each goes through `intake` (the accept pipeline) again. */
  listen(intake: (msg: M) => void): void {
    this.stopListening = this.deps.bus.listen(this.deps.subjects.routeAll(this.self), (msg) => {
      this.counts.received++;
      intake(msg);
    });
  }

  /**
   * Leaving (SIGTERM): this instance's queue subscription is gone, so a command that would
   * have to wait here is handed back to the queue group (another instance takes it).
   */
  leave(): void {
    this.leaving = true;
  }

  async stop(): Promise<void> {
    await this.stopListening?.();
  }

  stats(): RouterStats & { waiting: number } {
    return { ...this.counts, waiting: this.waitingNow };
  }

  route(kind: AggregateKind, id: string, work: CommandWork, inbound?: Inbound): void {
    const { cluster } = this.deps;
    const p = cluster.partitionOf(id);
    const owner = cluster.ownerOf(p);
    if (owner === this.self) {
      this.counts.local++;
      return this.deps.local.route(kind, id, work);
    }
    if (owner !== undefined && inbound) return this.forward(owner, inbound, work);
    if (inbound && this.leaving) return this.requeue(inbound);
    this.wait(p, kind, id, work, inbound);
  }

  private forward(owner: string, inbound: Inbound, work: CommandWork): void {
    const { msg } = inbound;
    const hops = (msg.hops ?? 0) + 1;
    if (hops > MAX_HOPS) {
      this.counts.too_many_hops++;
      work.respond(
        toErrorReply(new UnavailableError(`the command was forwarded ${MAX_HOPS} times while its partition kept moving between instances; send it again`)),
      );
      return;
    }
    const parsed = this.deps.subjects.parse(msg.subject);
    if (!parsed?.aggregate || !parsed.action || !inbound.handOn()) return;
    this.counts.forwarded++;
    try {
      this.deps.bus.forward(this.deps.subjects.routed(owner, hops, parsed.aggregate, parsed.action), msg.received ?? msg);
    } catch (e) {
      // The connection is closed: nobody answers now; the client's retry finds a way.
      this.deps.logger.warn({ err: ensureError(e), owner }, 'could not forward a command to its owner');
    }
  }

  /** Wait (bounded) for the partition to get an owner, then route again. */
  private wait(p: number, kind: AggregateKind, id: string, work: CommandWork, inbound: Inbound | undefined): void {
    this.counts.waited++;
    this.waitingNow++;
    this.deps.cluster.waitForOwner(p, this.deps.waitMs).then(
      (owner) => {
        this.waitingNow--;
        if (owner === this.self) {
          this.counts.local++;
          this.deps.local.route(kind, id, work);
        } else if (inbound) this.forward(owner, inbound, work);
        else work.respond(toErrorReply(new UnavailableError(`${kind} ${id} is served by instance ${owner}; send the command there`)));
      },
      (e: unknown) => {
        this.waitingNow--;
        if (inbound && this.leaving) return this.requeue(inbound);
        this.counts.no_owner++;
        work.respond(toErrorReply(e));
      },
    );
  }

  /** Publish the command again on its own subject, for the queue group (this instance no longer listens there). */
  private requeue(inbound: Inbound): void {
    const { msg } = inbound;
    if (!inbound.handOn()) return;
    this.counts.requeued++;
    try {
      this.deps.bus.forward(msg.subject, msg.received ?? msg);
    } catch (e) {
      this.deps.logger.warn({ err: ensureError(e), subject: msg.subject }, 'could not hand a command back to the queue group');
    }
  }
}
