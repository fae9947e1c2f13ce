import { z } from 'zod';
import { FlakePath, FlakeUrl, FollowsTarget, NixName } from '../_shared/schemas.js';
import { LockedInput } from '../_shared/effects.js';

/** The flake templates `flake.create` accepts; `devshell` is the default. */
export const FlakeTemplate = z.enum([
  'minimal',
  'rust',
  'python',
  'nodejs',
  'go',
  'cpp',
  'haskell',
  'polyglot',
  'nixos',
  'home-manager',
  'devshell',
]);
export type FlakeTemplate = z.infer<typeof FlakeTemplate>;

/** Command payloads (wire fields besides identity and addressing). */
export const FlakeCreate = z.strictObject({
  path: FlakePath,
  description: z.string().max(4096),
  template: FlakeTemplate.default('devshell'),
  inputs: z.record(NixName, FlakeUrl).default({}),
});
export const FlakeUpdate = z.strictObject({ inputs: z.array(NixName).optional() });
export const FlakeAddInput = z.strictObject({
  name: NixName,
  url: FlakeUrl,
  follows: z.record(NixName, FollowsTarget).optional(),
  flake: z.boolean().optional(),
});
export const FlakeRemoveInput = z.strictObject({ name: NixName });
export const FlakeCheck = z.strictObject({});

/** Machine events for commands: `{ type, ...payload }`. */
export type FlakeCommandEvent =
  | ({ type: 'flake.create' } & z.output<typeof FlakeCreate>)
  | ({ type: 'flake.update' } & z.output<typeof FlakeUpdate>)
  | ({ type: 'flake.add_input' } & z.output<typeof FlakeAddInput>)
  | ({ type: 'flake.remove_input' } & z.output<typeof FlakeRemoveInput>)
  | ({ type: 'flake.check' } & z.output<typeof FlakeCheck>);

export const flakeCommands = {
  create: FlakeCreate,
  update: FlakeUpdate,
  add_input: FlakeAddInput,
  remove_input: FlakeRemoveInput,
  check: FlakeCheck,
} as const;

/* ------------------------------------------------------------------------------------- */
/* Facts: the stored domain events, `{ type: 'flake.<past>', ...data }`.                  */
/* Plain objects (not strict) so a stored event's envelope fields are stripped on parse. */
/* ------------------------------------------------------------------------------------- */

const FailureFields = {
  exit_code: z.number().int().optional(),
  message: z.string(),
  log_tail: z.array(z.string()).optional(),
};

/** `inputs` are the flake's inputs by name (the template's own included when known). */
export const FlakeCreated = z.object({
  path: z.string(),
  description: z.string(),
  template: FlakeTemplate,
  inputs: z.record(z.string(), z.string()),
  files: z.array(z.string()),
});
/** `inputs` holds the lock entry of every input the update relocked. */
export const FlakeUpdated = z.object({ inputs: z.record(z.string(), LockedInput) });
export const FlakeInputAdded = z.object({
  name: z.string(),
  url: z.string(),
  follows: z.record(z.string(), z.string()).optional(),
  flake: z.boolean().optional(),
  locked: LockedInput.optional(),
});
export const FlakeInputRemoved = z.object({ name: z.string() });
export const FlakeChecked = z.object({ duration_ms: z.number().nonnegative() });
export const FlakeUpdateFailed = z.object(FailureFields);
export const FlakeCheckFailed = z.object(FailureFields);

/** Fact name -> payload schema. */
export const flakeFacts = {
  'flake.created': FlakeCreated,
  'flake.updated': FlakeUpdated,
  'flake.input_added': FlakeInputAdded,
  'flake.input_removed': FlakeInputRemoved,
  'flake.checked': FlakeChecked,
  'flake.update_failed': FlakeUpdateFailed,
  'flake.check_failed': FlakeCheckFailed,
} as const;

type FactOf<N extends keyof typeof flakeFacts> = { type: N } & z.output<(typeof flakeFacts)[N]>;

/** Machine events for facts. */
export type FlakeFactEvent =
  | FactOf<'flake.created'>
  | FactOf<'flake.updated'>
  | FactOf<'flake.input_added'>
  | FactOf<'flake.input_removed'>
  | FactOf<'flake.checked'>
  | FactOf<'flake.update_failed'>
  | FactOf<'flake.check_failed'>;
