/**
 * The machine of an aggregate that is one file rendered into the workspace: a module
 * (`modules/<name>.nix`) or an overlay (`overlays/<name>.nix`). Each such kind is an
 * instance of {@link fileResourceMachine}, given its kind and the path of its file.
 *
 * none ─create→ active; active ─update→ active; active ─delete→ deleted;
 * deleted ─create→ active (a new incarnation: the version continues, `incarnation` counts
 * the creations).
 *
 * Design decision (machine version 2): commands are fact-first. The performance targets
 * (SPEC §8: ≥ 10,000 commands/s, p50 ≤ 0.5 ms round trip) cannot be met if a command waits
 * for a file write and a `nix-instantiate --parse` subprocess, so a command is decided and
 * its fact recorded at once (stored and replied without waiting), and the machine emits
 * `effect.scheduled` with `<kind>.write` or `<kind>.delete`. The runtime runs that effect
 * after the facts are stored, in order with the aggregate's other effects, and feeds no
 * outcome back: the file is a projection of the facts, so `file` is the deterministic path
 * of the resource, not the adapter's answer. Version 1 waited in `writing`, `updating` and
 * `deleting`; a snapshot of it may be in one of them, hence the new version.
 */
import { assign, emit, setup, type MetaObject, type NonReducibleUnknown, type TransitionConfigOrTarget } from 'xstate';
import { factRecorded, rejected, scheduled, type AggregateContext, type AggregateInput } from './aggregate.js';
import type { CommandRejected, EffectKind, EffectRequest, MachineSignal } from './protocol.js';

/** The effects a file resource of kind `K` schedules: `<kind>.write` carries the body in the field named after the kind. */
type FileResourceEffect<K extends string> =
  ({ kind: `${K}.write`; name: string } & { [P in K]: Record<string, unknown> }) | { kind: `${K}.delete`; name: string };

type Prefix<T extends string> = T extends `${infer P}.${string}` ? P : never;

/**
 * The kinds that can be file resources: those whose {@link FileResourceEffect}s are effects
 * of the protocol (`module` and `overlay`). This is what makes the effects built below valid.
 */
export type FileResourceKind = { [K in Prefix<EffectKind>]: FileResourceEffect<K> extends EffectRequest ? K : never }[Prefix<EffectKind>];

/** The fields of every file resource's context but its body. */
export interface FileResourceFields extends AggregateContext {
  name: string | null;
  /** The resource's file, relative to the workspace; `null` when there is none. */
  file: string | null;
  /** How many times the resource was created (1 for the first life). */
  incarnation: number;
}

/** A file resource's natural key: its name (SPEC §3), once created. */
export function fileResourceNaturalKey(context: Pick<FileResourceFields, 'name'>): string | undefined {
  return context.name ?? undefined;
}

/** The context of a file resource: its body, `null` before creation and after deletion, is in the field named after the kind. */
export type FileResourceContext<K extends FileResourceKind, B> = FileResourceFields & { [P in K]: B | null };

/** The payload of each event, by the verb after `<kind>.`. */
interface Payloads<K extends FileResourceKind, B> {
  create: { name: string } & { [P in K]: B };
  update: { name: string } & { [P in K]: B };
  delete: { name: string };
  /** `file` is the resource's file, relative to the workspace. */
  created: { name: string; file: string } & { [P in K]: B };
  updated: { name: string; file: string } & { [P in K]: B };
  deleted: { name: string };
}
type Verb = keyof Payloads<FileResourceKind, unknown>;

/** The event `<kind>.<verb>`. */
export type FileResourceEventOf<K extends FileResourceKind, B, V extends Verb> = { type: `${K}.${V}` } & Payloads<K, B>[V];

/** The facts of a file resource: `<kind>.created`, `<kind>.updated`, `<kind>.deleted`. */
export type FileResourceFact<K extends FileResourceKind, B> =
  FileResourceEventOf<K, B, 'created'> | FileResourceEventOf<K, B, 'updated'> | FileResourceEventOf<K, B, 'deleted'>;

/**
 * Every event a file resource machine accepts: its commands and (replayed) facts. Effect
 * outcomes are not among them: its effects are scheduled, never awaited.
 */
export type FileResourceEvent<K extends FileResourceKind, B> =
  FileResourceEventOf<K, B, 'create'> | FileResourceEventOf<K, B, 'update'> | FileResourceEventOf<K, B, 'delete'> | FileResourceFact<K, B>;

/** A fact-first decision: the fact to record and the effect that renders it into the workspace. */
export interface FileResourceDecision<K extends FileResourceKind, B> {
  fact: FileResourceFact<K, B>;
  effect: EffectRequest;
}

/** The named actions of a file resource machine and their parameters. */
export type FileResourceAction<K extends FileResourceKind, B> =
  | { type: 'apply'; params: NonReducibleUnknown }
  | { type: 'report'; params: NonReducibleUnknown }
  | { type: 'record'; params: FileResourceDecision<K, B> }
  | { type: 'announce'; params: FileResourceDecision<K, B> }
  | { type: 'schedule'; params: FileResourceDecision<K, B> }
  | { type: 'reject'; params: CommandRejected };

/** What sets one kind of file resource apart. */
export interface FileResourceSpec<K extends FileResourceKind> {
  /** The machine id, the prefix of its events and effects, and the name of its body field. */
  kind: K;
  /** The workspace-relative file of the resource called `name`. */
  file: (name: string) => string;
}

/**
 * Builds the machine of one kind of file resource, with body `B`. `E` is the kind's event
 * union as its schemas define it (it must fit {@link FileResourceEvent}). Input
 * `{ aggregate_id }`; signals via `emit` only.
 */
export function fileResourceMachine<
  K extends FileResourceKind,
  B extends Record<string, unknown>,
  E extends FileResourceEvent<K, B> = FileResourceEvent<K, B>,
>({ kind, file }: FileResourceSpec<K>) {
  type Context = FileResourceContext<K, B>;
  type Fact = FileResourceFact<K, B>;
  type Decision = FileResourceDecision<K, B>;

  const is = <V extends Verb>(verb: V, event: { type: string }): event is FileResourceEventOf<K, B, V> => event.type === `${kind}.${verb}`;
  // TypeScript widens a key computed from the generic kind to an index signature, and cannot
  // see that changes of the fields and of the body are changes of a context: both asserted here.
  const body = <T extends B | null>(value: T) => ({ [kind]: value }) as { [P in K]: T };
  const changes = (c: Partial<FileResourceFields> & { [P in K]?: B | null }) => c as Partial<Context>;

  /**
   * Applies a fact: the changed fields of the context, merged by `assign` (the body is
   * replaced wholesale, so no draft is needed). Pure, and the same for live processing and replay.
   */
  function evolve(c: Context, fact: Fact): Partial<Context> {
    const version = c.version + 1;
    if (is('deleted', fact)) return changes({ version, name: fact.name, ...body(null), file: null });
    if (is('created', fact))
      return changes({ version, name: fact.name, ...body<B>(fact[kind]), file: fact.file, incarnation: c.incarnation + 1 });
    return changes({ version, name: fact.name, ...body<B>(fact[kind]), file: fact.file });
  }

  // TypeScript does not narrow unions of generic types: the shapes are checked with
  // `satisfies`, their membership of `Fact` and `EffectRequest` (see FileResourceKind) asserted.
  const write = (verb: 'created' | 'updated', event: FileResourceEventOf<K, B, 'create' | 'update'>): Decision => {
    const fact = { type: `${kind}.${verb}` as const, name: event.name, ...body<B>(event[kind]), file: file(event.name) };
    const effect = { kind: `${kind}.write` as const, name: event.name, ...body<B>(event[kind]) };
    return {
      fact: fact satisfies FileResourceEventOf<K, B, typeof verb> as Fact,
      effect: effect satisfies FileResourceEffect<K> as Extract<EffectRequest, { kind: `${K}.write` }>,
    };
  };

  const remove = (event: { name: string }): Decision => {
    const effect = { kind: `${kind}.delete` as const, name: event.name };
    return {
      fact: { type: `${kind}.deleted`, name: event.name },
      effect: effect satisfies FileResourceEffect<K> as Extract<EffectRequest, { kind: `${K}.delete` }>,
    };
  };

  const missing = (event: { name: string }, context: Context): CommandRejected =>
    rejected(
      'not_found',
      context.incarnation > 0
        ? `${kind} '${event.name}' was deleted; create it again with ${kind}.create`
        : `${kind} '${event.name}' does not exist; create it with ${kind}.create first`,
    );

  const exists = (event: { name: string }): CommandRejected =>
    rejected(
      'already_exists',
      `${kind} '${event.name}' already exists; change it with ${kind}.update or delete it with ${kind}.delete first`,
    );

  const machine = setup({
    types: {
      context: {} as Context,
      events: {} as E,
      input: {} as AggregateInput,
      emitted: {} as MachineSignal,
    },
    actions: {
      /** Applies the current (replayed) fact event to the context. */
      apply: assign(({ context, event }) => evolve(context, event as Fact)),
      /** Reports the fact just applied; its sequence is the new version. */
      report: emit(({ context, event }) => factRecorded(event, context.version)),
      // A decision is three plain actions in a row (see `decided`), not one `enqueueActions`:
      // that builds ten closures and an action object per call, ~1.7 KiB per command.
      /** Applies a decided fact as a replayed one would be… */
      record: assign(({ context }, d: Decision) => evolve(context, d.fact)),
      /** … reports it (the context's version is already the fact's sequence)… */
      announce: emit(({ context }, d: Decision) => factRecorded(d.fact, context.version)),
      /** … and schedules its rendering. */
      schedule: emit((_, d: Decision) => scheduled(d.effect)),
      reject: emit((_, signal: CommandRejected) => signal),
    },
  });

  type On = NonNullable<Parameters<typeof machine.createStateConfig>[0]['on']>;
  type Transition<V extends Verb> = TransitionConfigOrTarget<
    Context,
    FileResourceEventOf<K, B, V>,
    E,
    never,
    FileResourceAction<K, B>,
    never,
    never,
    MachineSignal,
    MetaObject
  >;
  /**
   * The transitions of a state, by verb. TypeScript cannot match a key computed from the
   * generic kind to its event, so this is where `<kind>.<verb>` is asserted to be the event
   * each transition is typed with.
   */
  const on = (transitions: { [V in Verb]?: Transition<V> }): On =>
    Object.fromEntries(Object.entries(transitions).map(([verb, t]) => [`${kind}.${verb}`, t])) as On;

  /**
   * The actions of a decision: record, announce, schedule — in that order (`announce` reads the
   * version `record` set). The three share one decision per event.
   */
  const decided = <V extends 'create' | 'update' | 'delete'>(decide: (event: FileResourceEventOf<K, B, V>) => Decision) => {
    let seen: unknown;
    let decision: Decision | undefined;
    const params = ({ event }: { event: FileResourceEventOf<K, B, V> }): Decision => {
      if (event !== seen || !decision) {
        seen = event;
        decision = decide(event);
      }
      return decision;
    };
    return [
      { type: 'record', params },
      { type: 'announce', params },
      { type: 'schedule', params },
    ] as const;
  };

  // `none` and `deleted` accept the same events: a resource that is not there (yet or any more).
  const absent = on({
    create: { target: 'active', actions: decided<'create'>((event) => write('created', event)) },
    update: { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
    delete: { actions: { type: 'reject', params: ({ context, event }) => missing(event, context) } },
    created: { target: 'active', actions: ['apply', 'report'] },
  });

  return machine.createMachine({
    id: kind,
    context: ({ input }): Context => ({
      aggregate_id: input.aggregate_id,
      version: 0,
      pending_effect: null,
      name: null,
      ...body(null),
      file: null,
      incarnation: 0,
    }),
    initial: 'none',
    states: {
      none: { on: absent },
      active: {
        on: on({
          create: { actions: { type: 'reject', params: ({ event }) => exists(event) } },
          update: { actions: decided<'update'>((event) => write('updated', event)) },
          delete: { target: 'deleted', actions: decided<'delete'>((event) => remove(event)) },
          updated: { actions: ['apply', 'report'] },
          deleted: { target: 'deleted', actions: ['apply', 'report'] },
        }),
      },
      deleted: { on: absent },
    },
  });
}

/** The states a module's or overlay's read model shows. */
export const ResourceStates = ['active', 'deleted'] as const;
