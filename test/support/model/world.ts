/**
 * The world the model runs in: the workspace fixtures the command samples point at, and
 * the outcome each effect has there. The model resolves an aggregate's effects with
 * {@link outcomeOf} (pure: decided by the effect and the aggregate's context), and the real
 * offline service, in a workspace prepared by {@link prepareWorkspace}, produces the same
 * outcome:
 *
 * - a flake input URL is `ok` (a local flake), `missing` (nothing there: nix cannot lock
 *   it) or `outside` (outside the workspace: refused at intake, never sent). A flake is healthy
 *   while none of its inputs is missing; update, check, add_input and remove_input relock or
 *   evaluate it, so they fail (`nix_failed`) on an unhealthy flake — remove_input succeeds
 *   when it removes the last missing input. flake.create does not lock, so it succeeds with
 *   a missing input and fails (`nix_failed`, before any process runs) with an input named `self`;
 * - a package whose flake_ref ends in `/ok` builds (a `/bin/sh` derivation), one ending in
 *   `/bad` fails (its builder exits 1); cache copies to the configured file cache, and fails
 *   (`nix_failed`) for the broken cache (inside the workspace, made for another store dir);
 * - config activation and rollback record `executed: false` on a host that is not NixOS
 *   (`host: 'plain'`);
 * - module, overlay and config files are scheduled work: they never change a reply.
 *
 * On a stand-in NixOS host (`host: 'nixos'`: a service started with a marker file of its own
 * and the fake nixos-rebuild, see `NixosHost` in harness.ts) activations and rollbacks run
 * `nixos-rebuild` and are recorded with `executed: true`; the world may also make it fail
 * ({@link hostFailure}, exit {@link HOST_FAILURE_EXIT}). Which of the two happens is the
 * path's choice (the graph offers both), and the runner tells the fake before the command
 * goes out. Only rollbacks to the generation just before the current one are offered there:
 * any other target runs `nix-env --switch-generation` on this machine's real system profile
 * ({@link hostRunsNixEnv}).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EffectFailed, EffectOutcome, EffectRequest } from '../../../machines/index.js';

/** The URLs and references the command samples use. */
export interface World {
  /** Absolute workspace directory ('' for the pure model). */
  workspace: string;
  urls: { ok: string; missing: string; outside: string };
  /** Cache URL that package.cache uses without `cache_url`. */
  defaultCache: string;
  /** A `file://` cache inside the workspace that nix refuses (its nix-cache-info names another store). */
  brokenCache: string;
  /**
   * `plain`: not NixOS, activations and rollbacks are recorded with `executed: false`.
   * `nixos`: a stand-in NixOS host; they run the fake nixos-rebuild, which succeeds or fails.
   */
  host: 'plain' | 'nixos';
}

/** What the fake nixos-rebuild exits with when the world makes it fail. */
export const HOST_FAILURE_EXIT = 3;

export const ATTRIBUTE = 'packages.x86_64-linux.default';

/** A world for the pure model (graph walks): same categories, placeholder paths. */
export function pureWorld(host: World['host'] = 'plain'): World {
  return {
    workspace: '',
    urls: { ok: 'path:/model/deps/ok', missing: 'path:/model/deps/missing', outside: 'path:/etc' },
    defaultCache: 'file:///model/.binary-cache',
    brokenCache: 'file:///model/broken-cache',
    host,
  };
}

// `scope` makes every fixture's derivation its own: nix serialises builds of one derivation
// (a second build of a failing one waits for the first), which would couple the aggregates.
const fixtureFlake = (script: string, scope: string): string => `{
  description = "model-test fixture";
  outputs = { self }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "model-fixture";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" ${JSON.stringify(script)} ];
      scope = ${JSON.stringify(scope)};
    };
  };
}
`;

function writeFile(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

/** Writes the shared fixtures into the service's workspace; returns the world there. */
export function prepareWorkspace(workspace: string, defaultCache: string, host: World['host'] = 'plain'): World {
  writeFile(join(workspace, 'deps/ok/flake.nix'), '{\n  description = "a local dependency";\n  outputs = { self }: { };\n}\n');
  writeFile(join(workspace, 'broken-cache/nix-cache-info'), 'StoreDir: /elsewhere/store\n');
  return {
    workspace,
    urls: { ok: `path:${workspace}/deps/ok`, missing: `path:${workspace}/deps/missing`, outside: 'path:/etc' },
    defaultCache,
    brokenCache: `file://${workspace}/broken-cache`,
    host,
  };
}

/**
 * The package fixtures of one scope: `path:fx/<scope>/ok` builds, `path:fx/<scope>/bad`
 * fails. A fresh scope gives fresh package aggregates (the ID is the flake_ref#attribute).
 */
export function packageFixtures(world: World, scope: string): { ok: string; bad: string } {
  if (world.workspace !== '') {
    writeFile(join(world.workspace, 'fx', scope, 'ok/flake.nix'), fixtureFlake('echo built > $out', `${world.workspace}:${scope}`));
    writeFile(
      join(world.workspace, 'fx', scope, 'bad/flake.nix'),
      fixtureFlake('echo "error: the model says this build fails" >&2; exit 1', `${world.workspace}:${scope}`),
    );
  }
  return { ok: `path:fx/${scope}/ok`, bad: `path:fx/${scope}/bad` };
}

const nixFailed = (kind: EffectRequest['kind'], message: string): EffectOutcome => ({
  type: 'effect.failed',
  kind,
  code: 'nix_failed',
  message: `model: ${message}`,
  exit_code: 1,
  log_tail: [`error: ${message}`],
});

const forbidden = (kind: EffectRequest['kind'], message: string): EffectOutcome => ({
  type: 'effect.failed',
  kind,
  code: 'forbidden',
  message: `model: ${message}`,
});

const ok = (kind: EffectRequest['kind'], result: Record<string, unknown>): EffectOutcome => ({ type: 'effect.succeeded', kind, result });

const lockEntry = (url: string) => ({ url, nar_hash: 'sha256-model' });

/** The inputs of a flake context (name -> url). */
function inputsOf(context: Record<string, unknown>): Record<string, string> {
  const inputs = (context['inputs'] ?? {}) as Record<string, { url: string }>;
  return Object.fromEntries(Object.entries(inputs).map(([n, i]) => [n, i.url]));
}

/** The outcome of an awaited effect in this world, given the requesting aggregate's context. */
export function outcomeOf(world: World, effect: EffectRequest, context: Record<string, unknown>): EffectOutcome {
  const healthy = (inputs: Record<string, string>) => !Object.values(inputs).includes(world.urls.missing);
  switch (effect.kind) {
    case 'flake.write':
      if (Object.values(effect.inputs).includes(world.urls.outside))
        return forbidden(effect.kind, 'an input URL points outside the workspace');
      if (Object.hasOwn(effect.inputs, 'self')) return nixFailed(effect.kind, "the input name 'self' cannot be used");
      return ok(effect.kind, { files: [`${effect.path}/flake.nix`] });
    case 'flake.add_input': {
      if (effect.url === world.urls.outside) return forbidden(effect.kind, 'the input URL points outside the workspace');
      const after = { ...inputsOf(context), [effect.name]: effect.url };
      if (!healthy(after)) return nixFailed(effect.kind, 'nix flake lock cannot find a missing input');
      return ok(effect.kind, { locked: lockEntry(effect.url) });
    }
    case 'flake.remove_input': {
      const after = inputsOf(context);
      delete after[effect.name];
      return healthy(after) ? ok(effect.kind, {}) : nixFailed(effect.kind, 'nix flake lock cannot find a missing input');
    }
    case 'flake.update': {
      const inputs = inputsOf(context);
      if (!healthy(inputs)) return nixFailed(effect.kind, 'nix flake update cannot find a missing input');
      return ok(effect.kind, { locked: Object.fromEntries(Object.entries(inputs).map(([n, url]) => [n, lockEntry(url)])) });
    }
    case 'flake.check':
      return healthy(inputsOf(context))
        ? ok(effect.kind, { duration_ms: 0 })
        : nixFailed(effect.kind, 'nix flake check cannot find a missing input');
    case 'package.build':
      if (effect.flake_ref.endsWith('/bad')) return { ...(nixFailed(effect.kind, 'the builder exited 1') as EffectFailed), duration_ms: 0 };
      return ok(effect.kind, {
        store_paths: { out: '/nix/store/00000000000000000000000000000000-model-fixture' },
        drv_path: '/nix/store/00000000000000000000000000000000-model-fixture.drv',
        duration_ms: 0,
      });
    case 'package.cache':
      if (effect.cache_url === world.brokenCache) return nixFailed(effect.kind, 'the binary cache is for another store');
      return ok(effect.kind, { cache_url: effect.cache_url ?? world.defaultCache, paths: effect.store_paths });
    case 'config.activate':
    case 'config.rollback':
      if (world.host === 'nixos') return ok(effect.kind, { executed: true });
      return ok(effect.kind, { executed: false, reason: 'this host is not NixOS' });
    case 'module.write':
    case 'module.delete':
    case 'overlay.write':
    case 'overlay.delete':
    case 'config.write':
      throw new Error(`${effect.kind} is scheduled work, never awaited: the machine must not request it`);
  }
}

/** The other outcome a NixOS host may give an activation or rollback: nixos-rebuild exits {@link HOST_FAILURE_EXIT}. */
export function hostFailure(world: World, effect: EffectRequest): EffectOutcome | undefined {
  if (world.host !== 'nixos' || (effect.kind !== 'config.activate' && effect.kind !== 'config.rollback')) return undefined;
  return { ...(nixFailed(effect.kind, 'nixos-rebuild failed on the model host') as EffectFailed), exit_code: HOST_FAILURE_EXIT };
}

/**
 * True for an effect that, on a NixOS host, would run more than nixos-rebuild: a rollback to
 * a generation other than the one before the current one runs `nix-env --profile
 * /nix/var/nix/profiles/system --switch-generation` and the profile's
 * `switch-to-configuration` — this machine's real system profile. Never sent there.
 */
export function hostRunsNixEnv(world: World, effect: EffectRequest | null | undefined): boolean {
  return world.host === 'nixos' && effect?.kind === 'config.rollback' && effect.to_generation !== effect.from_generation - 1;
}

/**
 * The arguments the NixOS host's nixos-rebuild is called with for an activation or rollback
 * (the fake records them), or undefined for any other effect or a plain host.
 */
export function rebuildArguments(world: World, effect: EffectRequest | undefined): string | undefined {
  if (world.host !== 'nixos' || effect === undefined) return undefined;
  if (effect.kind === 'config.activate') return `${effect.activation_type} --flake ${world.workspace}#${effect.name}`;
  if (effect.kind === 'config.rollback') return 'switch --rollback';
  return undefined;
}

/**
 * Fact fields whose values the world does not predict (real lock entries, store paths,
 * durations, nix's messages): compared by presence-agnostic shape only. Every other field
 * must equal the model's prediction, and no field may be missing or extra.
 */
export const UNPREDICTED: Readonly<Record<string, readonly string[]>> = {
  'flake.created': ['files'],
  'flake.input_added': ['locked'],
  'flake.checked': ['duration_ms'],
  'flake.update_failed': ['message', 'exit_code', 'log_tail'],
  'flake.check_failed': ['message', 'exit_code', 'log_tail'],
  'package.built': ['drv_path', 'duration_ms'],
  'package.build_failed': ['message', 'exit_code', 'log_tail', 'duration_ms'],
  'package.cached': ['paths'],
  'package.cache_failed': ['message', 'exit_code', 'log_tail'],
  'config.activated': ['reason'],
  'config.activation_failed': ['message', 'log_tail'],
  'config.rolled_back': ['reason'],
};

/**
 * Fields whose keys are predicted but not their values: `flake.updated.inputs` locks every
 * input of the flake, `package.built.store_paths` names the outputs.
 */
export const KEYS_ONLY: Readonly<Record<string, readonly string[]>> = {
  'flake.updated': ['inputs'],
  'package.built': ['store_paths'],
};

/** The comparable form of a fact's data: unpredicted fields dropped, keys-only fields reduced to their sorted keys. */
export function comparableFact(fact: string, data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const skip = UNPREDICTED[fact] ?? [];
  const keysOnly = KEYS_ONLY[fact] ?? [];
  for (const [k, v] of Object.entries(data)) {
    if (skip.includes(k) || v === undefined) continue;
    out[k] = keysOnly.includes(k) ? Object.keys(v as object).sort() : v;
  }
  return out;
}
