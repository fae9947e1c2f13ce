/**
 * The one module that builds subject strings. Everything else asks it, so the subject
 * layout of SPEC §2 lives in one place. `prefix` is a single subject token (default `nix`).
 */
export const HEALTH_SUBJECT = 'health.cim-domain-nix';
export const SERVICE_NAME = 'cim-domain-nix';

export type SubjectKind = 'cmd' | 'query';

/** All subjects of one deployment, for a given prefix. */
export interface Subjects {
  readonly prefix: string;
  /** `P.cmd.>`: the command intake. */
  readonly commands: string;
  /** `P.query.>`: the query intake. */
  readonly queries: string;
  command(aggregate: string, action: string): string;
  query(aggregate: string, action: string): string;
  /** Seed subject of a fact: `P.event.<fact>` where fact is `<agg>.<past>`. */
  event(fact: string): string;
  /** `P.event.>` */
  readonly events: string;
  /** Event-store subject of one aggregate: `P.store.<agg>.<id>`. */
  store(aggregate: string, id: string): string;
  /** `P.store.>` */
  readonly storeAll: string;
  /** `P.error.<cmd|query>.<agg>.<action>` */
  error(kind: SubjectKind, aggregate: string, action: string): string;
  /** `P.progress.package.<id>` */
  progress(aggregate: string, id: string): string;
  /** `P.inspect.<…>` */
  inspect(...tokens: string[]): string;
  /** JetStream stream holding every domain event. */
  readonly eventStream: string;
  /** JetStream KV bucket for snapshots and service state. */
  readonly stateBucket: string;
  /** JetStream KV bucket for cluster membership and partition leases: `<P>_CLUSTER`. */
  readonly clusterBucket: string;
  /** `P.route.<instance_id>`: commands forwarded to the instance that owns their partition. */
  route(instanceId: string): string;
  /** A pattern under one family of subjects: `P.<family>.<pattern>` (`within('event', 'package.>')`). */
  within(family: 'cmd' | 'query' | 'event' | 'progress' | 'error', pattern: string): string;
  /**
   * `P.route.<instance_id>.<hops>.<agg>.<action>`: one forwarded command, the original subject
   * `P.cmd.<agg>.<action>` and the hop count carried as subject tokens (payload, headers and
   * reply subject travel unchanged). The owner subscribes to `route(itself) + '.>'`.
   */
  routed(instanceId: string, hops: number, aggregate: string, action: string): string;
  /** `P.route.<instance_id>.>`: every command forwarded to that instance. */
  routeAll(instanceId: string): string;
  /** Parse a {@link Subjects.routed} subject: the original command subject and the hops so far. */
  parseRouted(subject: string): { command: string; hops: number } | undefined;
  /** Parse `P.<cmd|query>.<agg>.<action>`; undefined when the subject is not under the prefix. */
  parse(subject: string): { kind: string; aggregate: string | undefined; action: string | undefined; extra: number } | undefined;
}

/** Build the subject set for a prefix. */
export function subjectsFor(prefix: string): Subjects {
  const p = prefix;
  const upper = prefix.toUpperCase().replace(/[^A-Z0-9_-]/g, '_');
  // One string per fact: event subjects are kept in every ledger entry of every aggregate.
  const eventSubjects = new Map<string, string>();
  return {
    prefix: p,
    commands: `${p}.cmd.>`,
    queries: `${p}.query.>`,
    command: (a, action) => `${p}.cmd.${a}.${action}`,
    query: (a, action) => `${p}.query.${a}.${action}`,
    event: (fact) => {
      let subject = eventSubjects.get(fact);
      if (subject === undefined) {
        subject = `${p}.event.${fact}`;
        eventSubjects.set(fact, subject);
      }
      return subject;
    },
    events: `${p}.event.>`,
    store: (a, id) => `${p}.store.${a}.${id}`,
    storeAll: `${p}.store.>`,
    error: (kind, a, action) => `${p}.error.${kind}.${a}.${action}`,
    progress: (a, id) => `${p}.progress.${a}.${id}`,
    inspect: (...tokens) => [p, 'inspect', ...tokens].join('.'),
    eventStream: `${upper}_EVENTS`,
    stateBucket: `${upper}_STATE`,
    clusterBucket: `${upper}_CLUSTER`,
    route: (instanceId) => `${p}.route.${instanceId}`,
    within: (family, pattern) => `${p}.${family}.${pattern}`,
    routeAll: (instanceId) => `${p}.route.${instanceId}.>`,
    routed: (instanceId, hops, a, action) => `${p}.route.${instanceId}.${hops}.${a}.${action}`,
    parseRouted(subject) {
      const tokens = subject.split('.');
      if (tokens.length !== 6 || tokens[0] !== p || tokens[1] !== 'route') return undefined;
      const hops = Number(tokens[3]);
      if (!Number.isInteger(hops) || hops < 0) return undefined;
      return { command: `${p}.cmd.${tokens[4]}.${tokens[5]}`, hops };
    },
    parse(subject) {
      const tokens = subject.split('.');
      if (tokens[0] !== p || tokens.length < 2) return undefined;
      return { kind: tokens[1] ?? '', aggregate: tokens[2], action: tokens[3], extra: Math.max(0, tokens.length - 4) };
    },
  };
}
