import { z } from 'zod';
import { CacheUrl, FlakeUrl, WorkspacePathText } from '../_shared/schemas.js';

/** A dotted attribute path; segments may be quoted (`packages."x86_64-linux".hello`). */
export const AttributePath = z
  .string()
  .min(1, 'must not be empty')
  .max(512)
  .regex(
    /^(?:[A-Za-z_][A-Za-z0-9_'-]*|"[^"\\]*")(?:\.(?:[A-Za-z_][A-Za-z0-9_'-]*|"[^"\\]*"))*$/,
    'must be a dotted attribute path such as packages.x86_64-linux.default (quote segments with dots)',
  );

export const PackageBuild = z.strictObject({
  flake_ref: FlakeUrl,
  attribute: AttributePath,
  output_path: WorkspacePathText.optional(),
});
export const PackageCache = z.strictObject({
  cache_url: CacheUrl.optional(),
});

export type PackageCommandEvent =
  | ({ type: 'package.build' } & z.output<typeof PackageBuild>)
  | ({ type: 'package.cache' } & z.output<typeof PackageCache>);

export const packageCommands = { build: PackageBuild, cache: PackageCache } as const;

/* ------------------------------------------------------------------------------------- */
/* Facts: the stored domain events, `{ type: 'package.<past>', ...data }`.                */
/* ------------------------------------------------------------------------------------- */

/** The build was accepted and launched; its outcome follows as built or build_failed. */
export const PackageBuildStarted = z.object({
  flake_ref: z.string(),
  attribute: z.string(),
  output_path: z.string().optional(),
});
/** `store_paths` maps each output name (`out`, `dev`, …) to its store path. */
export const PackageBuilt = z.object({
  store_paths: z.record(z.string(), z.string()),
  drv_path: z.string(),
  duration_ms: z.number().nonnegative(),
});
export const PackageBuildFailed = z.object({
  exit_code: z.number().int().optional(),
  message: z.string(),
  log_tail: z.array(z.string()).optional(),
  duration_ms: z.number().nonnegative().optional(),
});
export const PackageCached = z.object({ cache_url: z.string(), paths: z.array(z.string()) });
export const PackageCacheFailed = z.object({
  cache_url: z.string().optional(),
  message: z.string(),
  exit_code: z.number().int().optional(),
  log_tail: z.array(z.string()).optional(),
});

/** Fact name -> payload schema. */
export const packageFacts = {
  'package.build_started': PackageBuildStarted,
  'package.built': PackageBuilt,
  'package.build_failed': PackageBuildFailed,
  'package.cached': PackageCached,
  'package.cache_failed': PackageCacheFailed,
} as const;

type FactOf<N extends keyof typeof packageFacts> = { type: N } & z.output<(typeof packageFacts)[N]>;

/** Machine events for facts. */
export type PackageFactEvent =
  | FactOf<'package.build_started'>
  | FactOf<'package.built'>
  | FactOf<'package.build_failed'>
  | FactOf<'package.cached'>
  | FactOf<'package.cache_failed'>;

/** The states a package's read model shows (and its list filters by). */
export const PackageStates = ['building', 'built', 'failed', 'cached'] as const;
