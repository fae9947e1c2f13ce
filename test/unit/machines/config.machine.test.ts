import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { configMachine, type ConfigContext } from '../../../machines/index.js';
import {
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

type Snap = ReturnType<typeof initial>;

const configuration = {
  system: 'x86_64-linux',
  hostname: 'host',
  modules: ['web'],
  overlays: [],
  packages: ['hello'],
  specialisations: {},
};
const create = { type: 'config.create', name: 'host', configuration } as const;
const update = { type: 'config.update', name: 'host', configuration: { ...configuration, packages: [] } } as const;
const activate = (activation_type: 'switch' | 'boot' | 'test') => ({ type: 'config.activate', name: 'host', activation_type }) as const;
const rollback = (to_generation?: number) =>
  to_generation === undefined ? { type: 'config.rollback', name: 'host' } : { type: 'config.rollback', name: 'host', to_generation };

const ctx = (s: { context: unknown }) => s.context as ConfigContext;

/** Sends a command and, when it requests an effect, its successful outcome. */
function done(from: Snap, ...commands: object[]): Snap {
  let s = from;
  for (const c of commands) {
    [s] = step(configMachine, s, c as never);
    if (ctx(s).pending_effect) [s] = step(configMachine, s, succeed(pendingOf(s)));
  }
  return s;
}

const created = () => done(initial(configMachine), create);

describe('config machine', () => {
  it('writes the configuration and records config.created', () => {
    const [writing, requested] = step(configMachine, initial(configMachine), create);
    expect(writing.value).toBe('writing');
    expect(requested).toEqual([{ type: 'effect.requested', effect: { kind: 'config.write', name: 'host', configuration } }]);
    const [next, signals] = step(configMachine, writing, succeed(pendingOf(writing)));
    expect(next.value).toBe('created');
    expect(ctx(next)).toMatchObject({ version: 1, name: 'host', configuration, file: 'hosts/host/configuration.nix', last_generation: 0 });
    expect(signals).toEqual([
      {
        type: 'fact.recorded',
        name: 'config.created',
        sequence: 1,
        data: { name: 'host', configuration, file: 'hosts/host/configuration.nix' },
      },
    ]);
  });

  it('rejects update, activate and rollback of a configuration that does not exist with not_found', () => {
    for (const command of [update, activate('switch'), rollback()]) {
      const [next, signals] = step(configMachine, initial(configMachine), command);
      expect(next.value).toBe('none');
      expect(signals).toEqual([
        { type: 'command.rejected', code: 'not_found', message: "configuration 'host' does not exist; create it with config.create first" },
      ]);
    }
  });

  it('rejects create of an existing configuration with already_exists in every resting state', () => {
    for (const from of [created(), done(created(), activate('switch')), done(created(), activate('boot')), done(created(), activate('test'))]) {
      const [next, signals] = step(configMachine, from, create);
      expect(next.value).toBe(from.value);
      expect(signals).toMatchObject([{ type: 'command.rejected', code: 'already_exists' }]);
    }
  });

  it('activates with a switch as generation 1 and makes it current', () => {
    const [activating, requested] = step(configMachine, created(), activate('switch'));
    expect(activating.value).toBe('activating');
    expect(requested).toEqual([
      { type: 'effect.requested', effect: { kind: 'config.activate', name: 'host', activation_type: 'switch', generation: 1 } },
    ]);
    const [next, signals] = step(configMachine, activating, succeed(pendingOf(activating), { executed: false, reason: 'not NixOS' }));
    expect(next.value).toBe('activated');
    expect(ctx(next)).toMatchObject({
      current_generation: 1,
      last_generation: 1,
      generations: [{ generation: 1, activation_type: 'switch' }],
      pending_effect: null,
    });
    expect(signals).toEqual([
      {
        type: 'fact.recorded',
        name: 'config.activated',
        sequence: 2,
        data: { activation_type: 'switch', generation: 1, executed: false, reason: 'not NixOS' },
      },
    ]);
  });

  it('goes to boot_ready on boot and testing on test without changing the current generation', () => {
    const boot = done(created(), activate('boot'));
    expect(boot.value).toBe('boot_ready');
    expect(ctx(boot)).toMatchObject({ current_generation: null, last_generation: 1 });
    const test = done(boot, activate('test'));
    expect(test.value).toBe('testing');
    expect(ctx(test)).toMatchObject({ current_generation: null, last_generation: 2 });
    const switched = done(test, activate('switch'));
    expect(switched.value).toBe('activated');
    expect(ctx(switched)).toMatchObject({ current_generation: 3, last_generation: 3 });
    expect(done(switched, activate('test')).value).toBe('testing');
  });

  it('records activation_failed and returns to the previous resting state without using a generation', () => {
    for (const [from, state] of [
      [created(), 'created'],
      [done(created(), activate('boot')), 'boot_ready'],
      [done(created(), activate('test')), 'testing'],
      [done(created(), activate('switch')), 'activated'],
    ] as const) {
      const [activating] = step(configMachine, from, activate('switch'));
      const generation = ctx(from).last_generation + 1;
      const [next, signals] = step(configMachine, activating, fail(pendingOf(activating), 'switch-to-configuration failed'));
      expect(next.value).toBe(state);
      expect(ctx(next)).toEqual({ ...ctx(from), version: ctx(from).version + 1 });
      expect(signals).toEqual([
        {
          type: 'fact.recorded',
          name: 'config.activation_failed',
          sequence: ctx(from).version + 1,
          data: {
            activation_type: 'switch',
            generation,
            message: 'switch-to-configuration failed',
            exit_code: 1,
            log_tail: ['error: boom'],
          },
        },
      ]);
      const [retry] = step(configMachine, next, activate('switch'));
      expect(pendingOf(retry)).toMatchObject({ generation });
    }
  });

  it('updates the configuration and keeps the resting state', () => {
    for (const from of [created(), done(created(), activate('switch')), done(created(), activate('boot')), done(created(), activate('test'))]) {
      const [updating] = step(configMachine, from, update);
      expect(updating.value).toBe('updating');
      const [next, signals] = step(configMachine, updating, succeed(pendingOf(updating)));
      expect(next.value).toBe(from.value);
      expect(ctx(next).configuration).toEqual(update.configuration);
      expect(signals).toMatchObject([{ type: 'fact.recorded', name: 'config.updated' }]);
      const [failed, rejected] = step(configMachine, updating, fail(pendingOf(updating)));
      expect(failed.value).toBe(from.value);
      expect(failed.context).toEqual(from.context);
      expect(rejected).toMatchObject([{ type: 'command.rejected', code: 'nix_failed' }]);
    }
  });

  it('rolls back to the previous switch generation by default', () => {
    const three = done(created(), activate('switch'), activate('boot'), activate('switch'));
    expect(ctx(three).current_generation).toBe(3);
    const [rolling, requested] = step(configMachine, three, rollback());
    expect(rolling.value).toBe('rolling_back');
    expect(requested).toEqual([
      { type: 'effect.requested', effect: { kind: 'config.rollback', name: 'host', from_generation: 3, to_generation: 1 } },
    ]);
    const [next, signals] = step(configMachine, rolling, succeed(pendingOf(rolling), { executed: true }));
    expect(next.value).toBe('activated');
    expect(ctx(next)).toMatchObject({ current_generation: 1, last_generation: 3 });
    expect(signals).toEqual([
      { type: 'fact.recorded', name: 'config.rolled_back', sequence: 5, data: { from_generation: 3, to_generation: 1, executed: true } },
    ]);
    const [again] = step(configMachine, next, activate('switch'));
    expect(pendingOf(again)).toMatchObject({ generation: 4 });
  });

  it('rolls back to an explicit earlier generation, boot generations included', () => {
    const three = done(created(), activate('switch'), activate('boot'), activate('switch'));
    const [rolling] = step(configMachine, three, rollback(2));
    expect(pendingOf(rolling)).toMatchObject({ from_generation: 3, to_generation: 2 });
  });

  it('rejects a rollback to a generation that is not an earlier existing one with not_found listing the generations', () => {
    const two = done(created(), activate('switch'), activate('switch'));
    for (const to of [2, 5]) {
      const [next, signals] = step(configMachine, two, rollback(to));
      expect(next.value).toBe('activated');
      expect(next.context).toEqual(two.context);
      expect(signals).toMatchObject([{ type: 'command.rejected', code: 'not_found', details: { current_generation: 2, generations: [1, 2] } }]);
      expect((signals[0] as { message: string }).message).toContain(`generation ${to}`);
      expect((signals[0] as { message: string }).message).toContain('earlier generations: 1 (switch)');
    }
    const one = done(created(), activate('switch'));
    const [, none] = step(configMachine, one, rollback());
    expect((none[0] as { message: string }).message).toContain('there is none');
  });

  it('rejects a failed rollback with the effect code and stays activated', () => {
    const two = done(created(), activate('switch'), activate('switch'));
    const [rolling] = step(configMachine, two, rollback());
    const [next, signals] = step(configMachine, rolling, fail(pendingOf(rolling), 'no such generation on this host'));
    expect(next.value).toBe('activated');
    expect(next.context).toEqual(two.context);
    expect(signals).toMatchObject([{ type: 'command.rejected', code: 'nix_failed', message: 'no such generation on this host' }]);
  });

  it('emits its signals to actor.on in order and replays to the same configuration', () => {
    const actor = live(configMachine);
    for (const command of [create, activate('switch'), activate('test'), activate('switch'), rollback(), update]) {
      actor.send(command);
      actor.send(succeed(pendingOf(actor.snapshot())));
    }
    actor.send(activate('boot'));
    actor.send(fail(pendingOf(actor.snapshot())));
    expect(actor.signals.filter((s) => s.type === 'fact.recorded').map((s) => (s as { name: string }).name)).toEqual([
      'config.created',
      'config.activated',
      'config.activated',
      'config.activated',
      'config.rolled_back',
      'config.updated',
      'config.activation_failed',
    ]);
    expect(actor.snapshot().value).toBe('activated');
    expect(ctx(actor.snapshot()).current_generation).toBe(1);
    expectReplayEquivalent(configMachine, actor.snapshot(), actor.signals);
  });

  it('goes through the pure steps the same way as the actor', () => {
    const commands = [create, activate('switch'), activate('switch'), rollback()];
    const actor = live(configMachine);
    let snapshot = initial(configMachine);
    for (const c of commands) {
      actor.send(c);
      [snapshot] = run(configMachine, [c as never], snapshot);
      const outcome = succeed(pendingOf(snapshot));
      actor.send(outcome);
      [snapshot] = run(configMachine, [outcome], snapshot);
    }
    expect(actor.snapshot().value).toEqual(snapshot.value);
    expect(actor.snapshot().context).toEqual(snapshot.context);
  });

  const resting = ['config.create', 'config.update', 'config.activate', 'config.updated', 'config.activated', 'config.activation_failed'];
  const spec: MachineSpec = {
    machine: configMachine,
    states: ['none', 'writing', 'created', 'updating', 'activating', 'activated', 'boot_ready', 'testing', 'rolling_back'],
    pending: ['writing', 'updating', 'activating', 'rolling_back'],
    transient: ['writing', 'updating', 'activating', 'rolling_back'],
    commandTypes: ['config.create', 'config.update', 'config.activate', 'config.rollback'],
    samples: [
      create,
      update,
      activate('switch'),
      activate('boot'),
      activate('test'),
      rollback(),
      { type: 'config.created', name: 'host', configuration, file: 'hosts/host/configuration.nix' },
      { type: 'config.updated', name: 'host', configuration, file: 'hosts/host/configuration.nix' },
      { type: 'config.activated', activation_type: 'switch', generation: 1, executed: false },
      { type: 'config.activation_failed', activation_type: 'boot', generation: 1, message: 'x' },
      { type: 'config.rolled_back', from_generation: 2, to_generation: 1, executed: false },
    ],
    accepts: {
      none: ['config.create', 'config.update', 'config.activate', 'config.rollback', 'config.created'],
      writing: ['config.created'],
      created: resting,
      activated: [...resting, 'config.rollback', 'config.rolled_back'],
      boot_ready: resting,
      testing: resting,
      updating: ['config.updated'],
      activating: ['config.activated', 'config.activation_failed'],
      rolling_back: ['config.rolled_back'],
    },
    abstract: (s) => {
      const c = ctx(s);
      const earlier = c.generations.filter((g) => g.activation_type === 'switch' && g.generation < (c.current_generation ?? 0));
      const p = c.pending_effect;
      const activation = p?.kind === 'config.activate' ? p.activation_type : '';
      return `${String(s.value)}|${Math.min(earlier.length, 1)}|${c.last_activation_type}|${p?.kind ?? ''}|${activation}`;
    },
    commands: fc.oneof(
      fc.constantFrom(create, update, rollback(), rollback(1), rollback(2)),
      fc.constantFrom('switch', 'boot', 'test', 'switch').map((t) => activate(t as 'switch')),
    ),
  };
  contract(spec);
});
