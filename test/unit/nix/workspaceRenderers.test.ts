import { describe, expect, it } from 'vitest';
import {
  renderConfiguration,
  renderModule,
  renderOptionType,
  renderOverlay,
  renderWorkspaceFlake,
} from '../../../src/nix/workspaceRenderers.js';
import { EffectError, RenderError } from '../../../src/errors.js';

describe('workspace renderers', () => {
  it('maps option type names onto lib.types', () => {
    expect(renderOptionType('bool')).toBe('lib.types.bool');
    expect(renderOptionType('listOf str')).toBe('lib.types.listOf lib.types.str');
    expect(renderOptionType('attrsOf (listOf str)')).toBe('lib.types.attrsOf (lib.types.listOf lib.types.str)');
    expect(renderOptionType({ $nix: 'lib.types.enum [ "a" ]' })).toBe('(lib.types.enum [ "a" ])');
    expect(() => renderOptionType('str; evil')).toThrow(RenderError);
    expect(() => renderOptionType(3)).toThrow(RenderError);
  });

  it('renders a module with imports, declared options and config', () => {
    const text = renderModule('web', {
      imports: ['base', '<nixpkgs/nixos/modules/profiles/minimal.nix>'],
      options: { 'services.web': { enable: { type: 'bool', default: false }, name: 'plain default' } },
      config: { 'services.web.enable': true },
    });
    expect(text).toBe(`# Managed by cim-domain-nix (module web): written from its events, so edits here are replaced on the next update.
{ config, lib, pkgs, ... }:

{
  imports = [
    ./base.nix
    <nixpkgs/nixos/modules/profiles/minimal.nix>
  ];

  options = {
    services.web = {
      enable = lib.mkOption {
        type = lib.types.bool;
        default = false;
      };
      name = lib.mkOption {
        default = "plain default";
      };
    };
  };

  config = {
    services.web.enable = true;
  };
}
`);
  });

  it('refuses module imports that are paths, and bodies of the wrong shape', () => {
    expect(() => renderModule('m', { imports: ['../x'] })).toThrow(EffectError);
    expect(() => renderModule('m', { imports: ['a b'] })).toThrow(RenderError);
    expect(() => renderModule('m', { options: [] })).toThrow(/module.options must be an object/);
    expect(() => renderModule('m', { imports: [1] })).toThrow(/list of strings/);
  });

  it('renders an overlay and refuses a name that is both added and overridden', () => {
    expect(renderOverlay('o', { overrides: {}, additions: {} })).toContain('final: prev: { }\n');
    expect(renderOverlay('o', { overrides: { 'my pkg': { a: 1 } }, additions: {} })).toContain(
      '  "my pkg" = prev."my pkg".overrideAttrs (old: {\n    a = 1;\n  });',
    );
    expect(() => renderOverlay('o', { overrides: { x: {} }, additions: { x: 1 } })).toThrow(/both an addition and an override/);
  });

  it('renders a configuration with platform, host name, packages and specialisations', () => {
    const text = renderConfiguration('h', {
      system: 'x86_64-linux',
      hostname: 'h1',
      modules: [],
      overlays: [],
      packages: ['hello'],
      specialisations: {},
    });
    expect(text).toContain('  nixpkgs.hostPlatform = lib.mkDefault "x86_64-linux";');
    expect(text).toContain('  networking.hostName = "h1";');
    expect(text).toContain('  environment.systemPackages = [\n    pkgs.hello\n  ];');
    expect(text).not.toContain('imports');
    expect(() => renderConfiguration('h', { hostname: 'h', specialisations: { s: 1 } })).toThrow(/must be an object/);
    expect(() => renderConfiguration('h', {})).toThrow(/hostname/);
  });

  it('renders the workspace flake with every resource, quoting odd names', () => {
    const text = renderWorkspaceFlake({ module: ['a', 'b.c'], overlay: [], configuration: ['h'] });
    expect(text).toContain('      a = ./modules/a.nix;\n      "b.c" = ./modules/b.c.nix;');
    expect(text).toContain('    overlays = { };');
    expect(text).toContain('      h = nixpkgs.lib.nixosSystem {\n        modules = [ ./hosts/h/configuration.nix ];\n      };');
  });
});
