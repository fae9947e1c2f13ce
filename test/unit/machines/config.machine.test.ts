import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { configMachine, type ConfigContext, type EffectRequest } from '../../../machines/index.js';
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
const hostFile = (name: string) => `hosts/${name}/configuration.nix`;

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
  it('records config.created at once and then schedules config.write', () => {
    const [next, signals] = step(configMachine, initial(configMachine), create);
    expect(next.value).toBe('created');
    expect(ctx(next)).toMatchObject({
      version: 1,
      pending_effect: null,
      name: 'host',
      configuration,
      file: 'hosts/host/configuration.nix',
      last_generation: 0,
    });
    expect(signals).toEqual([
      {
        type: 'fact.recorded',
        name: 'config.created',
        sequence: 1,
        data: { name: 'host', configuration, file: 'hosts/host/configuration.nix' },
      },
      { type: 'effect.scheduled', effect: { kind: 'config.write', name: 'host', configuration } },
    ]);
  });

  it('leaves the outcome of a scheduled write unhandled: nothing waits for it', () => {
    const write: EffectRequest = { kind: 'config.write', name: 'host', configuration };
    for (const from of [initial(configMachine), created(), done(created(), activate('switch'))]) {
      for (const outcome of [succeed(write), fail(write)]) {
        expect(from.can(outcome as never)).toBe(false);
        const [next, signals] = step(configMachine, from, outcome);
        expect(next.value).toBe(from.value);
        expect(next.context).toEqual(from.context);
        expect(signals).toEqual([]);
      }
    }
    // Nor does an activation in flight take a write's outcome for its own.
    const [activating] = step(configMachine, created(), activate('switch'));
    expect(activating.can(succeed(write) as never)).toBe(false);
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

  it('updates the configuration at once, schedules the rewrite and keeps the resting state', () => {
    for (const from of [created(), done(created(), activate('switch')), done(created(), activate('boot')), done(created(), activate('test'))]) {
      const [next, signals] = step(configMachine, from, update);
      expect(next.value).toBe(from.value);
      expect(ctx(next)).toEqual({ ...ctx(from), version: ctx(from).version + 1, configuration: update.configuration });
      expect(signals).toEqual([
        {
          type: 'fact.recorded',
          name: 'config.updated',
          sequence: ctx(from).version + 1,
          data: { name: 'host', configuration: update.configuration, file: 'hosts/host/configuration.nix' },
        },
        { type: 'effect.scheduled', effect: { kind: 'config.write', name: 'host', configuration: update.configuration } },
      ]);
    }
  });

  it('takes no update while an activation or a rollback is in flight', () => {
    const [activating] = step(configMachine, created(), activate('test'));
    const [rolling] = step(configMachine, done(created(), activate('switch'), activate('switch')), rollback());
    for (const waiting of [activating, rolling]) {
      const [next, signals] = step(configMachine, waiting, update);
      expect(next.value).toBe(waiting.value);
      expect(next.context).toEqual(waiting.context);
      expect(signals).toEqual([]);
    }
  });

  it('requests activation after the write it activates was scheduled, still effect-first', () => {
    const actor = live(configMachine);
    actor.send(create);
    const signals = actor.send(activate('switch'));
    expect(actor.snapshot().value).toBe('activating');
    expect(signals).toEqual([
      { type: 'effect.requested', effect: { kind: 'config.activate', name: 'host', activation_type: 'switch', generation: 1 } },
    ]);
    expect(actor.signals.map((s) => s.type)).toEqual(['fact.recorded', 'effect.scheduled', 'effect.requested']);
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
      if (ctx(actor.snapshot()).pending_effect) actor.send(succeed(pendingOf(actor.snapshot())));
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
    expect(actor.signals.filter((s) => s.type === 'effect.scheduled')).toHaveLength(2);
    expect(actor.snapshot().value).toBe('activated');
    expect(ctx(actor.snapshot()).current_generation).toBe(1);
    expect(actor.errors).toEqual([]);
    expectReplayEquivalent(configMachine, actor.snapshot(), actor.signals);
  });

  it('goes through the pure steps the same way as the actor', () => {
    const commands = [create, activate('switch'), activate('switch'), rollback()];
    const actor = live(configMachine);
    let snapshot = initial(configMachine);
    const pure: string[] = [];
    for (const c of commands) {
      actor.send(c);
      let signals;
      [snapshot, signals] = run(configMachine, [c], snapshot);
      pure.push(...signals.map((s) => s.type));
      if (!ctx(snapshot).pending_effect) continue;
      const outcome = succeed(pendingOf(snapshot));
      actor.send(outcome);
      [snapshot, signals] = run(configMachine, [outcome], snapshot);
      pure.push(...signals.map((s) => s.type));
    }
    expect(actor.signals.map((s) => s.type)).toEqual(pure);
    expect(actor.snapshot().value).toEqual(snapshot.value);
    expect(actor.snapshot().context).toEqual(snapshot.context);
  });

  const resting = ['config.create', 'config.update', 'config.activate', 'config.updated', 'config.activated', 'config.activation_failed'];
  const spec: MachineSpec = {
    machine: configMachine,
    states: ['none', 'created', 'activating', 'activated', 'boot_ready', 'testing', 'rolling_back'],
    pending: ['activating', 'rolling_back'],
    transient: ['activating', 'rolling_back'],
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
      created: resting,
      activated: [...resting, 'config.rollback', 'config.rolled_back'],
      boot_ready: resting,
      testing: resting,
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
    workspace: {
      kinds: ['config.write'],
      render: (files, effect) => {
        if (effect.kind === 'config.write') files.set(hostFile(effect.name), effect.configuration);
      },
      expected: (c) => (c.file === null ? {} : { [c.file as string]: c.configuration }),
      // Activation and rollback run after the scheduled writes: the host file is there.
      requires: (effect) => ('name' in effect ? hostFile(effect.name) : undefined),
    },
  };
  contract(spec);
});
