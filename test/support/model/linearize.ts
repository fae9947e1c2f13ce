/**
 * The concurrency property: commands sent in parallel to one aggregate (over several
 * connections, so the service sees them in any order) must end as some sequential order of
 * the same commands leaves the aggregate — an order in which the running effect's outcome
 * may arrive between two commands, as it does in the aggregate's mailbox. The search
 * replays candidate orders on fresh models, pruned by the replies and the stored history,
 * until one explains everything the service answered and stored.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { expect } from 'vitest';
import type { StoredEvent } from '../../../src/store/index.js';
import type { Identity } from '../../../src/domain/identity.js';
import { wireCommand, type Address, type WireCommand } from './catalogue.js';
import { actualShape, newIdentity, payloadOf, predictedShape, type ActualReply, type ServiceUnderTest } from './harness.js';
import { ModelAggregate, type Prediction } from './modelAggregate.js';
import { comparableFact, type World } from './world.js';
import { tally } from './settings.js';

interface Sent {
  command: WireCommand;
  identity: Identity;
}

/** A step of a candidate order: deliver command `i`, or let the running effect finish. */
type Choice = number | 'outcome';

const describeOrder = (order: readonly Choice[], sent: readonly Sent[]) =>
  order.map((c) => (c === 'outcome' ? '⟨outcome⟩' : sent[c]!.command.label)).join(' → ');

/**
 * Finds an order of `parallel` (after `prefix`) that gives every reply in `replies` and the
 * `stored` history; `undefined` when none does.
 */
export function findLinearization(
  address: Address,
  world: World,
  prefix: readonly Sent[],
  parallel: readonly Sent[],
  replies: ReadonlyMap<string, ActualReply>,
  stored: readonly StoredEvent[],
  prefixName: string,
): Choice[] | undefined {
  const storedShape = stored.map((s) => ({
    fact: s.fact,
    seq: s.event.sequence,
    command: s.command_id,
    data: comparableFact(s.fact, payloadOf(s.event as Record<string, unknown>)),
  }));
  const fits = (m: ModelAggregate, predictions: readonly Prediction[]): boolean => {
    for (const p of predictions) {
      const actual = replies.get(p.identity.message_id);
      if (actual && JSON.stringify(actualShape(actual)) !== JSON.stringify(predictedShape(prefixName, address, p))) return false;
    }
    const history = m.history.map((e) => ({
      fact: e.fact,
      seq: e.sequence,
      command: e.cause.message_id,
      data: comparableFact(e.fact, e.data),
    }));
    return history.length <= storedShape.length && JSON.stringify(history) === JSON.stringify(storedShape.slice(0, history.length));
  };
  const replayOrder = (order: readonly Choice[]): { m: ModelAggregate; ok: boolean } => {
    const m = new ModelAggregate(address, world, 'none');
    for (const s of prefix) m.commandAndSettle(s.command, s.identity);
    const predictions: Prediction[] = [];
    for (const c of order) {
      if (c === 'outcome') predictions.push(...m.settle());
      else {
        const p = m.command(parallel[c]!.command, parallel[c]!.identity);
        if (p) predictions.push(p);
      }
    }
    return { m, ok: fits(m, predictions) };
  };
  const search = (order: Choice[]): Choice[] | undefined => {
    const { m, ok } = replayOrder(order);
    if (!ok) return undefined;
    const used = new Set(order.filter((c): c is number => c !== 'outcome'));
    if (used.size === parallel.length && !m.pending) return m.history.length === stored.length ? order : undefined;
    const next: Choice[] = m.pending ? ['outcome'] : [];
    for (let i = 0; i < parallel.length; i++) if (!used.has(i)) next.push(i);
    for (const c of next) {
      const found = search([...order, c]);
      if (found) return found;
    }
    return undefined;
  };
  return search([]);
}

/**
 * One case: `prefix` sent one by one (each checked), then `parallel` all at once over
 * `connections`; asserts a linearization exists, that the stored sequence is gapless, and
 * that the state it replays to is the linearization's.
 */
export async function concurrentCase(
  sut: ServiceUnderTest,
  connections: readonly NatsConnection[],
  address: Address,
  prefixLabels: readonly string[],
  parallelLabels: readonly string[],
): Promise<void> {
  const where = `concurrency on ${address.key}: [${prefixLabels.join(' → ')}] then in parallel {${parallelLabels.join(' ‖ ')}}`;
  const model = new ModelAggregate(address, sut.world, 'service');
  const prefix: Sent[] = [];
  for (const label of prefixLabels) {
    const sent = { command: wireCommand(address, label, sut.world), identity: newIdentity() };
    prefix.push(sent);
    const prediction = model.commandAndSettle(sent.command, sent.identity);
    sut.expectReply(address, prediction, await sut.send(sent.command, sent.identity), `${where}, prefix`);
    tally.steps++;
  }
  const parallel: Sent[] = parallelLabels.map((label) => ({ command: wireCommand(address, label, sut.world), identity: newIdentity() }));
  const settled = await Promise.all(parallel.map((s, i) => sut.send(s.command, s.identity, { via: connections[i % connections.length]! })));
  tally.steps += parallel.length;
  const replies = new Map(parallel.map((s, i) => [s.identity.message_id, settled[i]!] as const));
  const stored = await sut.history(address);
  expect(
    stored.map((s) => s.event.sequence),
    `${where}: a gapless sequence`,
  ).toEqual(stored.map((_, i) => i + 1));
  const order = findLinearization(address, sut.world, prefix, parallel, replies, stored, sut.prefix);
  expect(
    order,
    `${where}: no sequential order explains the replies ${JSON.stringify(parallel.map((s) => [s.command.label, actualShape(replies.get(s.identity.message_id)!)]))} and the stored facts ${JSON.stringify(stored.map((s) => [s.fact, s.event.sequence, s.command_id]))}`,
  ).toBeDefined();
  // The order found is what the service did: replay it on the counted model and check the state.
  for (const c of order!) {
    if (c === 'outcome') model.settle();
    else model.command(parallel[c]!.command, parallel[c]!.identity);
  }
  if (model.pending) model.settle();
  await sut.expectHistory(model, `${where}, in the order ${describeOrder(order!, parallel)}`);
  await sut.expectQuery(model, where);
}
