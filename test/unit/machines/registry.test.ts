import { describe, expect, it } from 'vitest';
import {
  CONFIG_MACHINE_VERSION,
  FLAKE_MACHINE_VERSION,
  MODULE_MACHINE_VERSION,
  NixName,
  OVERLAY_MACHINE_VERSION,
  PACKAGE_MACHINE_VERSION,
  aggregateKinds,
  configCommands,
  flakeCommands,
  moduleCommands,
  overlayCommands,
  packageCommands,
  registry,
} from '../../../machines/index.js';

const wireNames = {
  flake: ['FlakeCreated', 'FlakeUpdated', 'FlakeInputAdded', 'FlakeInputRemoved', 'FlakeChecked', 'FlakeUpdateFailed', 'FlakeCheckFailed'],
  package: ['PackageBuildStarted', 'PackageBuilt', 'PackageBuildFailed', 'PackageCached', 'PackageCacheFailed'],
  module: ['ModuleCreated', 'ModuleUpdated', 'ModuleDeleted'],
  overlay: ['OverlayCreated', 'OverlayUpdated', 'OverlayDeleted'],
  config: ['ConfigCreated', 'ConfigUpdated', 'ConfigActivated', 'ConfigActivationFailed', 'ConfigRolledBack'],
} as const;

describe('machine registry', () => {
  it('lists the five aggregate kinds, each with its machine of the same id', () => {
    expect(Object.keys(registry)).toEqual([...aggregateKinds]);
    for (const kind of aggregateKinds) {
      expect(registry[kind].kind).toBe(kind);
      expect(registry[kind].machine.id).toBe(kind);
    }
  });

  it('versions each machine, fact-first module, overlay and config at 2', () => {
    expect(Object.fromEntries(aggregateKinds.map((k) => [k, registry[k].version]))).toEqual({
      flake: FLAKE_MACHINE_VERSION,
      package: PACKAGE_MACHINE_VERSION,
      module: MODULE_MACHINE_VERSION,
      overlay: OVERLAY_MACHINE_VERSION,
      config: CONFIG_MACHINE_VERSION,
    });
    expect([FLAKE_MACHINE_VERSION, PACKAGE_MACHINE_VERSION, MODULE_MACHINE_VERSION, OVERLAY_MACHINE_VERSION, CONFIG_MACHINE_VERSION]).toEqual([
      1, 1, 2, 2, 2,
    ]);
  });

  it('takes the command schemas from the events files', () => {
    expect(registry.flake.commands).toBe(flakeCommands);
    expect(registry.package.commands).toBe(packageCommands);
    expect(registry.module.commands).toBe(moduleCommands);
    expect(registry.overlay.commands).toBe(overlayCommands);
    expect(registry.config.commands).toBe(configCommands);
  });

  it('names every fact with its PascalCase wire event type', () => {
    for (const kind of aggregateKinds) {
      expect(Object.values(registry[kind].facts).map((f) => f.event_type)).toEqual(wireNames[kind]);
    }
    expect(registry.flake.facts['flake.input_added']?.event_type).toBe('FlakeInputAdded');
    expect(registry.config.facts['config.activation_failed']?.event_type).toBe('ConfigActivationFailed');
  });

  it('marks only package.build_started as not final', () => {
    const notFinal = aggregateKinds.flatMap((k) => Object.entries(registry[k].facts).filter(([, f]) => !f.final).map(([n]) => n));
    expect(notFinal).toEqual(['package.build_started']);
  });

  it('handles every command and every fact of a kind in some state, and no other event of that kind', () => {
    for (const kind of aggregateKinds) {
      const def = registry[kind];
      const expected = [...Object.keys(def.commands).map((a) => `${kind}.${a}`), ...Object.keys(def.facts)].sort();
      const handled = (def.machine.events as string[]).filter((e) => e.startsWith(`${kind}.`)).sort();
      expect(handled).toEqual(expected);
    }
  });

  it("refuses '__proto__' as a Nix name", () => {
    expect(NixName.safeParse('__proto__').success).toBe(false);
    expect(NixName.safeParse('_private').success).toBe(true);
  });
});
