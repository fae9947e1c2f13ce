/**
 * The module aggregate: one NixOS module, `modules/<name>.nix` in the workspace. A file
 * resource (see `fileResourceMachine`): none ─create→ active ─update→ active ─delete→
 * deleted ─create→ active, fact-first, its file rendered by scheduled `module.write` and
 * `module.delete` effects.
 */
import { fileResourceMachine, fileResourceNaturalKey, type FileResourceContext } from '../_shared/resourceMachine.js';
import type { ModuleBody, ModuleCommandEvent, ModuleFactEvent } from './module.events.js';

/** Bumped when the machine's states or context change shape (snapshots are keyed by it). */
export const MODULE_MACHINE_VERSION = 2;

/** The module aggregate's context: the body is in `module`. */
export type ModuleContext = FileResourceContext<'module', ModuleBody>;

/**
 * Every event the module machine accepts: commands and (replayed) facts. Effect outcomes
 * are not among them: its effects are scheduled, never awaited.
 */
export type ModuleEvent = ModuleCommandEvent | ModuleFactEvent;

/** The module's natural key (SPEC §3): its name, once created. */
export const moduleNaturalKey = (context: ModuleContext): string | undefined => fileResourceNaturalKey(context);

/** The workspace-relative file of module `name`. */
export const moduleFile = (name: string): string => `modules/${name}.nix`;

/** The module aggregate machine. Input `{ aggregate_id }`; signals via `emit` only. */
export const moduleMachine = fileResourceMachine<'module', ModuleBody, ModuleEvent>({ kind: 'module', file: moduleFile });
