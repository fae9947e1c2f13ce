/**
 * The results of the effects aggregates request (the `result` of `effect.succeeded`), one
 * zod schema per effect kind. Machines parse them before turning them into facts, so a
 * malformed result becomes a recorded failure instead of a corrupt aggregate.
 */
import { z } from 'zod';
import type { EffectKind } from './protocol.js';

/** One input's lock entry, as `nix flake metadata --json` reports it (snake_case). */
export const LockedInput = z.object({
  url: z.string(),
  locked_url: z.string().optional(),
  rev: z.string().optional(),
  nar_hash: z.string().optional(),
  last_modified: z.number().optional(),
});
export type LockedInput = z.output<typeof LockedInput>;

const WrittenFile = z.object({ file: z.string() });
const DeletedFile = z.object({ file: z.string().optional() });
const Activation = z.object({ executed: z.boolean(), reason: z.string().optional() });

/** Result schema per effect kind. */
export const effectResults = {
  /** `inputs` (optional): the flake's effective inputs, the template's own included. */
  'flake.write': z.object({ files: z.array(z.string()), inputs: z.record(z.string(), z.string()).optional() }),
  'flake.add_input': z.object({ locked: LockedInput.optional() }),
  'flake.remove_input': z.object({}),
  'flake.update': z.object({ locked: z.record(z.string(), LockedInput) }),
  'flake.check': z.object({ duration_ms: z.number().nonnegative() }),
  'package.build': z.object({
    store_paths: z.record(z.string(), z.string()),
    drv_path: z.string(),
    duration_ms: z.number().nonnegative(),
  }),
  'package.cache': z.object({ cache_url: z.string(), paths: z.array(z.string()) }),
  'module.write': WrittenFile,
  'module.delete': DeletedFile,
  'overlay.write': WrittenFile,
  'overlay.delete': DeletedFile,
  'config.write': WrittenFile,
  'config.activate': Activation,
  'config.rollback': Activation,
} as const satisfies Record<EffectKind, z.ZodType>;

/** The parsed result of effect kind `K`. */
export type EffectResult<K extends EffectKind> = z.output<(typeof effectResults)[K]>;

/**
 * Parses an effect result; `null` when it does not match its kind's schema. The caller
 * turns `null` into an `internal` failure.
 */
export function parseEffectResult<K extends EffectKind>(kind: K, result: unknown): EffectResult<K> | null {
  const parsed = effectResults[kind].safeParse(result);
  return parsed.success ? (parsed.data as EffectResult<K>) : null;
}
