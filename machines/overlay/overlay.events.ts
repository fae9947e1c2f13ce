import { z } from 'zod';
import { JsonValue, ResourceName } from '../_shared/schemas.js';

export const OverlayBody = z.strictObject({
  overrides: z.record(z.string(), JsonValue).default({}),
  additions: z.record(z.string(), JsonValue).default({}),
});
export type OverlayBody = z.output<typeof OverlayBody>;

export const OverlayCreate = z.strictObject({ name: ResourceName, overlay: OverlayBody });
export const OverlayUpdate = z.strictObject({ name: ResourceName, overlay: OverlayBody });
export const OverlayDelete = z.strictObject({ name: ResourceName });

export type OverlayCommandEvent =
  | ({ type: 'overlay.create' } & z.output<typeof OverlayCreate>)
  | ({ type: 'overlay.update' } & z.output<typeof OverlayUpdate>)
  | ({ type: 'overlay.delete' } & z.output<typeof OverlayDelete>);

export const overlayCommands = { create: OverlayCreate, update: OverlayUpdate, delete: OverlayDelete } as const;

/* Facts: the stored domain events, `{ type: 'overlay.<past>', ...data }`. */

/** `file` is the written file, relative to the workspace (`overlays/<name>.nix`). */
export const OverlayCreated = z.object({ name: z.string(), overlay: OverlayBody, file: z.string() });
export const OverlayUpdated = z.object({ name: z.string(), overlay: OverlayBody, file: z.string() });
export const OverlayDeleted = z.object({ name: z.string() });

/** Fact name -> payload schema. */
export const overlayFacts = {
  'overlay.created': OverlayCreated,
  'overlay.updated': OverlayUpdated,
  'overlay.deleted': OverlayDeleted,
} as const;

/** Machine events for facts. */
export type OverlayFactEvent =
  | ({ type: 'overlay.created' } & z.output<typeof OverlayCreated>)
  | ({ type: 'overlay.updated' } & z.output<typeof OverlayUpdated>)
  | ({ type: 'overlay.deleted' } & z.output<typeof OverlayDeleted>);
