/**
 * The model of one aggregate: its pure machine run as an actor, with the world resolving
 * the effects it asks for, predicting what the service must answer (SPEC §3) and which
 * events it must store — independently of src/runtime, from the machine protocol alone:
 *
 * - facts recorded while deciding are events caused by the command (`causation_id` = its
 *   `message_id`, `correlation_id` = its correlation), sequences from the machine;
 * - `command.rejected` is an error reply with its code; a command the state does not handle
 *   (no signal at all) is `invalid_transition`;
 * - `effect.requested` holds the reply until the outcome (see {@link ModelAggregate.settle});
 *   its facts are caused by the requesting command and the reply lists every event of it;
 * - `command.joined` answers with the outcome of the running effect: its reply lists the
 *   outcome's events (caused by the command that started the effect);
 * - `effect.scheduled` never changes a reply.
 */
import { createActor, type AnyActor } from 'xstate';
import { registry, type EffectOutcome, type EffectRequest, type MachineSignal } from '../../../machines/index.js';
import type { Identity } from '../../../src/domain/identity.js';
import type { Address, MachineEvent, WireCommand } from './catalogue.js';
import { coverage, type Exercised } from './coverage.js';
import { outcomeOf, type World } from './world.js';

/** An event the model says the service stores. */
export interface PredictedEvent {
  fact: string;
  event_type: string;
  sequence: number;
  data: Record<string, unknown>;
  /** The command that caused it. */
  cause: Identity;
}

export type PredictedReply = { status: 'ok'; version: number; events: PredictedEvent[] } | { status: 'error'; code: string };

/** The model's answer to one command. */
export interface Prediction {
  identity: Identity;
  label: string;
  reply: PredictedReply;
}

interface Running {
  effect: EffectRequest;
  starter: { identity: Identity; label: string; events: PredictedEvent[] };
  joiners: Array<{ identity: Identity; label: string }>;
}

/** A snapshot as the model compares it. */
export interface ModelSnapshot {
  value: string;
  context: Record<string, unknown>;
}

export class ModelAggregate {
  private readonly actor: AnyActor;
  private buffer: MachineSignal[] = [];
  private running: Running | undefined;
  private readonly errors: unknown[] = [];
  /** Every event the model predicts the service stores for this aggregate, in order. */
  readonly history: PredictedEvent[] = [];

  constructor(
    readonly address: Address,
    readonly world: World,
    private readonly where: Exercised,
  ) {
    const { kind, id } = address;
    this.actor = createActor(registry[kind].machine, { input: { aggregate_id: id }, inspect: coverage.observer(kind, () => this.where) });
    this.actor.on('*', (s) => this.buffer.push(s as MachineSignal));
    this.actor.subscribe({ error: (e) => this.errors.push(e) });
    this.actor.start();
    coverage.started(kind, String(this.snapshot().value), where);
  }

  /** The model's current state. */
  snapshot(): ModelSnapshot {
    const s = this.actor.getSnapshot() as { value: unknown; context: Record<string, unknown> };
    return { value: String(s.value), context: s.context };
  }

  /** True while an awaited effect runs. */
  get pending(): boolean {
    return this.running !== undefined;
  }

  /** The effect the aggregate waits for, if any. */
  get runningEffect(): EffectRequest | undefined {
    return this.running?.effect;
  }

  private send(event: MachineEvent | { type: string }): MachineSignal[] {
    this.buffer = [];
    this.actor.send(event);
    if (this.errors.length > 0) throw new Error(`model: the ${this.address.kind} actor failed on ${event.type}: ${String(this.errors[0])}`);
    const out = this.buffer;
    this.buffer = [];
    return out;
  }

  private record(signals: MachineSignal[], cause: Identity): PredictedEvent[] {
    const facts = registry[this.address.kind].facts;
    const out: PredictedEvent[] = [];
    for (const s of signals) {
      if (s.type !== 'fact.recorded') continue;
      const info = facts[s.name];
      if (!info) throw new Error(`model: ${this.address.kind} recorded ${s.name}, which the registry does not list`);
      const event: PredictedEvent = {
        fact: s.name,
        event_type: info.event_type,
        sequence: s.sequence,
        data: JSON.parse(JSON.stringify(s.data)) as Record<string, unknown>,
        cause,
      };
      out.push(event);
      this.history.push(event);
    }
    return out;
  }

  /**
   * Applies a command. Returns its prediction, or `undefined` when its reply waits for the
   * running effect (call {@link settle}).
   */
  command(command: WireCommand, identity: Identity): Prediction | undefined {
    if (command.invalid !== undefined) return { identity, label: command.label, reply: { status: 'error', code: 'validation' } };
    const signals = this.send(command.event);
    const events = this.record(signals, identity);
    const requested = signals.find((s) => s.type === 'effect.requested');
    if (requested) {
      if (this.running) throw new Error(`model: ${command.label} asked for an effect while ${this.running.effect.kind} runs`);
      this.running = { effect: requested.effect, starter: { identity, label: command.label, events }, joiners: [] };
      return undefined;
    }
    if (signals.some((s) => s.type === 'command.joined')) {
      if (!this.running) throw new Error(`model: ${command.label} joined, but no effect runs`);
      this.running.joiners.push({ identity, label: command.label });
      return undefined;
    }
    const rejected = signals.find((s) => s.type === 'command.rejected');
    if (rejected) return { identity, label: command.label, reply: { status: 'error', code: rejected.code } };
    if (events.length === 0) return { identity, label: command.label, reply: { status: 'error', code: 'invalid_transition' } };
    return { identity, label: command.label, reply: { status: 'ok', version: events.at(-1)!.sequence, events } };
  }

  /**
   * The running effect's outcome arrives (as the world decides it, or `outcome` when given):
   * the predictions of the commands that waited.
   */
  settle(outcome?: EffectOutcome): Prediction[] {
    const running = this.running;
    if (!running) throw new Error('model: settle() without a running effect');
    this.running = undefined;
    outcome ??= outcomeOf(this.world, running.effect, this.snapshot().context);
    const signals = this.send(outcome);
    const produced = this.record(signals, running.starter.identity);
    if (signals.some((s) => s.type === 'effect.requested'))
      throw new Error(`model: the outcome of ${running.effect.kind} asked for another effect`);
    const rejected = signals.find((s) => s.type === 'command.rejected');
    const version = produced.at(-1)?.sequence ?? (this.snapshot().context['version'] as number);
    const reply = (events: PredictedEvent[]): PredictedReply =>
      rejected ? { status: 'error', code: rejected.code } : { status: 'ok', version: events.at(-1)?.sequence ?? version, events };
    return [
      { identity: running.starter.identity, label: running.starter.label, reply: reply([...running.starter.events, ...produced]) },
      ...running.joiners.map((j) => ({ identity: j.identity, label: j.label, reply: reply(produced) })),
    ];
  }

  /** Applies a command and, when it waits for an effect, its outcome at once (a sequential client). */
  commandAndSettle(command: WireCommand, identity: Identity): Prediction {
    const p = this.command(command, identity);
    if (p) return p;
    const settled = this.settle().find((x) => x.identity.message_id === identity.message_id);
    if (!settled) throw new Error(`model: ${command.label} waited, but the outcome did not answer it`);
    return settled;
  }
}

/** Replays stored facts into a fresh model actor, as the service rebuilds an aggregate. */
export function replay(
  address: Address,
  facts: ReadonlyArray<{ fact: string; data: Record<string, unknown> }>,
  where: Exercised,
): ModelSnapshot {
  const { kind, id } = address;
  const actor = createActor(registry[kind].machine, { input: { aggregate_id: id }, inspect: coverage.observer(kind, () => where) });
  actor.start();
  for (const f of facts) actor.send({ type: f.fact, ...f.data });
  const s = actor.getSnapshot() as { value: unknown; context: Record<string, unknown> };
  actor.stop();
  return { value: String(s.value), context: s.context };
}
