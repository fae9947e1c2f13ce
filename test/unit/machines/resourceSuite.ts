/**
 * The module and overlay machines share one lifecycle (none → active → deleted, with new
 * incarnations) and are fact-first (the fact at once, the file rendered by a scheduled
 * effect); this suite tests either, given its kind, body field and a sample body.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { AggregateMachine, EffectRequest } from '../../../machines/index.js';
import { contract, expectReplayEquivalent, fail, initial, live, run, step, succeed } from './harness.js';

interface ResourceContext {
  version: number;
  pending_effect: unknown;
  name: string | null;
  file: string | null;
  incarnation: number;
  [body: string]: unknown;
}

/** Registers the lifecycle tests and the contract for `kind` (`module` or `overlay`). */
export function resourceSuite(
  kind: 'module' | 'overlay',
  machine: AggregateMachine,
  body: Record<string, unknown>,
  otherBody: Record<string, unknown>,
): void {
  const dir = `${kind}s`;
  const file = `${dir}/web.nix`;
  const ctx = (s: { context: unknown }) => s.context as ResourceContext;
  const create = { type: `${kind}.create`, name: 'web', [kind]: body };
  const update = { type: `${kind}.update`, name: 'web', [kind]: otherBody };
  const del = { type: `${kind}.delete`, name: 'web' };
  const write = (b: Record<string, unknown>) => ({ kind: `${kind}.write`, name: 'web', [kind]: b }) as EffectRequest;
  const remove = { kind: `${kind}.delete`, name: 'web' } as EffectRequest;
  const created = () => run(machine, [create])[0];
  const deleted = () => run(machine, [create, del])[0];

  it(`records ${kind}.created at once and then schedules ${kind}.write`, () => {
    const [next, signals] = step(machine, initial(machine), create);
    expect(next.value).toBe('active');
    expect(ctx(next)).toMatchObject({ version: 1, pending_effect: null, name: 'web', [kind]: body, file, incarnation: 1 });
    expect(signals).toEqual([
      { type: 'fact.recorded', name: `${kind}.created`, sequence: 1, data: { name: 'web', [kind]: body, file } },
      { type: 'effect.scheduled', effect: write(body) },
    ]);
  });

  it(`names the file by the ${kind}'s name`, () => {
    const [next, signals] = step(machine, initial(machine), { ...create, name: 'db-1.x' });
    expect(ctx(next).file).toBe(`${dir}/db-1.x.nix`);
    expect(signals[0]).toMatchObject({ data: { file: `${dir}/db-1.x.nix` } });
  });

  it(`rejects create of an existing ${kind} with already_exists`, () => {
    const [next, signals] = step(machine, created(), create);
    expect(next.value).toBe('active');
    expect(next.context).toEqual(created().context);
    expect(signals).toMatchObject([{ type: 'command.rejected', code: 'already_exists' }]);
    expect((signals[0] as { message: string }).message).toContain(`${kind}.update`);
  });

  it(`rejects update and delete of a ${kind} that does not exist with not_found`, () => {
    for (const event of [update, del]) {
      const [next, signals] = step(machine, initial(machine), event);
      expect(next.value).toBe('none');
      expect(signals).toEqual([
        { type: 'command.rejected', code: 'not_found', message: `${kind} 'web' does not exist; create it with ${kind}.create first` },
      ]);
      const [after, again] = step(machine, deleted(), event);
      expect(after.value).toBe('deleted');
      expect(after.context).toEqual(deleted().context);
      expect(again).toEqual([
        { type: 'command.rejected', code: 'not_found', message: `${kind} 'web' was deleted; create it again with ${kind}.create` },
      ]);
    }
  });

  it(`updates the ${kind} body at once and schedules the rewrite`, () => {
    const [next, signals] = step(machine, created(), update);
    expect(next.value).toBe('active');
    expect(ctx(next)).toMatchObject({ version: 2, pending_effect: null, [kind]: otherBody, file, incarnation: 1 });
    expect(signals).toEqual([
      { type: 'fact.recorded', name: `${kind}.updated`, sequence: 2, data: { name: 'web', [kind]: otherBody, file } },
      { type: 'effect.scheduled', effect: write(otherBody) },
    ]);
  });

  it(`deletes the ${kind}, schedules the file's removal, and creates it again as a new incarnation`, () => {
    const [gone, signals] = step(machine, created(), del);
    expect(gone.value).toBe('deleted');
    expect(ctx(gone)).toMatchObject({ version: 2, pending_effect: null, [kind]: null, file: null, name: 'web', incarnation: 1 });
    expect(signals).toEqual([
      { type: 'fact.recorded', name: `${kind}.deleted`, sequence: 2, data: { name: 'web' } },
      { type: 'effect.scheduled', effect: remove },
    ]);
    const [next, again] = step(machine, gone, create);
    expect(next.value).toBe('active');
    expect(ctx(next)).toMatchObject({ version: 3, incarnation: 2, file, [kind]: body });
    expect(again).toMatchObject([
      { type: 'fact.recorded', name: `${kind}.created`, sequence: 3 },
      { type: 'effect.scheduled', effect: write(body) },
    ]);
  });

  it('leaves the outcomes of its scheduled effects unhandled: nothing waits for them', () => {
    for (const from of [initial(machine), created(), deleted()]) {
      for (const outcome of [succeed(write(body)), fail(write(body)), succeed(remove), fail(remove)]) {
        expect(from.can(outcome as never)).toBe(false);
        const [next, signals] = step(machine, from, outcome);
        expect(next.value).toBe(from.value);
        expect(next.context).toEqual(from.context);
        expect(signals).toEqual([]);
      }
    }
  });

  it(`emits its signals to actor.on in order and replays to the same ${kind}`, () => {
    const actor = live(machine);
    for (const command of [create, update, del, create]) actor.send(command);
    expect(actor.signals.map((s) => (s.type === 'fact.recorded' ? s.name : s.type === 'effect.scheduled' ? s.effect.kind : s.type))).toEqual([
      `${kind}.created`,
      `${kind}.write`,
      `${kind}.updated`,
      `${kind}.write`,
      `${kind}.deleted`,
      `${kind}.delete`,
      `${kind}.created`,
      `${kind}.write`,
    ]);
    expect(actor.snapshot().value).toBe('active');
    expect(actor.errors).toEqual([]);
    expectReplayEquivalent(machine, actor.snapshot(), actor.signals);
  });

  const commandTypes = [`${kind}.create`, `${kind}.update`, `${kind}.delete`];
  const bodies = fc.constantFrom(body, otherBody);
  const path = (effect: EffectRequest) => `${dir}/${(effect as { name: string }).name}.nix`;
  contract({
    machine,
    states: ['none', 'active', 'deleted'],
    pending: [],
    transient: [],
    commandTypes,
    samples: [
      create,
      update,
      del,
      { type: `${kind}.created`, name: 'web', [kind]: body, file },
      { type: `${kind}.updated`, name: 'web', [kind]: body, file },
      { type: `${kind}.deleted`, name: 'web' },
    ],
    accepts: {
      none: [...commandTypes, `${kind}.created`],
      active: [...commandTypes, `${kind}.updated`, `${kind}.deleted`],
      deleted: [...commandTypes, `${kind}.created`],
    },
    abstract: (s) => `${String(s.value)}|${Math.min(ctx(s).incarnation, 1)}`,
    commands: fc.oneof(
      bodies.map((b) => ({ type: `${kind}.create`, name: 'web', [kind]: b })),
      bodies.map((b) => ({ type: `${kind}.update`, name: 'web', [kind]: b })),
      fc.constant(del),
    ),
    workspace: {
      kinds: [`${kind}.write`, `${kind}.delete`] as EffectRequest['kind'][],
      render: (files, effect) => {
        if (effect.kind === `${kind}.write`) files.set(path(effect), (effect as unknown as Record<string, unknown>)[kind]);
        else files.delete(path(effect));
      },
      expected: (c) => (c.file === null ? {} : { [c.file as string]: c[kind] }),
    },
  });
}
