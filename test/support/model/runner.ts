/**
 * Runs a path of step labels against the service and the model side by side, checking every
 * reply and event, and every call the service makes to a NixOS host's nixos-rebuild.
 */
import type { Identity } from '../../../src/domain/identity.js';
import { expect } from 'vitest';
import { wireCommand, type Address } from './catalogue.js';
import { FAILURE, OUTCOME, type PathLabels } from './graph.js';
import { newIdentity, type ActualReply, type ServiceUnderTest } from './harness.js';
import { ModelAggregate, type Prediction } from './modelAggregate.js';
import { HOST_FAILURE_EXIT, hostFailure, hostRunsNixEnv, rebuildArguments } from './world.js';

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
 *
 * On a NixOS host ({@link ServiceUnderTest.host}) a command that starts an activation or a
 * rollback goes out through the host, which makes nixos-rebuild fail when the next step is
 * {@link FAILURE} (and succeed on {@link OUTCOME}); its reply is checked with the
 * nixos-rebuild call the service made for it.
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
    if (label === OUTCOME || label === FAILURE) {
      const effect = model.runningEffect;
      if (!effect) throw new Error(`${where(i)}: ${label}, but no effect runs`);
      const failure = label === FAILURE ? hostFailure(sut.world, effect) : undefined;
      if (label === FAILURE && !failure) throw new Error(`${where(i)}: this world cannot make ${effect.kind} fail`);
      for (const p of model.settle(failure)) due.push({ prediction: p, step: stepOf.get(p.identity.message_id) ?? i });
      await check();
      await sut.expectQuery(model, where(i));
      continue;
    }
    const command = wireCommand(address, label, sut.world);
    const identity: Identity = newIdentity();
    stepOf.set(identity.message_id, i);
    const running = model.runningEffect;
    const prediction = model.command(command, identity);
    const started = model.runningEffect !== running ? model.runningEffect : undefined;
    if (hostRunsNixEnv(sut.world, started))
      throw new Error(`${where(i)}: ${label} would run nix-env on this machine's system profile; the graph must not offer it`);
    const args = rebuildArguments(sut.world, started);
    if (args !== undefined) {
      if (!sut.host) throw new Error(`${where(i)}: a NixOS world needs a service on a NixOS host`);
      // The host fails this call when the path says so; the outcome step follows at once.
      const exit = labels[i + 1] === FAILURE ? HOST_FAILURE_EXIT : 0;
      const reply = sut.host
        .run(exit, () => sut.send(command, identity))
        .then(({ result, calls }) => {
          expect(calls, `${where(i)}: the nixos-rebuild calls ${label} made (exiting ${exit})`).toEqual([args]);
          return result;
        });
      replies.set(identity.message_id, settled(reply));
    } else {
      replies.set(identity.message_id, settled(sut.send(command, identity)));
    }
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
