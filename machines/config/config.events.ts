import { z } from 'zod';
import { JsonValue, ResourceName } from '../_shared/schemas.js';

export const Configuration = z.strictObject({
  system: z.string().min(1).default('x86_64-linux'),
  hostname: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[A-Za-z0-9][A-Za-z0-9-]*$/, 'must be a host name: letters, digits and -'),
  modules: z.array(z.string().min(1)).default([]),
  overlays: z.array(z.string().min(1)).default([]),
  packages: z.array(z.string().min(1)).default([]),
  specialisations: z.record(z.string(), JsonValue).default({}),
});
export type Configuration = z.output<typeof Configuration>;

/** `switch|boot|test`; the Rust spellings `Switch|Boot|Test` are accepted and normalised. */
export const ActivationType = z
  .enum(['switch', 'boot', 'test', 'Switch', 'Boot', 'Test'])
  .transform((v) => v.toLowerCase() as 'switch' | 'boot' | 'test');

export const ConfigCreate = z.strictObject({ name: ResourceName, configuration: Configuration });
export const ConfigUpdate = z.strictObject({ name: ResourceName, configuration: Configuration });
export const ConfigActivate = z.strictObject({ name: ResourceName, activation_type: ActivationType });
export const ConfigRollback = z.strictObject({
  name: ResourceName,
  to_generation: z.number().int().min(1).optional(),
});

export type ConfigCommandEvent =
  | ({ type: 'config.create' } & z.output<typeof ConfigCreate>)
  | ({ type: 'config.update' } & z.output<typeof ConfigUpdate>)
  | ({ type: 'config.activate' } & z.output<typeof ConfigActivate>)
  | ({ type: 'config.rollback' } & z.output<typeof ConfigRollback>);

export const configCommands = {
  create: ConfigCreate,
  update: ConfigUpdate,
  activate: ConfigActivate,
  rollback: ConfigRollback,
} as const;

/* Facts: the stored domain events, `{ type: 'config.<past>', ...data }`. */

const ActivationKind = z.enum(['switch', 'boot', 'test']);

/** `file` is the written file, relative to the workspace (`hosts/<name>/configuration.nix`). */
export const ConfigCreated = z.object({ name: z.string(), configuration: Configuration, file: z.string() });
export const ConfigUpdated = z.object({ name: z.string(), configuration: Configuration, file: z.string() });
/** `executed: false` means the activation was recorded but not run on this host (`reason` says why). */
export const ConfigActivated = z.object({
  activation_type: ActivationKind,
  generation: z.number().int().min(1),
  executed: z.boolean(),
  reason: z.string().optional(),
});
export const ConfigActivationFailed = z.object({
  activation_type: ActivationKind,
  generation: z.number().int().min(1),
  message: z.string(),
  exit_code: z.number().int().optional(),
  log_tail: z.array(z.string()).optional(),
});
export const ConfigRolledBack = z.object({
  from_generation: z.number().int().min(1),
  to_generation: z.number().int().min(1),
  executed: z.boolean(),
  reason: z.string().optional(),
});

/** Fact name -> payload schema. */
export const configFacts = {
  'config.created': ConfigCreated,
  'config.updated': ConfigUpdated,
  'config.activated': ConfigActivated,
  'config.activation_failed': ConfigActivationFailed,
  'config.rolled_back': ConfigRolledBack,
} as const;

type FactOf<N extends keyof typeof configFacts> = { type: N } & z.output<(typeof configFacts)[N]>;

/** Machine events for facts. */
export type ConfigFactEvent =
  | FactOf<'config.created'>
  | FactOf<'config.updated'>
  | FactOf<'config.activated'>
  | FactOf<'config.activation_failed'>
  | FactOf<'config.rolled_back'>;

/** The states a configuration's read model shows. */
export const ConfigStates = ['created', 'activated', 'boot_ready', 'testing'] as const;

/** The entries of a configuration's history. */
export const HistoryKinds = ['activated', 'activation_failed', 'rolled_back'] as const;
