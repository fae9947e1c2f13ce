import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fail, progressContext, succeed, tempWorkspace, type TempWorkspace } from '../../support/nix/workspace.js';

const FAKE_REBUILD = fileURLToPath(new URL('../../support/nix/fake-nixos-rebuild.sh', import.meta.url));

const configuration = {
  system: 'x86_64-linux',
  hostname: 'box',
  modules: [],
  overlays: [],
  packages: [],
  specialisations: {},
};

describe('nix port: config.activate and config.rollback', () => {
  let plain: TempWorkspace;
  let nixos: TempWorkspace;
  let scratch: string;
  let log: string;
  let marker: string;
  beforeAll(async () => {
    plain = tempWorkspace({ activationEnabled: true });
    // A stand-in NixOS host: a marker file of our own and a recording nixos-rebuild.
    scratch = mkdtempSync(join(tmpdir(), 'cim-nix-host-'));
    marker = join(scratch, 'NIXOS');
    log = join(scratch, 'rebuild.log');
    writeFileSync(marker, '');
    nixos = tempWorkspace({
      activationEnabled: true,
      nixosMarker: marker,
      nixosRebuildBin: FAKE_REBUILD,
      env: { ...process.env, FAKE_REBUILD_LOG: log },
    });
    await succeed(nixos.port, { kind: 'config.write', name: 'box', configuration });
  });
  afterAll(() => {
    plain.cleanup();
    nixos.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('records without executing on a host that is not NixOS', async () => {
    expect(existsSync('/etc/NIXOS')).toBe(false);
    const result = await succeed(plain.port, {
      kind: 'config.activate',
      name: 'box',
      activation_type: 'switch',
      generation: 1,
    });
    expect(result).toEqual({ executed: false, reason: expect.stringContaining('not NixOS') });
    const rollback = await succeed(plain.port, {
      kind: 'config.rollback',
      name: 'box',
      from_generation: 2,
      to_generation: 1,
    });
    expect(rollback).toEqual({ executed: false, reason: expect.stringContaining('not NixOS') });
  });

  it('records without executing when activation is disabled, even on NixOS', async () => {
    const disabled = tempWorkspace({ nixosMarker: marker, nixosRebuildBin: FAKE_REBUILD });
    try {
      const result = await succeed(disabled.port, {
        kind: 'config.activate',
        name: 'box',
        activation_type: 'test',
        generation: 1,
      });
      expect(result).toEqual({ executed: false, reason: expect.stringContaining('disabled') });
    } finally {
      disabled.cleanup();
    }
  });

  it('runs nixos-rebuild <type> --flake <workspace>#<name> on NixOS with activation enabled', async () => {
    const ctx = progressContext();
    for (const type of ['switch', 'boot', 'test'] as const) {
      const result = await succeed(nixos.port, { kind: 'config.activate', name: 'box', activation_type: type, generation: 1 }, ctx);
      expect(result).toEqual({ executed: true });
    }
    await succeed(nixos.port, { kind: 'config.rollback', name: 'box', from_generation: 3, to_generation: 2 });
    expect(readFileSync(log, 'utf8').split('\n').filter(Boolean)).toEqual([
      `switch --flake ${nixos.dir}#box`,
      `boot --flake ${nixos.dir}#box`,
      `test --flake ${nixos.dir}#box`,
      'switch --rollback',
    ]);
    expect(ctx.lines).toEqual(
      expect.arrayContaining([`fake nixos-rebuild switch --flake ${nixos.dir}#box`, 'building the system configuration...']),
    );
  });

  it('reports a failing nixos-rebuild with its exit code and output', async () => {
    const failing = tempWorkspace({
      activationEnabled: true,
      nixosMarker: marker,
      nixosRebuildBin: FAKE_REBUILD,
      env: { ...process.env, FAKE_REBUILD_LOG: log, FAKE_REBUILD_EXIT: '3' },
    });
    try {
      await succeed(failing.port, { kind: 'config.write', name: 'box', configuration });
      const failure = await fail(failing.port, {
        kind: 'config.activate',
        name: 'box',
        activation_type: 'switch',
        generation: 1,
      });
      expect(failure).toMatchObject({ code: 'nix_failed', exit_code: 3 });
      expect(failure.log_tail).toContain('building the system configuration...');
      const missing = await fail(failing.port, {
        kind: 'config.activate',
        name: 'nobox',
        activation_type: 'switch',
        generation: 1,
      });
      expect(missing.message).toContain('hosts/nobox/configuration.nix is missing');
    } finally {
      failing.cleanup();
    }
  });
});
