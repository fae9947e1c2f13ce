/**
 * The module and overlay machines share one lifecycle (none → active → deleted, with new
 * incarnations); this suite tests either, given its kind, body field and a sample body.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { AggregateMachine } from '../../../machines/index.js';
import { contract, expectReplayEquivalent, fail, initial, live, pendingOf, run, step, succeed } from './harness.js';

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
  const ctx = (s: { context: unknown }) => s.context as ResourceContext;
  const create = { type: `${kind}.create`, name: 'web', [kind]: body };
  const update = { type: `${kind}.update`, name: 'web', [kind]: otherBody };
  const del = { type: `${kind}.delete`, name: 'web' };
  const created = () => {
    const [writing] = step(machine, initial(machine), create);
    return run(machine, [succeed(pendingOf(writing))], writing)[0];
  };
  const deleted = () => {
    const [deleting] = step(machine, created(), del);
    return run(machine, [succeed(pendingOf(deleting))], deleting)[0];
  };

  it(`requests ${kind}.write and records ${kind}.created with the written file`, () => {
    const [writing, requested] = step(machine, initial(machine), create);
    expect(writing.value).toBe('writing');
    const effect = { kind: `${kind}.write`, name: 'web', [kind]: body };
    expect(requested).toEqual([{ type: 'effect.requested', effect }]);
    const [next, signals] = step(machine, writing, succeed(pendingOf(writing)));
    expect(next.value).toBe('active');
    expect(ctx(next)).toMatchObject({ version: 1, pending_effect: null, name: 'web', [kind]: body, file: `${dir}/web.nix`, incarnation: 1 });
    expect(signals).toEqual([
      { type: 'fact.recorded', name: `${kind}.created`, sequence: 1, data: { name: 'web', [kind]: body, file: `${dir}/web.nix` } },
    ]);
  });

  it(`rejects create of an existing ${kind} with already_exists`, () => {
    const [next, signals] = step(machine, created(), create);
    expect(next.value).toBe('active');
    expect(signals).toMatchObject([{ type: 'command.rejected', code: 'already_exists' }]);
    expect((signals[0] as { message: string }).message).toContain(`${kind}.update`);
  });

  it(`rejects update and delete of a ${kind} that does not exist with not_found`, () => {
    for (const event of [update, del]) {
      const [next, signals] = step(machine, initial(machine), event);
      expect(next.value).toBe('none');
      expect(signals).toMatchObject([{ type: 'command.rejected', code: 'not_found' }]);
      expect((signals[0] as { message: string }).message).toContain(`create it with ${kind}.create first`);
      const [after, again] = step(machine, deleted(), event);
      expect(after.value).toBe('deleted');
      expect((again[0] as { message: string }).message).toContain('was deleted');
    }
  });

  it(`updates the ${kind} body`, () => {
    const [updating] = step(machine, created(), update);
    expect(updating.value).toBe('updating');
    const [next, signals] = step(machine, updating, succeed(pendingOf(updating)));
    expect(next.value).toBe('active');
    expect(ctx(next)[kind]).toEqual(otherBody);
    expect(signals).toEqual([
      { type: 'fact.recorded', name: `${kind}.updated`, sequence: 2, data: { name: 'web', [kind]: otherBody, file: `${dir}/web.nix` } },
    ]);
  });

  it(`deletes the ${kind} and creates it again as a new incarnation`, () => {
    const gone = deleted();
    expect(gone.value).toBe('deleted');
    expect(ctx(gone)).toMatchObject({ version: 2, [kind]: null, file: null, name: 'web', incarnation: 1 });
    const [writing] = step(machine, gone, create);
    const [next, signals] = step(machine, writing, succeed(pendingOf(writing)));
    expect(next.value).toBe('active');
    expect(ctx(next)).toMatchObject({ version: 3, incarnation: 2 });
    expect(signals).toMatchObject([{ type: 'fact.recorded', name: `${kind}.created`, sequence: 3 }]);
  });

  it('rejects a failed write or delete with the effect code and keeps the previous state', () => {
    const cases: Array<[ReturnType<typeof created>, { type: string }, string]> = [
      [initial(machine), create, 'none'],
      [deleted(), create, 'deleted'],
      [created(), update, 'active'],
      [created(), del, 'active'],
    ];
    for (const [from, command, back] of cases) {
      const [waiting] = step(machine, from, command);
      const [next, signals] = step(machine, waiting, fail(pendingOf(waiting), 'nix-instantiate --parse failed'));
      expect(next.value).toBe(back);
      expect(next.context).toEqual(from.context);
      expect(signals).toMatchObject([{ type: 'command.rejected', code: 'nix_failed', message: 'nix-instantiate --parse failed' }]);
    }
  });

  it(`emits its signals to actor.on in order and replays to the same ${kind}`, () => {
    const actor = live(machine);
    for (const command of [create, update, del, create]) {
      actor.send(command);
      actor.send(succeed(pendingOf(actor.snapshot())));
    }
    expect(actor.signals.filter((s) => s.type === 'fact.recorded').map((s) => (s as { name: string }).name)).toEqual([
      `${kind}.created`,
      `${kind}.updated`,
      `${kind}.deleted`,
      `${kind}.created`,
    ]);
    expect(actor.snapshot().value).toBe('active');
    expectReplayEquivalent(machine, actor.snapshot(), actor.signals);
  });

  const commandTypes = [`${kind}.create`, `${kind}.update`, `${kind}.delete`];
  const bodies = fc.constantFrom(body, otherBody);
  contract({
    machine,
    states: ['none', 'writing', 'active', 'updating', 'deleting', 'deleted'],
    pending: ['writing', 'updating', 'deleting'],
    transient: ['writing', 'updating', 'deleting'],
    commandTypes,
    samples: [
      create,
      update,
      del,
      { type: `${kind}.created`, name: 'web', [kind]: body, file: `${dir}/web.nix` },
      { type: `${kind}.updated`, name: 'web', [kind]: body, file: `${dir}/web.nix` },
      { type: `${kind}.deleted`, name: 'web' },
    ],
    accepts: {
      none: [...commandTypes, `${kind}.created`],
      writing: [`${kind}.created`],
      active: [...commandTypes, `${kind}.updated`, `${kind}.deleted`],
      updating: [`${kind}.updated`],
      deleting: [`${kind}.deleted`],
      deleted: [...commandTypes, `${kind}.created`],
    },
    abstract: (s) => `${String(s.value)}|${Math.min(ctx(s).incarnation, 1)}|${JSON.stringify(ctx(s).pending_effect)}`,
    commands: fc.oneof(
      bodies.map((b) => ({ type: `${kind}.create`, name: 'web', [kind]: b })),
      bodies.map((b) => ({ type: `${kind}.update`, name: 'web', [kind]: b })),
      fc.constant(del),
    ),
  });
}
