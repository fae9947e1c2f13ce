import { z } from 'zod';
import { FlakeUrl } from '../_shared/schemas.js';

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
  output_path: z.string().min(1).max(1024).optional(),
});
export const PackageCache = z.strictObject({
  cache_url: z.string().min(1).max(2048).optional(),
});

export type PackageCommandEvent =
  | ({ type: 'package.build' } & z.output<typeof PackageBuild>)
  | ({ type: 'package.cache' } & z.output<typeof PackageCache>);

export const packageCommands = { build: PackageBuild, cache: PackageCache } as const;
