/**
 * The flake templates `flake.create` offers: for each, its inputs, the body of `outputs`
 * and the extra files written next to flake.nix. `minimal` has no inputs and builds with
 * `/bin/sh` alone, so it locks and builds with no network.
 */
import type { InputSpec } from './inputsEditor.js';
import { renderAttrName, renderString } from './nixValue.js';

export interface TemplateContext {
  /** A package name derived from the flake directory (`[a-z][a-z0-9-]*`). */
  pname: string;
  /** A host name derived from the flake directory (letters, digits, '-'). */
  hostname: string;
}

export interface FlakeTemplateDef {
  inputs: InputSpec[];
  /** `@inputs` when the body needs every input by name. */
  argsAlias?: string;
  /** Text after `outputs = { … }:` — starts with ` {` (same line) or a newline and `let`. */
  body: (ctx: TemplateContext) => string;
  files: (ctx: TemplateContext) => Record<string, string>;
}

const NIXPKGS: InputSpec = { name: 'nixpkgs', url: 'github:NixOS/nixpkgs/nixos-unstable' };

const GITIGNORE_BASE = ['result', 'result-*', '.direnv/'];

function gitignore(...extra: string[]): string {
  return `${[...GITIGNORE_BASE, ...extra].join('\n')}\n`;
}

/** The `let … in` that every nixpkgs-based template opens with. */
const PER_SYSTEM = `
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.\${system});
    in
    {`;

function perSystem(sections: string[]): string {
  return `${PER_SYSTEM}\n${sections.join('\n\n')}\n\n      formatter = forAllSystems (pkgs: pkgs.nixpkgs-fmt);\n    };`;
}

function devShell(lines: string[]): string {
  return [
    '      devShells = forAllSystems (pkgs: {',
    '        default = pkgs.mkShell {',
    ...lines.map((l) => `          ${l}`),
    '        };',
    '      });',
  ].join('\n');
}

function pkg(lines: string[]): string {
  return ['      packages = forAllSystems (pkgs: {', ...lines.map((l) => `        ${l}`), '      });'].join('\n');
}

const minimal: FlakeTemplateDef = {
  inputs: [],
  body: ({ pname }) => `
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
    in
    {
      packages = forAllSystems (system: {
        default = builtins.derivation {
          name = ${renderString(pname)};
          inherit system;
          builder = "/bin/sh";
          args = [ "-c" ${renderString(`echo 'Hello from ${pname}' > $out`)} ];
        };
      });
    };`,
  files: () => ({ '.gitignore': gitignore() }),
};

const devshell: FlakeTemplateDef = {
  inputs: [NIXPKGS],
  body: () =>
    perSystem([
      devShell([
        'packages = with pkgs; [ git nixpkgs-fmt ];',
        "shellHook = ''",
        '  echo "Development shell ready: $(git --version)"',
        "'';",
      ]),
    ]),
  files: () => ({ '.gitignore': gitignore(), '.envrc': 'use flake\n' }),
};

const rust: FlakeTemplateDef = {
  inputs: [NIXPKGS],
  body: ({ pname }) =>
    perSystem([
      pkg([
        'default = pkgs.rustPlatform.buildRustPackage {',
        `  pname = ${renderString(pname)};`,
        '  version = "0.1.0";',
        '  src = ./.;',
        '  cargoLock.lockFile = ./Cargo.lock;',
        '};',
      ]),
      devShell([
        'inputsFrom = [ self.packages.${pkgs.system}.default ];',
        'packages = with pkgs; [ rust-analyzer clippy rustfmt ];',
        'RUST_SRC_PATH = "${pkgs.rustPlatform.rustLibSrc}";',
      ]),
    ]),
  files: () => ({ '.gitignore': gitignore('/target'), '.envrc': 'use flake\n' }),
};

const python: FlakeTemplateDef = {
  inputs: [NIXPKGS],
  body: ({ pname }) =>
    perSystem([
      pkg([
        'default = pkgs.python3Packages.buildPythonApplication {',
        `  pname = ${renderString(pname)};`,
        '  version = "0.1.0";',
        '  pyproject = true;',
        '  src = ./.;',
        '  build-system = [ pkgs.python3Packages.setuptools ];',
        '};',
      ]),
      devShell(['packages = [', '  (pkgs.python3.withPackages (ps: with ps; [ pip pytest ]))', '  pkgs.ruff', '];']),
    ]),
  files: () => ({ '.gitignore': gitignore('__pycache__/', '*.pyc', '.venv/'), '.envrc': 'use flake\n' }),
};

const nodejs: FlakeTemplateDef = {
  inputs: [NIXPKGS],
  body: ({ pname }) =>
    perSystem([
      pkg([
        'default = pkgs.buildNpmPackage {',
        `  pname = ${renderString(pname)};`,
        '  version = "0.1.0";',
        '  src = ./.;',
        '  # Replace with the hash nix prints on the first build.',
        '  npmDepsHash = pkgs.lib.fakeHash;',
        '};',
      ]),
      devShell(['packages = with pkgs; [ nodejs_20 typescript ];']),
    ]),
  files: () => ({ '.gitignore': gitignore('node_modules/', 'dist/'), '.envrc': 'use flake\n' }),
};

const go: FlakeTemplateDef = {
  inputs: [NIXPKGS],
  body: ({ pname }) =>
    perSystem([
      pkg([
        'default = pkgs.buildGoModule {',
        `  pname = ${renderString(pname)};`,
        '  version = "0.1.0";',
        '  src = ./.;',
        '  # Set to the hash nix prints once go.mod has dependencies.',
        '  vendorHash = null;',
        '};',
      ]),
      devShell(['packages = with pkgs; [ go gopls gotools golangci-lint ];']),
    ]),
  files: () => ({ '.gitignore': gitignore('/bin/'), '.envrc': 'use flake\n' }),
};

const cpp: FlakeTemplateDef = {
  inputs: [NIXPKGS],
  body: ({ pname }) =>
    perSystem([
      pkg([
        'default = pkgs.stdenv.mkDerivation {',
        `  pname = ${renderString(pname)};`,
        '  version = "0.1.0";',
        '  src = ./.;',
        '  nativeBuildInputs = with pkgs; [ cmake ninja pkg-config ];',
        '};',
      ]),
      devShell(['inputsFrom = [ self.packages.${pkgs.system}.default ];', 'packages = with pkgs; [ clang-tools gdb ];']),
    ]),
  files: () => ({ '.gitignore': gitignore('build/', 'compile_commands.json'), '.envrc': 'use flake\n' }),
};

const haskell: FlakeTemplateDef = {
  inputs: [NIXPKGS],
  body: ({ pname }) =>
    perSystem([
      pkg([`default = pkgs.haskellPackages.callCabal2nix ${renderString(pname)} ./. { };`]),
      [
        '      devShells = forAllSystems (pkgs: {',
        '        default = pkgs.haskellPackages.shellFor {',
        '          packages = _: [ self.packages.${pkgs.system}.default ];',
        '          nativeBuildInputs = with pkgs; [ cabal-install haskell-language-server ghcid ];',
        '        };',
        '      });',
      ].join('\n'),
    ]),
  files: () => ({ '.gitignore': gitignore('dist-newstyle/'), '.envrc': 'use flake\n' }),
};

const polyglot: FlakeTemplateDef = {
  inputs: [NIXPKGS],
  body: () =>
    perSystem([
      devShell([
        'packages = with pkgs; [',
        '  # Rust',
        '  cargo',
        '  rustc',
        '  rust-analyzer',
        '  # Python',
        '  (python3.withPackages (ps: with ps; [ pip pytest ]))',
        '  # JavaScript and TypeScript',
        '  nodejs_20',
        '  # Go',
        '  go',
        '  gopls',
        '  # C and C++',
        '  gcc',
        '  cmake',
        '];',
      ]),
    ]),
  files: () => ({
    '.gitignore': gitignore('/target', 'node_modules/', '__pycache__/', 'build/'),
    '.envrc': 'use flake\n',
  }),
};

const nixos: FlakeTemplateDef = {
  inputs: [NIXPKGS],
  argsAlias: 'inputs',
  body: ({ hostname }) => ` {
    nixosConfigurations.${renderAttrName(hostname)} = nixpkgs.lib.nixosSystem {
      specialArgs = { inherit inputs; };
      modules = [ ./configuration.nix ];
    };
  };`,
  files: ({ hostname }) => ({
    '.gitignore': gitignore(),
    'configuration.nix': `{ config, lib, pkgs, inputs, ... }:

{
  nixpkgs.hostPlatform = "x86_64-linux";
  networking.hostName = ${renderString(hostname)};

  # Replace with the output of nixos-generate-config for the real machine.
  boot.loader.systemd-boot.enable = true;
  boot.loader.efi.canTouchEfiVariables = true;
  fileSystems."/" = {
    device = "/dev/disk/by-label/nixos";
    fsType = "ext4";
  };

  nix.settings.experimental-features = [ "nix-command" "flakes" ];

  services.openssh.enable = true;

  environment.systemPackages = with pkgs; [ git vim ];

  # The release this machine was first installed with; do not change it later.
  system.stateVersion = "24.11";
}
`,
  }),
};

const homeManager: FlakeTemplateDef = {
  inputs: [NIXPKGS, { name: 'home-manager', url: 'github:nix-community/home-manager', follows: { nixpkgs: 'nixpkgs' } }],
  body: () => `
    let
      system = "x86_64-linux";
      pkgs = nixpkgs.legacyPackages.\${system};
    in
    {
      # Rename "user" to your login name here and in home.nix.
      homeConfigurations.user = home-manager.lib.homeManagerConfiguration {
        inherit pkgs;
        modules = [ ./home.nix ];
      };
    };`,
  files: () => ({
    '.gitignore': gitignore(),
    'home.nix': `{ config, pkgs, ... }:

{
  home.username = "user";
  home.homeDirectory = "/home/user";

  # The release this configuration was first written for; do not change it later.
  home.stateVersion = "24.11";

  home.packages = with pkgs; [ ripgrep fd jq ];

  programs.git.enable = true;
  programs.home-manager.enable = true;
}
`,
  }),
};

/** Every template by its name. */
export const TEMPLATES: Readonly<Record<string, FlakeTemplateDef>> = {
  minimal,
  rust,
  python,
  nodejs,
  go,
  cpp,
  haskell,
  polyglot,
  nixos,
  'home-manager': homeManager,
  devshell,
};
