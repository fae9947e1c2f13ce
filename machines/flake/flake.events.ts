import { z } from 'zod';
import { FlakeUrl, NixName } from '../_shared/schemas.js';

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
  path: z.string().min(1, 'must not be empty').max(1024),
  description: z.string().max(4096),
  template: FlakeTemplate.default('devshell'),
  inputs: z.record(NixName, FlakeUrl).default({}),
});
export const FlakeUpdate = z.strictObject({ inputs: z.array(NixName).optional() });
export const FlakeAddInput = z.strictObject({
  name: NixName,
  url: FlakeUrl,
  follows: z.record(NixName, z.string().min(1)).optional(),
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
