import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flakeMachine, type FlakeContext } from '../../../machines/index.js';
import {
  ID,
  contract,
  expectReplayEquivalent,
  fail,
  initial,
  live,
  pendingOf,
  run,
  step,
  succeed,
  type MachineSpec,
} from './harness.js';

const create = {
  type: 'flake.create',
  path: 'demo',
  description: 'A demo flake',
  template: 'minimal',
  inputs: { nixpkgs: 'github:NixOS/nixpkgs/nixos-unstable' },
} as const;
const addUtils = { type: 'flake.add_input', name: 'utils', url: 'github:numtide/flake-utils' } as const;

/** A created flake with input `nixpkgs`, at version 1. */
function active() {
  const [creating] = step(flakeMachine, initial(flakeMachine), create);
  return run(flakeMachine, [succeed(pendingOf(creating))], creating)[0];
}

const ctx = (s: { context: unknown }) => s.context as FlakeContext;

describe('flake machine', () => {
  it('requests flake.write when a flake is created', () => {
    const [next, signals] = step(flakeMachine, initial(flakeMachine), create);
    expect(next.value).toBe('creating');
    const effect = {
      kind: 'flake.write',
      path: 'demo',
      description: 'A demo flake',
      template: 'minimal',
      inputs: { nixpkgs: 'github:NixOS/nixpkgs/nixos-unstable' },
    };
    expect(ctx(next).pending_effect).toEqual(effect);
    expect(ctx(next).version).toBe(0);
    expect(signals).toEqual([{ type: 'effect.requested', effect }]);
  });

  it('records flake.created when the write succeeds', () => {
    const [creating] = step(flakeMachine, initial(flakeMachine), create);
    const [next, signals] = step(flakeMachine, creating, succeed(pendingOf(creating), { files: ['flake.nix', '.gitignore'] }));
    expect(next.value).toBe('active');
    expect(ctx(next)).toMatchObject({
      aggregate_id: ID,
      version: 1,
      pending_effect: null,
      path: 'demo',
      template: 'minimal',
      inputs: { nixpkgs: { url: 'github:NixOS/nixpkgs/nixos-unstable' } },
    });
    expect(signals).toEqual([
      {
        type: 'fact.recorded',
        name: 'flake.created',
        sequence: 1,
        data: {
          path: 'demo',
          description: 'A demo flake',
          template: 'minimal',
          inputs: { nixpkgs: 'github:NixOS/nixpkgs/nixos-unstable' },
          files: ['flake.nix', '.gitignore'],
        },
      },
    ]);
    expect(Object.keys((signals[0] as { data: object }).data)).not.toContain('type');
  });

  it('takes the effective inputs from the write result when the template adds its own', () => {
    const [creating] = step(flakeMachine, initial(flakeMachine), { ...create, template: 'devshell', inputs: {} });
    const result = { files: ['flake.nix'], inputs: { nixpkgs: 'github:NixOS/nixpkgs', utils: 'github:numtide/flake-utils' } };
    const [next, signals] = step(flakeMachine, creating, succeed(pendingOf(creating), result));
    expect(Object.keys(ctx(next).inputs)).toEqual(['nixpkgs', 'utils']);
    expect(signals[0]).toMatchObject({ data: { inputs: result.inputs } });
  });

  it('rejects the create and returns to none when the write fails', () => {
    const [creating] = step(flakeMachine, initial(flakeMachine), create);
    const [next, signals] = step(flakeMachine, creating, {
      type: 'effect.failed',
      kind: 'flake.write',
      code: 'forbidden',
      message: "path '../x' escapes the workspace",
    });
    expect(next.value).toBe('none');
    expect(ctx(next).pending_effect).toBeNull();
    expect(ctx(next).version).toBe(0);
    expect(signals).toEqual([{ type: 'command.rejected', code: 'forbidden', message: "path '../x' escapes the workspace" }]);
  });

  it('rejects every command but create on a flake that does not exist with not_found', () => {
    for (const event of [
      { type: 'flake.update' },
      addUtils,
      { type: 'flake.remove_input', name: 'nixpkgs' },
      { type: 'flake.check' },
    ]) {
      const [next, signals] = step(flakeMachine, initial(flakeMachine), event);
      expect(next.value).toBe('none');
      expect(signals).toHaveLength(1);
      expect(signals[0]).toMatchObject({ type: 'command.rejected', code: 'not_found' });
      expect((signals[0] as { message: string }).message).toContain('create it with flake.create first');
    }
  });

  it('rejects create on an existing flake with already_exists', () => {
    const [next, signals] = step(flakeMachine, active(), create);
    expect(next.value).toBe('active');
    expect(signals).toMatchObject([{ type: 'command.rejected', code: 'already_exists' }]);
    expect((signals[0] as { message: string }).message).toContain("flake 'demo' already exists");
  });

  it('adds an input with its follows, flake flag and lock', () => {
    const [editing, requested] = step(flakeMachine, active(), {
      ...addUtils,
      follows: { nixpkgs: 'nixpkgs' },
      flake: true,
    });
    expect(editing.value).toBe('editing');
    expect(requested).toEqual([
      {
        type: 'effect.requested',
        effect: {
          kind: 'flake.add_input',
          path: 'demo',
          name: 'utils',
          url: 'github:numtide/flake-utils',
          follows: { nixpkgs: 'nixpkgs' },
          flake: true,
        },
      },
    ]);
    const lock = { url: 'github:numtide/flake-utils', rev: 'abc' };
    const [next, signals] = step(flakeMachine, editing, succeed(pendingOf(editing), { locked: lock }));
    expect(next.value).toBe('active');
    expect(ctx(next).inputs['utils']).toEqual({
      url: 'github:numtide/flake-utils',
      follows: { nixpkgs: 'nixpkgs' },
      flake: true,
      locked: lock,
    });
    expect(signals).toEqual([
      {
        type: 'fact.recorded',
        name: 'flake.input_added',
        sequence: 2,
        data: { name: 'utils', url: 'github:numtide/flake-utils', follows: { nixpkgs: 'nixpkgs' }, flake: true, locked: lock },
      },
    ]);
  });

  it('rejects add_input when the name already exists', () => {
    const before = active();
    const [next, signals] = step(flakeMachine, before, { type: 'flake.add_input', name: 'nixpkgs', url: 'github:x/y' });
    expect(next.value).toBe('active');
    expect(next.context).toEqual(before.context);
    expect(signals).toMatchObject([{ type: 'command.rejected', code: 'already_exists' }]);
    expect((signals[0] as { message: string }).message).toContain("input 'nixpkgs' already exists");
  });

  it('treats inherited object keys as unknown input names', () => {
    const [next, signals] = step(flakeMachine, active(), { type: 'flake.remove_input', name: 'constructor' });
    expect(next.value).toBe('active');
    expect(signals).toMatchObject([{ type: 'command.rejected', code: 'not_found' }]);
    const [editing] = step(flakeMachine, active(), { type: 'flake.add_input', name: 'toString', url: 'path:./x' });
    expect(editing.value).toBe('editing');
  });

  it('rejects remove_input of an unknown input with not_found naming the known inputs', () => {
    const [next, signals] = step(flakeMachine, active(), { type: 'flake.remove_input', name: 'utils' });
    expect(next.value).toBe('active');
    expect(signals).toMatchObject([{ type: 'command.rejected', code: 'not_found' }]);
    expect((signals[0] as { message: string }).message).toContain('known inputs: nixpkgs');
  });

  it('removes an input', () => {
    const [editing] = step(flakeMachine, active(), { type: 'flake.remove_input', name: 'nixpkgs' });
    expect(pendingOf(editing)).toEqual({ kind: 'flake.remove_input', path: 'demo', name: 'nixpkgs' });
    const [next, signals] = step(flakeMachine, editing, succeed(pendingOf(editing)));
    expect(next.value).toBe('active');
    expect(ctx(next).inputs).toEqual({});
    expect(signals).toEqual([{ type: 'fact.recorded', name: 'flake.input_removed', sequence: 2, data: { name: 'nixpkgs' } }]);
  });

  it('rejects a failed input edit with the effect code and keeps the flake as it was', () => {
    const before = active();
    const [editing] = step(flakeMachine, before, addUtils);
    const [next, signals] = step(flakeMachine, editing, fail(pendingOf(editing), 'cannot fetch utils'));
    expect(next.value).toBe('active');
    expect(next.context).toEqual(before.context);
    expect(signals).toEqual([
      {
        type: 'command.rejected',
        code: 'nix_failed',
        message: 'cannot fetch utils',
        details: { exit_code: 1, log_tail: ['error: boom'] },
      },
    ]);
  });

  it('rejects update when it names unknown inputs', () => {
    const [next, signals] = step(flakeMachine, active(), { type: 'flake.update', inputs: ['nixpkgs', 'ghost'] });
    expect(next.value).toBe('active');
    expect(signals).toMatchObject([{ type: 'command.rejected', code: 'not_found' }]);
    expect((signals[0] as { message: string }).message).toContain('ghost');
    expect((signals[0] as { message: string }).message).not.toContain('ghost, nixpkgs');
  });

  it('records the locks of an update', () => {
    const [updating, requested] = step(flakeMachine, active(), { type: 'flake.update', inputs: ['nixpkgs'] });
    expect(updating.value).toBe('updating');
    expect(requested).toEqual([{ type: 'effect.requested', effect: { kind: 'flake.update', path: 'demo', inputs: ['nixpkgs'] } }]);
    const lock = { url: 'github:NixOS/nixpkgs/nixos-unstable', rev: 'r1', nar_hash: 'sha256-x' };
    const [next, signals] = step(flakeMachine, updating, succeed(pendingOf(updating), { locked: { nixpkgs: lock } }));
    expect(next.value).toBe('active');
    expect(ctx(next).inputs['nixpkgs']).toEqual({ url: 'github:NixOS/nixpkgs/nixos-unstable', locked: lock });
    expect(ctx(next).last_update).toEqual({ ok: true, sequence: 2 });
    expect(signals).toEqual([{ type: 'fact.recorded', name: 'flake.updated', sequence: 2, data: { inputs: { nixpkgs: lock } } }]);
  });

  it('updates every input when none is named', () => {
    const [updating] = step(flakeMachine, active(), { type: 'flake.update' });
    expect(pendingOf(updating)).toEqual({ kind: 'flake.update', path: 'demo' });
  });

  it('records update_failed and returns to active when the update fails', () => {
    const [updating] = step(flakeMachine, active(), { type: 'flake.update' });
    const [next, signals] = step(flakeMachine, updating, fail(pendingOf(updating), 'unable to download'));
    expect(next.value).toBe('active');
    expect(ctx(next).last_update).toEqual({ ok: false, sequence: 2, message: 'unable to download', exit_code: 1 });
    expect(signals).toEqual([
      {
        type: 'fact.recorded',
        name: 'flake.update_failed',
        sequence: 2,
        data: { message: 'unable to download', exit_code: 1, log_tail: ['error: boom'] },
      },
    ]);
  });

  it('records checked and check_failed', () => {
    const [checking] = step(flakeMachine, active(), { type: 'flake.check' });
    expect(checking.value).toBe('checking');
    const [passed, ok] = step(flakeMachine, checking, succeed(pendingOf(checking), { duration_ms: 42 }));
    expect(passed.value).toBe('active');
    expect(ctx(passed).last_check).toEqual({ ok: true, sequence: 2, duration_ms: 42 });
    expect(ok).toEqual([{ type: 'fact.recorded', name: 'flake.checked', sequence: 2, data: { duration_ms: 42 } }]);
    const [failed, bad] = step(flakeMachine, checking, fail(pendingOf(checking), 'check failed'));
    expect(failed.value).toBe('active');
    expect(ctx(failed).last_check).toMatchObject({ ok: false, message: 'check failed' });
    expect(bad).toMatchObject([{ type: 'fact.recorded', name: 'flake.check_failed' }]);
  });

  it('records a malformed effect result as a failure instead of applying it', () => {
    const [updating] = step(flakeMachine, active(), { type: 'flake.update' });
    const [next, signals] = step(flakeMachine, updating, succeed(pendingOf(updating), { locked: 'nope' }));
    expect(next.value).toBe('active');
    expect(signals).toMatchObject([{ type: 'fact.recorded', name: 'flake.update_failed', data: { message: expect.stringContaining('schema') } }]);
    const [creating] = step(flakeMachine, initial(flakeMachine), create);
    const [none, rejected] = step(flakeMachine, creating, succeed(pendingOf(creating), {}));
    expect(none.value).toBe('none');
    expect(rejected).toMatchObject([{ type: 'command.rejected', code: 'internal' }]);
  });

  it('ignores an outcome for an effect it does not wait for', () => {
    const [checking] = step(flakeMachine, active(), { type: 'flake.check' });
    const [next, signals] = step(flakeMachine, checking, succeed({ kind: 'flake.update', path: 'demo' }));
    expect(next.value).toBe('checking');
    expect(next.context).toEqual(checking.context);
    expect(signals).toEqual([]);
  });

  it('emits its signals to actor.on in order and replays to the same flake', () => {
    const actor = live(flakeMachine);
    expect(actor.send(create)).toMatchObject([{ type: 'effect.requested' }]);
    expect(actor.send(succeed(pendingOf(actor.snapshot())))).toMatchObject([{ type: 'fact.recorded', sequence: 1 }]);
    actor.send(addUtils);
    actor.send(succeed(pendingOf(actor.snapshot())));
    actor.send({ type: 'flake.update' });
    actor.send(fail(pendingOf(actor.snapshot())));
    actor.send({ type: 'flake.check' });
    actor.send(succeed(pendingOf(actor.snapshot())));
    expect(actor.signals.map((s) => s.type)).toEqual([
      'effect.requested',
      'fact.recorded',
      'effect.requested',
      'fact.recorded',
      'effect.requested',
      'fact.recorded',
      'effect.requested',
      'fact.recorded',
    ]);
    expect(actor.snapshot().value).toBe('active');
    expectReplayEquivalent(flakeMachine, actor.snapshot(), actor.signals);
  });

  const names = fc.constantFrom('nixpkgs', 'utils', 'home');
  const spec: MachineSpec = {
    machine: flakeMachine,
    states: ['none', 'creating', 'active', 'editing', 'updating', 'checking'],
    pending: ['creating', 'editing', 'updating', 'checking'],
    transient: ['creating', 'editing', 'updating', 'checking'],
    commandTypes: ['flake.create', 'flake.update', 'flake.add_input', 'flake.remove_input', 'flake.check'],
    samples: [
      create,
      { type: 'flake.update' },
      addUtils,
      { type: 'flake.remove_input', name: 'nixpkgs' },
      { type: 'flake.check' },
      { type: 'flake.created', path: 'demo', description: '', template: 'minimal', inputs: {}, files: ['flake.nix'] },
      { type: 'flake.updated', inputs: {} },
      { type: 'flake.input_added', name: 'x', url: 'path:./x' },
      { type: 'flake.input_removed', name: 'x' },
      { type: 'flake.checked', duration_ms: 1 },
      { type: 'flake.update_failed', message: 'x' },
      { type: 'flake.check_failed', message: 'x' },
    ],
    accepts: {
      none: ['flake.create', 'flake.update', 'flake.add_input', 'flake.remove_input', 'flake.check', 'flake.created'],
      creating: ['flake.created'],
      active: [
        'flake.create',
        'flake.update',
        'flake.add_input',
        'flake.remove_input',
        'flake.check',
        'flake.updated',
        'flake.input_added',
        'flake.input_removed',
        'flake.checked',
        'flake.update_failed',
        'flake.check_failed',
      ],
      editing: ['flake.input_added', 'flake.input_removed'],
      updating: ['flake.updated', 'flake.update_failed'],
      checking: ['flake.checked', 'flake.check_failed'],
    },
    abstract: (s) =>
      `${String(s.value)}|${Object.keys(ctx(s).inputs).sort().join(',')}|${ctx(s).pending_effect?.kind ?? ''}`,
    commands: fc.oneof(
      fc.record({
        type: fc.constant('flake.create'),
        path: fc.constant('demo'),
        description: fc.string({ maxLength: 5 }),
        template: fc.constantFrom('minimal', 'devshell'),
        inputs: fc.dictionary(names, fc.constant('github:x/y'), { maxKeys: 2 }),
      }),
      fc.record({ type: fc.constant('flake.add_input'), name: names, url: fc.constant('path:./dep') }),
      fc.record({ type: fc.constant('flake.remove_input'), name: names }),
      fc.oneof(
        fc.constant({ type: 'flake.update' }),
        fc.record({ type: fc.constant('flake.update'), inputs: fc.array(names, { maxLength: 2 }) }),
      ),
      fc.constant({ type: 'flake.check' }),
    ),
  };
  contract(spec);
});
