/**
 * A flake directory written again from the flake's history (SPEC §9: workspaces are per
 * instance). When an effect needs a local flake this instance's workspace lacks — a build of a
 * flake created through another instance, or a flake effect on an instance that just took the
 * flake over — the flake is materialised from its stored events: rendered from its template,
 * description and first inputs (what `flake.create` wrote), then every later input edit applied
 * with the same editor, then relocked. Locking is offline for `path:` inputs inside the
 * workspace; inputs that need the network (`github:`, `git+https:`) cannot be locked without
 * it, and the effect then fails with nix_failed as it would on any host without network.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { localFlakeRef, workspaceRelative } from './confine.js';
import { confined, runContext, type EffectContext, type EffectEnv } from './effectEnv.js';
import { forbidden } from './failure.js';
import { declaredInputs, parseFlake } from './flakeSyntax.js';
import { inputUrl, writeFlake } from './flakeEffects.js';
import { checkFlakeRef } from './guards.js';
import { addInput, removeInput, type InputSpec } from './inputsEditor.js';

/** One step of a flake's history, as its stored events tell it, oldest first. */
export type FlakeHistoryStep =
  | { type: 'created'; path: string; description: string; template: string; inputs: Record<string, string> }
  | { type: 'input_added'; name: string; url: string; follows?: Record<string, string>; flake?: boolean }
  | { type: 'input_removed'; name: string };

/** The history of the flake at a workspace-relative path (undefined: no flake aggregate there). */
export type FlakeSource = (path: string) => Promise<FlakeHistoryStep[] | undefined>;

/** What {@link materializeFlake} did. */
export interface MaterializedFlake {
  /** The workspace-relative flake directory the effect needs, if it needs one. */
  path?: string;
  /** True when the directory was missing and has been written from the history. */
  written: boolean;
  /** Why it was not written although missing (no history, or the history has no creation). */
  reason?: string;
}

/** The local flake directory (workspace-relative) a flake reference names, when it names one in the workspace. */
export function flakeDirectoryOfRef(env: EffectEnv, flakeRef: string): string | undefined {
  const { resolved } = checkFlakeRef(env.policy, 'flake_ref', flakeRef, { build: true });
  return resolved?.directory === undefined ? undefined : workspaceRelative(env.workspace, resolved.directory);
}

/**
 * Materialise the flake at workspace-relative `path` (an effect's `worksIn`) when it has no flake.nix here. Concurrent
 * calls for one directory share the work (`inFlight`). Throws what the writes and the lock
 * throw (an EffectError with a code), so the caller can report it.
 */
export async function materializeFlake(
  env: EffectEnv,
  path: string,
  source: FlakeSource,
  ctx: EffectContext,
  inFlight: Map<string, Promise<MaterializedFlake>>,
): Promise<MaterializedFlake> {
  if (path === '.') return { written: false };
  const dir = confined(env, path, 'flake path');
  if (existsSync(join(dir, 'flake.nix'))) return { path, written: false };
  let running = inFlight.get(dir);
  if (!running) {
    running = writeFromHistory(env, path, dir, source, ctx).finally(() => inFlight.delete(dir));
    inFlight.set(dir, running);
  }
  return running;
}

async function writeFromHistory(env: EffectEnv, path: string, dir: string, source: FlakeSource, ctx: EffectContext): Promise<MaterializedFlake> {
  const history = await source(path);
  const created = history?.[0];
  if (!history || created?.type !== 'created') {
    return { path, written: false, reason: history ? 'its history does not start with its creation' : 'no flake aggregate has this path' };
  }
  // What flake.create wrote (template, description, first inputs; git init + add) …
  await writeFlake(env, { path: created.path, description: created.description, template: created.template, inputs: created.inputs });
  const rest = history.slice(1);
  await env.locks.exclusive(dir, async () => {
    const flakeFile = join(dir, 'flake.nix');
    // … then every input edit since, with the editor the live effects use.
    let text = await readFile(flakeFile, 'utf8');
    for (const step of rest) {
      if (step.type === 'input_added') {
        const spec: InputSpec = { name: step.name, url: inputUrl(env, dir, step.url) };
        if (step.follows !== undefined) spec.follows = step.follows;
        if (step.flake !== undefined) spec.flake = step.flake;
        text = addInput(text, spec);
      } else if (step.type === 'input_removed') {
        text = removeInput(text, step.name) ?? text;
      }
    }
    if (rest.length > 0) {
      await writeFile(flakeFile, text);
      await env.cli.parseCheck(flakeFile, `${path}/flake.nix`);
    }
    if (declaredInputs(parseFlake(text)).length === 0) return;
    // Relock: path: inputs lock offline; network inputs need the network (see the file's head).
    const local = localFlakeRef(dir);
    if (!local.ok) throw forbidden(`${local.reason}.`);
    await env.cli.nix(['flake', 'lock'], [local.ref], {
      ...runContext(ctx),
      cwd: local.cwd,
      what: `nix flake lock ${path} (materialised from its events)`,
      advice: 'inputs from the network cannot be locked offline; give this instance network access or use path: inputs',
    });
  });
  return { path, written: true };
}
