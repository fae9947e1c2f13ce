import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packageMachine, type PackageContext } from '../../../machines/index.js';
import {
  contract,
  expectReplayEquivalent,
  fail,
  factsOf,
  initial,
  live,
  pendingOf,
  replay,
  run,
  step,
  succeed,
  type MachineSpec,
} from './harness.js';

const FLAKE = 'path:./workspace/demo';
const ATTR = 'packages.x86_64-linux.default';
const build = { type: 'package.build', flake_ref: FLAKE, attribute: ATTR } as const;
const cache = { type: 'package.cache', flake_ref: FLAKE, attribute: ATTR } as const;
const outputs = {
  store_paths: { out: '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello', dev: '/nix/store/cccccccccccccccccccccccccccccccc-hello-dev' },
  drv_path: '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-hello.drv',
  duration_ms: 900,
};

const ctx = (s: { context: unknown }) => s.context as PackageContext;

/** A package built once, at version 2. */
function built() {
  const [building] = step(packageMachine, initial(packageMachine), build);
  return run(packageMachine, [succeed(pendingOf(building), outputs)], building)[0];
}

describe('package machine', () => {
  it('records build_started and requests the build in the same step', () => {
    const [next, signals] = step(packageMachine, initial(packageMachine), { ...build, output_path: 'result' });
    expect(next.value).toBe('building');
    const effect = { kind: 'package.build', flake_ref: FLAKE, attribute: ATTR, output_path: 'result' };
    expect(ctx(next)).toMatchObject({ version: 1, flake_ref: FLAKE, attribute: ATTR, output_path: 'result', pending_effect: effect });
    expect(signals).toEqual([
      {
        type: 'fact.recorded',
        name: 'package.build_started',
        sequence: 1,
        data: { flake_ref: FLAKE, attribute: ATTR, output_path: 'result' },
      },
      { type: 'effect.requested', effect },
    ]);
  });

  it('joins a build request while building', () => {
    const [building] = step(packageMachine, initial(packageMachine), build);
    const [next, signals] = step(packageMachine, building, build);
    expect(next.value).toBe('building');
    expect(next.context).toEqual(building.context);
    expect(signals).toEqual([{ type: 'command.joined' }]);
  });

  it('records built with its store paths, drv path and duration', () => {
    const [building] = step(packageMachine, initial(packageMachine), build);
    const [next, signals] = step(packageMachine, building, succeed(pendingOf(building), outputs));
    expect(next.value).toBe('built');
    expect(ctx(next)).toMatchObject({
      version: 2,
      pending_effect: null,
      store_paths: outputs.store_paths,
      drv_path: outputs.drv_path,
      last_duration_ms: 900,
      builds: 1,
      failures: 0,
    });
    expect(signals).toEqual([{ type: 'fact.recorded', name: 'package.built', sequence: 2, data: outputs }]);
  });

  it('records build_failed with the exit code, log tail and duration', () => {
    const [building] = step(packageMachine, initial(packageMachine), build);
    const [next, signals] = step(packageMachine, building, {
      type: 'effect.failed',
      kind: 'package.build',
      code: 'nix_failed',
      message: 'builder failed',
      exit_code: 100,
      log_tail: ['line 1', 'line 2'],
      duration_ms: 50,
    });
    expect(next.value).toBe('failed');
    expect(ctx(next)).toMatchObject({ failures: 1, builds: 0, last_duration_ms: 50, pending_effect: null });
    expect(signals).toEqual([
      {
        type: 'fact.recorded',
        name: 'package.build_failed',
        sequence: 2,
        data: { message: 'builder failed', exit_code: 100, log_tail: ['line 1', 'line 2'], duration_ms: 50 },
      },
    ]);
  });

  it('rebuilds from built, failed and cached', () => {
    const fromBuilt = built();
    const [failedBuilding] = step(packageMachine, fromBuilt, build);
    const [failed] = step(packageMachine, failedBuilding, fail(pendingOf(failedBuilding)));
    const [caching] = step(packageMachine, fromBuilt, cache);
    const [cached] = step(packageMachine, caching, succeed(pendingOf(caching)));
    for (const s of [fromBuilt, failed, cached]) {
      const [next, signals] = step(packageMachine, s, build);
      expect(next.value).toBe('building');
      expect(signals.map((x) => x.type)).toEqual(['fact.recorded', 'effect.requested']);
    }
  });

  it('rejects cache on a package that was never built with not_found', () => {
    const [next, signals] = step(packageMachine, initial(packageMachine), cache);
    expect(next.value).toBe('none');
    expect(signals).toMatchObject([{ type: 'command.rejected', code: 'not_found' }]);
    expect((signals[0] as { message: string }).message).toBe(
      `package ${FLAKE}#${ATTR} has not been built; build it with package.build first`,
    );
  });

  it('copies the outputs to the cache named by the command and records cached', () => {
    const [caching, requested] = step(packageMachine, built(), { ...cache, cache_url: 'file:///tmp/cache' });
    expect(caching.value).toBe('caching');
    const effect = {
      kind: 'package.cache',
      flake_ref: FLAKE,
      attribute: ATTR,
      store_paths: Object.values(outputs.store_paths),
      cache_url: 'file:///tmp/cache',
    };
    expect(requested).toEqual([{ type: 'effect.requested', effect }]);
    const [next, signals] = step(packageMachine, caching, succeed(pendingOf(caching)));
    expect(next.value).toBe('cached');
    expect(ctx(next)).toMatchObject({ cache_url: 'file:///tmp/cache', cached_paths: effect.store_paths, version: 3 });
    expect(signals).toEqual([
      { type: 'fact.recorded', name: 'package.cached', sequence: 3, data: { cache_url: 'file:///tmp/cache', paths: effect.store_paths } },
    ]);
  });

  it('records cache_failed and returns to built when the copy fails', () => {
    const [caching] = step(packageMachine, built(), { ...cache, cache_url: 'file:///tmp/cache' });
    const [next, signals] = step(packageMachine, caching, fail(pendingOf(caching), 'cannot write cache'));
    expect(next.value).toBe('built');
    expect(ctx(next).pending_effect).toBeNull();
    expect(signals).toEqual([
      {
        type: 'fact.recorded',
        name: 'package.cache_failed',
        sequence: 3,
        data: { message: 'cannot write cache', exit_code: 1, log_tail: ['error: boom'], cache_url: 'file:///tmp/cache' },
      },
    ]);
  });

  it('caches again from cached and leaves the default cache to the host', () => {
    const [caching] = step(packageMachine, built(), cache);
    const [cached] = step(packageMachine, caching, succeed(pendingOf(caching)));
    const [again, signals] = step(packageMachine, cached, cache);
    expect(again.value).toBe('caching');
    expect(signals).toMatchObject([{ type: 'effect.requested', effect: { kind: 'package.cache' } }]);
    expect('cache_url' in pendingOf(again)).toBe(false);
  });

  it('rebuilds a replayed building package with its build still pending', () => {
    const actor = live(packageMachine);
    actor.send(build);
    const rebuilt = replay(packageMachine, factsOf(actor.signals));
    expect(rebuilt.value).toBe('building');
    expect(ctx(rebuilt).pending_effect).toEqual({ kind: 'package.build', flake_ref: FLAKE, attribute: ATTR });
    expectReplayEquivalent(packageMachine, actor.snapshot(), actor.signals);
  });

  it('emits its signals to actor.on in order and replays to the same package', () => {
    const actor = live(packageMachine);
    actor.send(build);
    actor.send(build);
    actor.send(succeed(pendingOf(actor.snapshot()), outputs));
    actor.send(cache);
    actor.send(succeed(pendingOf(actor.snapshot())));
    expect(actor.signals.map((s) => s.type)).toEqual([
      'fact.recorded',
      'effect.requested',
      'command.joined',
      'fact.recorded',
      'effect.requested',
      'fact.recorded',
    ]);
    expect(actor.snapshot().value).toBe('cached');
    expectReplayEquivalent(packageMachine, actor.snapshot(), actor.signals);
  });

  const spec: MachineSpec = {
    machine: packageMachine,
    states: ['none', 'building', 'built', 'failed', 'caching', 'cached'],
    pending: ['building', 'caching'],
    transient: ['caching'],
    commandTypes: ['package.build', 'package.cache'],
    samples: [
      build,
      cache,
      { type: 'package.build_started', flake_ref: FLAKE, attribute: ATTR },
      { type: 'package.built', ...outputs },
      { type: 'package.build_failed', message: 'x' },
      { type: 'package.cached', cache_url: 'file:///c', paths: [] },
      { type: 'package.cache_failed', message: 'x' },
    ],
    accepts: {
      none: ['package.build', 'package.cache', 'package.build_started'],
      building: ['package.build', 'package.built', 'package.build_failed'],
      built: ['package.build', 'package.cache', 'package.build_started', 'package.cached', 'package.cache_failed'],
      failed: ['package.build', 'package.build_started'],
      caching: ['package.cached', 'package.cache_failed'],
      cached: ['package.build', 'package.cache', 'package.build_started', 'package.cached', 'package.cache_failed'],
    },
    abstract: (s) => `${String(s.value)}|${ctx(s).pending_effect?.kind ?? ''}`,
    commands: fc.oneof(
      fc.record({
        type: fc.constant('package.build'),
        flake_ref: fc.constant(FLAKE),
        attribute: fc.constant(ATTR),
        output_path: fc.option(fc.constant('result'), { nil: undefined }),
      }).map((e) => (e.output_path === undefined ? { type: e.type, flake_ref: e.flake_ref, attribute: e.attribute } : e)),
      fc.constantFrom(cache, { ...cache, cache_url: 'file:///tmp/c' }),
    ),
  };
  contract(spec);
});
