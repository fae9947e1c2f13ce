/**
 * The overlay aggregate: one nixpkgs overlay, `overlays/<name>.nix` in the workspace. A file
 * resource (see `fileResourceMachine`): none ─create→ active ─update→ active ─delete→
 * deleted ─create→ active, fact-first, its file rendered by scheduled `overlay.write` and
 * `overlay.delete` effects.
 */
import { fileResourceMachine, fileResourceNaturalKey, type FileResourceContext } from '../_shared/resourceMachine.js';
import type { OverlayBody, OverlayCommandEvent, OverlayFactEvent } from './overlay.events.js';

/** Bumped when the machine's states or context change shape (snapshots are keyed by it). */
export const OVERLAY_MACHINE_VERSION = 2;

/** The overlay aggregate's context: the body is in `overlay`. */
export type OverlayContext = FileResourceContext<'overlay', OverlayBody>;

/**
 * Every event the overlay machine accepts: commands and (replayed) facts. Effect outcomes
 * are not among them: its effects are scheduled, never awaited.
 */
export type OverlayEvent = OverlayCommandEvent | OverlayFactEvent;

/** The overlay's natural key (SPEC §3): its name, once created. */
export const overlayNaturalKey = (context: OverlayContext): string | undefined => fileResourceNaturalKey(context);

/** The workspace-relative file of overlay `name`. */
export const overlayFile = (name: string): string => `overlays/${name}.nix`;

/** The overlay aggregate machine. Input `{ aggregate_id }`; signals via `emit` only. */
export const overlayMachine = fileResourceMachine<'overlay', OverlayBody, OverlayEvent>({ kind: 'overlay', file: overlayFile });
