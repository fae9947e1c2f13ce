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
