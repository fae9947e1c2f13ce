/**
 * fast-check model-based commands over several aggregates at once: the model is one
 * {@link ModelAggregate} per aggregate (the pure machines), the real system the service.
 * Every command is sent over NATS and its reply, events and query answer checked against
 * the model's prediction; a fault command restarts the NATS server (possibly while a
 * command is in flight), and the client retries with the same `message_id`.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { setTimeout as delay } from 'node:timers/promises';
import type { AggregateKind } from '../../../machines/index.js';
import type { Identity } from '../../../src/domain/identity.js';
import { addressFor, malformed, samples, wireCommand, type WireCommand } from './catalogue.js';
import { newIdentity, type ServiceUnderTest, type SendOptions } from './harness.js';
import { ModelAggregate, type Prediction } from './modelAggregate.js';
import { tally } from './settings.js';

/** The aggregates of one run: two flakes, a package that builds, one that fails, a module, an overlay, a configuration. */
export const RUN_AGGREGATES: ReadonlyArray<{ kind: AggregateKind; variant: 'ok' | 'bad'; n: number }> = [
  { kind: 'flake', variant: 'ok', n: 0 },
  { kind: 'flake', variant: 'ok', n: 1 },
  { kind: 'package', variant: 'ok', n: 0 },
  { kind: 'package', variant: 'bad', n: 1 },
  { kind: 'module', variant: 'ok', n: 0 },
  { kind: 'overlay', variant: 'ok', n: 0 },
  { kind: 'config', variant: 'ok', n: 0 },
];

/** A command already answered, kept so it can be sent again. */
interface Answered {
  command: WireCommand;
  identity: Identity;
  prediction: Prediction;
}

/** The model of one run. */
export interface RunModel {
  aggregates: ModelAggregate[];
  /** The last command answered per aggregate. */
  last: Map<number, Answered>;
  /** Every event an `ok` reply named, per aggregate: each must be in the stream (SPEC §11). */
  okEvents: Map<number, Array<{ event_id: string; sequence: number; where: string }>>;
}

/** Keeps the events an `ok` reply names, for the truth check at the end of the run. */
function noteOk(m: RunModel, agg: number, actual: { data: Record<string, unknown> }, where: string): void {
  if (actual.data['status'] !== 'ok') return;
  const list = m.okEvents.get(agg) ?? [];
  for (const e of (actual.data['events'] ?? []) as Array<{ event_id: string; sequence: number }>) list.push({ event_id: e.event_id, sequence: e.sequence, where });
  m.okEvents.set(agg, list);
}

/** The system of one run. */
export interface RunReal {
  sut: ServiceUnderTest;
  /** Retries and timeouts while the server may restart. */
  send: SendOptions;
  /** Live events are checked unless the server restarts (a core subscriber misses what is published while it reconnects). */
  liveEvents: boolean;
}

let runs = 0;

/** Fresh aggregates (a new scope) for one run. */
export function newRun(sut: ServiceUnderTest, label: string): RunModel {
  const scope = `${label}${++runs}`;
  return {
    aggregates: RUN_AGGREGATES.map(
      ({ kind, variant, n }) => new ModelAggregate(addressFor(kind, scope, sut.world, variant, n), sut.world, 'service'),
    ),
    last: new Map(),
    okEvents: new Map(),
  };
}

/** How a failure names aggregate `agg` of a run: `flake#0`, `package(bad)#1`, … */
const name = (agg: number) => {
  const spec = RUN_AGGREGATES[agg]!;
  return `${spec.kind}${spec.kind === 'package' ? `(${spec.variant})` : ''}#${spec.n}`;
};

/** Sends one command to one aggregate and checks it. */
async function sendAndCheck(m: RunModel, r: RunReal, agg: number, label: string, step: string): Promise<void> {
  const model = m.aggregates[agg]!;
  const command = wireCommand(model.address, label, r.sut.world);
  const identity = newIdentity();
  const reply = r.sut.send(command, identity, r.send);
  const prediction = model.commandAndSettle(command, identity);
  m.last.set(agg, { command, identity, prediction });
  const actual = await reply;
  tally.steps++;
  const where = `${step} ${name(agg)} ${label}`;
  noteOk(m, agg, actual, where);
  r.sut.expectReply(model.address, prediction, actual, where);
  if (r.liveEvents) await r.sut.expectEvents(model.address, prediction, actual, where);
  await r.sut.expectQuery(model, where);
}

/** One command to one aggregate. */
export class Send implements fc.AsyncCommand<RunModel, RunReal> {
  constructor(
    readonly agg: number,
    readonly label: string,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: RunModel, r: RunReal): Promise<void> {
    return sendAndCheck(m, r, this.agg, this.label, 'random');
  }
  toString(): string {
    return `${name(this.agg)} ${this.label}`;
  }
}

/**
 * The last command of an aggregate sent again with the same identity, as a client retries
 * (SPEC §3): the original reply again, and no new event (the end of the run checks the
 * history). Whatever happened in between: other commands, passivation, snapshots.
 */
export class Resend implements fc.AsyncCommand<RunModel, RunReal> {
  constructor(readonly agg: number) {}
  check(m: Readonly<RunModel>): boolean {
    return m.last.has(this.agg);
  }
  async run(m: RunModel, r: RunReal): Promise<void> {
    const { command, identity, prediction } = m.last.get(this.agg)!;
    const model = m.aggregates[this.agg]!;
    const actual = await r.sut.send(command, identity, r.send);
    tally.steps++;
    noteOk(m, this.agg, actual, `resend ${name(this.agg)} ${command.label}`);
    r.sut.expectReply(
      model.address,
      prediction,
      actual,
      `resend ${name(this.agg)} ${command.label} (same message_id ${identity.message_id}), after ${model.history.length} events`,
    );
  }
  toString(): string {
    return `resend the last command of ${name(this.agg)}`;
  }
}

/** Commands to distinct aggregates, sent at once (aggregates are independent: any order gives the same predictions). */
export class Burst implements fc.AsyncCommand<RunModel, RunReal> {
  constructor(readonly parts: ReadonlyArray<readonly [number, string]>) {}
  check(): boolean {
    return true;
  }
  async run(m: RunModel, r: RunReal): Promise<void> {
    const results = await Promise.allSettled(this.parts.map(([agg, label]) => sendAndCheck(m, r, agg, label, 'burst')));
    const failed = results.find((x) => x.status === 'rejected');
    if (failed) throw failed.reason;
  }
  toString(): string {
    return `burst[${this.parts.map(([agg, label]) => `${name(agg)} ${label}`).join(' ‖ ')}]`;
  }
}

/** Restarts the NATS server, optionally while a command is in flight (sent `afterMs` before the restart begins). */
export class RestartServer implements fc.AsyncCommand<RunModel, RunReal> {
  constructor(
    readonly inFlight: readonly [number, string] | undefined,
    readonly afterMs: number,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: RunModel, r: RunReal): Promise<void> {
    tally.restarts++;
    if (!this.inFlight) {
      await r.sut.server.restart();
      return;
    }
    const [agg, label] = this.inFlight;
    const sent = sendAndCheck(m, r, agg, label, 'in flight during a restart:').then(
      () => ({ ok: true as const }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    await delay(this.afterMs);
    await r.sut.server.restart();
    const result = await sent;
    if (!result.ok) throw result.error instanceof Error ? result.error : new Error(String(result.error));
  }
  toString(): string {
    return this.inFlight
      ? `restart nats-server ${this.afterMs} ms after sending ${name(this.inFlight[0])} ${this.inFlight[1]}`
      : 'restart nats-server';
  }
}

/**
 * SIGKILLs the service and starts it again (optionally while a command is in flight, sent
 * `afterMs` before the kill): the client retries with the same message_id, and the run goes
 * on as the model says. What the crash left half done (a reply not sent, a file not written)
 * must be made whole by the restarted service.
 */
export class CrashService implements fc.AsyncCommand<RunModel, RunReal> {
  constructor(
    readonly inFlight: readonly [number, string] | undefined,
    readonly afterMs: number,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: RunModel, r: RunReal): Promise<void> {
    tally.crashes++;
    if (!this.inFlight) {
      await r.sut.crash();
      return;
    }
    const [agg, label] = this.inFlight;
    const sent = sendAndCheck(m, r, agg, label, 'in flight during a crash:').then(
      () => ({ ok: true as const }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    await delay(this.afterMs);
    await r.sut.crash();
    const result = await sent;
    if (!result.ok) throw result.error instanceof Error ? result.error : new Error(String(result.error));
  }
  toString(): string {
    return this.inFlight ? `SIGKILL the service ${this.afterMs} ms after sending ${name(this.inFlight[0])} ${this.inFlight[1]}` : 'SIGKILL the service';
  }
}

/** A command to one aggregate: any of its samples (valid or not in the current state), rarely a malformed payload. */
function sendTo(agg: number): fc.Arbitrary<readonly [number, string]> {
  const kind = RUN_AGGREGATES[agg]!.kind;
  return fc
    .oneof(
      { weight: 12, arbitrary: fc.constantFrom(...samples[kind].map((s) => s.label)) },
      { weight: 1, arbitrary: fc.constantFrom(...malformed[kind].map((s) => s.label)) },
    )
    .map((label) => [agg, label] as const);
}

const anyAggregate = fc.integer({ min: 0, max: RUN_AGGREGATES.length - 1 });
const anySend = anyAggregate.chain(sendTo);

/**
 * The command arbitraries of the random sequences; with `faults`, restarts of the server too,
 * and with `crashes`, SIGKILLs of the service.
 */
export function commandArbitraries(faults: boolean, crashes = false): Array<fc.Arbitrary<fc.AsyncCommand<RunModel, RunReal>>> {
  const arbs: Array<fc.Arbitrary<fc.AsyncCommand<RunModel, RunReal>>> = [
    anySend.map(([agg, label]) => new Send(agg, label)),
    anySend.map(([agg, label]) => new Send(agg, label)),
    anySend.map(([agg, label]) => new Send(agg, label)),
    fc
      .uniqueArray(anyAggregate, { minLength: 2, maxLength: 3 })
      .chain((aggs) => fc.tuple(...aggs.map(sendTo)))
      .map((parts) => new Burst(parts)),
    anyAggregate.map((agg) => new Resend(agg)),
  ];
  if (faults) {
    arbs.push(
      fc
        .tuple(fc.option(anySend, { nil: undefined }), fc.integer({ min: 0, max: 40 }))
        .map(([inFlight, afterMs]) => new RestartServer(inFlight, afterMs)),
    );
  }
  if (crashes) {
    arbs.push(
      fc
        .tuple(fc.option(anySend, { nil: undefined }), fc.integer({ min: 0, max: 40 }))
        .map(([inFlight, afterMs]) => new CrashService(inFlight, afterMs)),
    );
  }
  return arbs;
}

/** After a run: every aggregate's stored history, state and (without faults) its live events are the model's. */
export async function checkRunEnd(m: RunModel, r: RunReal, label: string): Promise<void> {
  for (const [i, model] of m.aggregates.entries()) {
    const where = `${label}: end of the run`;
    await r.sut.expectHistory(model, where);
    // The truth of SPEC §11: every ok is stored, and the workspace is the stream's projection.
    await r.sut.expectOkStored(model.address, m.okEvents.get(i) ?? []);
    await r.sut.expectWorkspaceFile(model.address, where);
    await r.sut.expectQuery(model, where);
    if (r.liveEvents) {
      const expected = model.history.map((e) => e.sequence);
      expect(
        r.sut.events.sequences(model.address.id),
        `${where}: every stored event of ${model.address.key} reached its seed subject, and nothing else`,
      ).toEqual(expected);
    }
  }
}
