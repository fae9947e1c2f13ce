import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fail, gitFiles, nixEvalJson, nixParse, succeed, tempWorkspace, type TempWorkspace } from '../../support/nix/workspace.js';

describe('nix port: modules, overlays and configurations', () => {
  let ws: TempWorkspace;
  beforeAll(() => {
    ws = tempWorkspace();
  });
  afterAll(() => ws.cleanup());

  it('writes a module that parses and evaluates to its options and config', async () => {
    const result = await succeed(ws.port, {
      kind: 'module.write',
      name: 'web',
      module: {
        options: {
          'services.web.enable': { type: 'bool', default: false, description: 'Serve "the" site' },
          'services.web.ports': { type: 'listOf port', default: [80, 443] },
        },
        config: { 'services.nginx.enable': true, 'environment.etc': { 'web.conf': { text: 'a = ${b}\n' } } },
        imports: [],
      },
    });
    expect(result).toEqual({ file: 'modules/web.nix' });
    const file = join(ws.dir, 'modules/web.nix');
    expect(nixParse(file).status).toBe(0);
    const lib = `{ mkOption = o: o; mkDefault = v: v; types = { bool = "bool"; port = "port"; listOf = t: "listOf " + t; }; }`;
    const evaluated = nixEvalJson(`let m = import ${file} { config = { }; lib = ${lib}; pkgs = { }; }; in { inherit (m) options config; }`);
    expect(evaluated).toEqual({
      options: {
        services: {
          web: {
            enable: { type: 'bool', default: false, description: 'Serve "the" site' },
            ports: { type: 'listOf port', default: [80, 443] },
          },
        },
      },
      config: { services: { nginx: { enable: true } }, environment: { etc: { 'web.conf': { text: 'a = ${b}\n' } } } },
    });
  });

  it('writes an overlay with additions and overrideAttrs overrides', async () => {
    await succeed(ws.port, {
      kind: 'overlay.write',
      name: 'tweaks',
      overlay: {
        overrides: { hello: { doCheck: false } },
        additions: { greeting: 'hi', tools: { $nix: 'prev.hello.name + "-tools"' } },
      },
    });
    const file = join(ws.dir, 'overlays/tweaks.nix');
    const prev = `{ hello = { name = "hello"; overrideAttrs = f: f { } // { overridden = true; }; }; }`;
    expect(nixEvalJson(`import ${file} { } ${prev}`)).toEqual({
      greeting: 'hi',
      tools: 'hello-tools',
      hello: { doCheck: false, overridden: true },
    });
  });

  it('writes a configuration and a workspace flake exposing everything', async () => {
    const result = await succeed(ws.port, {
      kind: 'config.write',
      name: 'host1',
      configuration: {
        system: 'aarch64-linux',
        hostname: 'host-one',
        modules: ['web'],
        overlays: ['tweaks'],
        packages: ['hello', 'python3Packages.requests'],
        specialisations: { quiet: { 'services.nginx.enable': false } },
      },
    });
    expect(result).toEqual({ file: 'hosts/host1/configuration.nix' });
    const file = join(ws.dir, 'hosts/host1/configuration.nix');
    const pkgs = `{ hello = "hello-pkg"; python3Packages.requests = "requests-pkg"; }`;
    const evaluated = nixEvalJson(
      `let c = import ${file} { config = { }; lib = { mkDefault = v: v; }; inherit pkgs; }; pkgs = ${pkgs}; in { inherit (c) networking specialisation; nixpkgs = c.nixpkgs.hostPlatform; packages = c.environment.systemPackages; n = builtins.length c.imports + builtins.length c.nixpkgs.overlays; }`,
    );
    expect(evaluated).toEqual({
      networking: { hostName: 'host-one' },
      specialisation: { quiet: { configuration: { services: { nginx: { enable: false } } } } },
      nixpkgs: 'aarch64-linux',
      packages: ['hello-pkg', 'requests-pkg'],
      n: 2,
    });
    const flake = readFileSync(join(ws.dir, 'flake.nix'), 'utf8');
    expect(nixParse(join(ws.dir, 'flake.nix')).status).toBe(0);
    expect(flake).toContain('web = ./modules/web.nix;');
    expect(flake).toContain('tweaks = import ./overlays/tweaks.nix;');
    expect(flake).toContain('modules = [ ./hosts/host1/configuration.nix ];');
    expect(gitFiles(ws.dir).sort()).toEqual(['flake.nix', 'hosts/host1/configuration.nix', 'modules/web.nix', 'overlays/tweaks.nix']);
  });

  it('keeps every module in the workspace flake when many writes arrive at once', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `m${i}`);
    await Promise.all(
      names.map((name) => succeed(ws.port, { kind: 'module.write', name, module: { options: {}, config: {}, imports: ['web'] } })),
    );
    const flake = readFileSync(join(ws.dir, 'flake.nix'), 'utf8');
    for (const name of names) expect(flake).toContain(`${name} = ./modules/${name}.nix;`);
    expect(gitFiles(ws.dir)).toEqual(expect.arrayContaining(names.map((n) => `modules/${n}.nix`)));
    expect(readFileSync(join(ws.dir, 'modules/m0.nix'), 'utf8')).toContain('./web.nix');
  });

  it('deletes a module and an overlay and drops them from the workspace flake and git', async () => {
    expect(await succeed(ws.port, { kind: 'module.delete', name: 'm0' })).toEqual({ file: 'modules/m0.nix' });
    expect(await succeed(ws.port, { kind: 'overlay.delete', name: 'tweaks' })).toEqual({ file: 'overlays/tweaks.nix' });
    expect(existsSync(join(ws.dir, 'modules/m0.nix'))).toBe(false);
    const flake = readFileSync(join(ws.dir, 'flake.nix'), 'utf8');
    expect(flake).not.toContain('m0 =');
    expect(flake).toContain('overlays = { };');
    expect(gitFiles(ws.dir)).not.toContain('modules/m0.nix');
    expect(gitFiles(ws.dir)).not.toContain('overlays/tweaks.nix');
  });

  it('refuses a module whose raw expression would not parse and keeps the previous file', async () => {
    const before = readFileSync(join(ws.dir, 'modules/web.nix'), 'utf8');
    const unbalanced = await fail(ws.port, {
      kind: 'module.write',
      name: 'web',
      module: { config: { x: { $nix: '1); y = (2' } } },
    });
    expect(unbalanced.code).toBe('nix_failed');
    expect(unbalanced.message).toContain('unbalanced');
    const unparsable = await fail(ws.port, {
      kind: 'module.write',
      name: 'web',
      module: { config: { x: { $nix: 'a b = c' } } },
    });
    expect(unparsable.code).toBe('nix_failed');
    expect(unparsable.message).toContain('nix-instantiate --parse modules/web.nix');
    expect(readFileSync(join(ws.dir, 'modules/web.nix'), 'utf8')).toBe(before);
  });

  it('refuses module imports that are paths', async () => {
    const failure = await fail(ws.port, {
      kind: 'module.write',
      name: 'sneaky',
      module: { imports: ['../../etc/evil'] },
    });
    expect(failure.code).toBe('forbidden');
    expect(existsSync(join(ws.dir, 'modules/sneaky.nix'))).toBe(false);
  });
});
