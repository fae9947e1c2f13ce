/**
 * Runs a path of step labels against the service and the model side by side, checking every
 * reply and event; and the pure variant for outcomes the offline service cannot produce.
 */
import type { Identity } from '../../../src/domain/identity.js';
import { expect } from 'vitest';
import { wireCommand, type Address } from './catalogue.js';
import { FAILURE, OUTCOME, type PathLabels } from './graph.js';
import { newIdentity, type ActualReply, type ServiceUnderTest } from './harness.js';
import { ModelAggregate, replay, type Prediction } from './modelAggregate.js';
import { hostFailure, type World } from './world.js';

type Settled = { ok: ActualReply } | { error: unknown };

/** A reply promise that never rejects unobserved. */
function settled(p: Promise<ActualReply>): Promise<Settled> {
  return p.then(
    (ok) => ({ ok }),
    (error: unknown) => ({ error }),
  );
}

async function unwrap(s: Promise<Settled>): Promise<ActualReply> {
  const r = await s;
  if ('error' in r) throw r.error;
  return r.ok;
}

/** Prints a path for failure messages. */
export function describePath(labels: PathLabels): string {
  return labels.length === 0 ? '(empty)' : labels.join(' → ');
}

/**
 * Runs `labels` on a fresh aggregate. A command that starts an effect is not awaited: the
 * commands after it, up to the {@link OUTCOME} step, are sent at once, so they reach the
 * aggregate while the effect runs (the paths only do that behind effects that run a
 * process). Every reply and every event is checked when its prediction is final; at the
 * end, the stored history and the state it replays to.
 */
export async function runPathOnService(sut: ServiceUnderTest, address: Address, labels: PathLabels, name: string): Promise<ModelAggregate> {
  const model = new ModelAggregate(address, sut.world, 'service');
  const replies = new Map<string, Promise<Settled>>();
  const due: Array<{ prediction: Prediction; step: number }> = [];
  const where = (step: number) => `${name} [${describePath(labels)}] step ${step + 1}`;
  const check = async () => {
    for (const { prediction, step } of due.splice(0)) {
      const actual = await unwrap(replies.get(prediction.identity.message_id)!);
      sut.expectReply(address, prediction, actual, where(step));
      await sut.expectEvents(address, prediction, actual, where(step));
    }
  };
  const stepOf = new Map<string, number>();
  for (const [i, label] of labels.entries()) {
    if (label === FAILURE) throw new Error(`${name}: a service path cannot make the host fail`);
    if (label === OUTCOME) {
      for (const p of model.settle()) due.push({ prediction: p, step: stepOf.get(p.identity.message_id) ?? i });
      await check();
      await sut.expectQuery(model, where(i));
      continue;
    }
    const command = wireCommand(address, label, sut.world);
    const identity: Identity = newIdentity();
    stepOf.set(identity.message_id, i);
    replies.set(identity.message_id, settled(sut.send(command, identity)));
    const prediction = model.command(command, identity);
    if (prediction) due.push({ prediction, step: i });
    // While an effect runs, the next commands go out at once; their replies are checked at the outcome.
    if (!model.pending) {
      await check();
      await sut.expectQuery(model, where(i));
    }
  }
  if (model.pending) for (const p of model.settle()) due.push({ prediction: p, step: stepOf.get(p.identity.message_id) ?? labels.length });
  await check();
  await sut.expectQuery(model, where(labels.length));
  await sut.expectHistory(model, where(labels.length));
  return model;
}

/**
 * Runs `labels` on the pure model only (a flaky host's failures included) and checks that
 * replaying the recorded facts gives the live state.
 */
export function runPathOnModel(address: Address, world: World, labels: PathLabels, name: string): ModelAggregate {
  const model = new ModelAggregate(address, world, 'model');
  for (const label of labels) {
    if (label === OUTCOME) model.settle();
    else if (label === FAILURE) model.settle(hostFailure(world, model.runningEffect!));
    else model.command(wireCommand(address, label, world), newIdentity());
  }
  if (model.pending) model.settle();
  const rebuilt = replay(address, model.history, 'model');
  expect(rebuilt, `${name} [${describePath(labels)}]: replaying the facts gives the live state`).toEqual(model.snapshot());
  return model;
}

/**
 * Runs `task` over `items`, at most `limit` at a time. When some fail, rejects after all
 * settled: with the first failure when it is the only one, else with one error that lists
 * the first line of each (the first failure as its cause).
 */
export async function pool<T>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const failures: unknown[] = [];
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        await task(items[i]!, i);
      } catch (e) {
        failures.push(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    const lines = failures.map((f) => `- ${(f instanceof Error ? f.message : String(f)).split('\n')[0]!}`);
    throw new Error(`${failures.length} of ${items.length} paths failed:\n${lines.join('\n')}`, { cause: failures[0] });
  }
}
