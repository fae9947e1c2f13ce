import { z } from 'zod';
import { JsonValue, ResourceName } from '../_shared/schemas.js';

export const ModuleBody = z.strictObject({
  options: z.record(z.string(), JsonValue).default({}),
  config: z.record(z.string(), JsonValue).default({}),
  imports: z.array(z.string().min(1)).default([]),
});
export type ModuleBody = z.output<typeof ModuleBody>;

export const ModuleCreate = z.strictObject({ name: ResourceName, module: ModuleBody });
export const ModuleUpdate = z.strictObject({ name: ResourceName, module: ModuleBody });
export const ModuleDelete = z.strictObject({ name: ResourceName });

export type ModuleCommandEvent =
  | ({ type: 'module.create' } & z.output<typeof ModuleCreate>)
  | ({ type: 'module.update' } & z.output<typeof ModuleUpdate>)
  | ({ type: 'module.delete' } & z.output<typeof ModuleDelete>);

export const moduleCommands = { create: ModuleCreate, update: ModuleUpdate, delete: ModuleDelete } as const;

/* Facts: the stored domain events, `{ type: 'module.<past>', ...data }`. */

/** `file` is the written file, relative to the workspace (`modules/<name>.nix`). */
export const ModuleCreated = z.object({ name: z.string(), module: ModuleBody, file: z.string() });
export const ModuleUpdated = z.object({ name: z.string(), module: ModuleBody, file: z.string() });
export const ModuleDeleted = z.object({ name: z.string() });

/** Fact name -> payload schema. */
export const moduleFacts = {
  'module.created': ModuleCreated,
  'module.updated': ModuleUpdated,
  'module.deleted': ModuleDeleted,
} as const;

/** Machine events for facts. */
export type ModuleFactEvent =
  | ({ type: 'module.created' } & z.output<typeof ModuleCreated>)
  | ({ type: 'module.updated' } & z.output<typeof ModuleUpdated>)
  | ({ type: 'module.deleted' } & z.output<typeof ModuleDeleted>);
