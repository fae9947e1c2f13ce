import { z } from 'zod';

/** A JSON value, as carried inside module options, overlay overrides and the like. */
export const JsonValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(JsonValue), z.record(z.string(), JsonValue)]),
);

/** An attribute name usable as a Nix identifier or a flake input name. */
export const NixName = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z_][A-Za-z0-9_'-]*$/, "must start with a letter or '_' and contain only letters, digits, '_', '-' or \"'\"")
  // Names become keys of plain objects (a flake's inputs): `__proto__` would rewrite a prototype.
  .refine((v) => v !== '__proto__', "must not be '__proto__'");

/** A name of a module, overlay or configuration: also a file name under the workspace. */
export const ResourceName = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "must start with a letter or digit and contain only letters, digits, '.', '_' or '-'");

/** A flake URL or reference (`path:./x`, `github:o/r`, `git+file:///…`). */
export const FlakeUrl = z.string().min(1, 'must not be empty').max(2048, 'must be at most 2048 characters');
