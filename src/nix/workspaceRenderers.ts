/**
 * Renders the workspace's NixOS files from their JSON bodies: modules/<name>.nix,
 * overlays/<name>.nix, hosts/<name>/configuration.nix, and the workspace flake.nix that
 * exposes them as nixosModules, overlays and nixosConfigurations.
 */
import { posix } from 'node:path';
import { isIdentifier, RAW_KEY, renderAttrName, renderAttrPath, renderRaw, renderString, renderValue, under } from './nixValue.js';
import { nixFileLayouts, nixFileTypes, type NixFileLayout, type NixFileType } from '../../machines/index.js';
import { EffectError, RenderError } from '../errors.js';

/** Names of modules, overlays and configurations (also file names). */
export const RESOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRaw(value: unknown): value is { [RAW_KEY]: string } {
  return isObject(value) && Object.keys(value).length === 1 && typeof value[RAW_KEY] === 'string';
}

function objectField(body: Json, field: string, what: string): Json {
  const value = body[field] ?? {};
  if (!isObject(value)) throw new RenderError(`${what}.${field} must be an object`);
  return value;
}

function stringList(body: Json, field: string, what: string): string[] {
  const value = body[field] ?? [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new RenderError(`${what}.${field} must be a list of strings`);
  }
  return value as string[];
}

function header(kind: string, name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return `# Managed by cim-domain-nix (${kind} ${safe}): written from its events, so edits here are replaced on the next update.`;
}

/**
 * A reference from a file of type `from` to the file of type `to` named `entry` (by resource
 * name, the relative path from the layouts), or a `<nixpkgs/…>` path.
 */
function fileRef(entry: string, from: NixFileType, to: NixFileType, what: string): string {
  if (/^<[A-Za-z0-9._+-]+(\/[A-Za-z0-9._+-]+)*>$/.test(entry)) return entry;
  if (entry.includes('/') || entry.includes('..')) {
    throw new EffectError('forbidden', `${what} entry '${entry}' is a path; name a module of the workspace or a <nixpkgs/…> path.`);
  }
  if (!RESOURCE_NAME.test(entry)) throw new RenderError(`${what} entry '${entry}' is not a valid name`);
  const here = posix.dirname(nixFileLayouts[from].path('x'));
  const path = posix.relative(here, nixFileLayouts[to].path(entry));
  return path.startsWith('.') ? path : `./${path}`;
}

function list(items: string[], indent: string): string {
  if (items.length === 0) return '[ ]';
  return `[\n${items.map((i) => `${indent}  ${i}`).join('\n')}\n${indent}]`;
}

/** `listOf str` → `lib.types.listOf lib.types.str`; parentheses group. */
export function renderOptionType(type: unknown): string {
  if (isRaw(type)) return renderRaw(type[RAW_KEY]);
  if (typeof type !== 'string') throw new RenderError('an option type must be a string such as "bool" or "listOf str"');
  const words = type.match(/\(|\)|[^\s()]+/g) ?? [];
  if (words.length === 0) throw new RenderError('an option type is empty');
  // Groups must close in order and hold something: `listOf (str` or `listOf ()` never parse.
  let depth = 0;
  for (const [i, w] of words.entries()) {
    if (w === '(') depth++;
    if (w === ')') depth--;
    if (depth < 0) throw new RenderError(`the option type '${type}' closes a ')' it never opened`);
    if (w === '(' && words[i + 1] === ')') throw new RenderError(`the option type '${type}' has an empty group '()'`);
  }
  if (depth !== 0) throw new RenderError(`the option type '${type}' leaves a '(' unclosed`);
  return words
    .map((w) => {
      if (w === '(' || w === ')') return w;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(w)) {
        throw new RenderError(`the option type '${type}' uses '${w}'; use lib.types names or { "$nix": "…" }`);
      }
      return `lib.types.${w}`;
    })
    .join(' ')
    .replace(/\( /g, '(')
    .replace(/ \)/g, ')');
}

function isDeclaration(value: Json): boolean {
  return 'type' in value || 'default' in value || typeof value.description === 'string';
}

/** One option: a declaration object becomes `lib.mkOption { … }`; other objects nest. */
function renderOption(value: unknown, indent: string): string {
  const inner = `${indent}  `;
  if (isObject(value) && !isRaw(value) && !isDeclaration(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{ }';
    return `{\n${entries.map(([k, v]) => `${inner}${renderAttrName(k)} = ${under(k, () => renderOption(v, inner))};`).join('\n')}\n${indent}}`;
  }
  if (!isObject(value) || isRaw(value)) return `lib.mkOption {\n${inner}default = ${renderValue(value, inner)};\n${indent}}`;
  const lines = Object.entries(value).map(([k, v]) => {
    const rendered = under(k, () => (k === 'type' ? renderOptionType(v) : renderValue(v, inner)));
    return `${inner}${renderAttrName(k)} = ${rendered};`;
  });
  return `lib.mkOption {\n${lines.join('\n')}\n${indent}}`;
}

/** modules/<name>.nix from `{ options, config, imports }`. */
export function renderModule(name: string, body: Json): string {
  const options = objectField(body, 'options', 'module');
  const config = objectField(body, 'config', 'module');
  const imports = under('imports', () => stringList(body, 'imports', 'module').map((i, n) => under(n, () => fileRef(i, 'module', 'module', 'module.imports'))));
  const sections: string[] = [];
  if (imports.length > 0) sections.push(`  imports = ${list(imports, '  ')};`);
  const optionEntries = Object.entries(options);
  if (optionEntries.length > 0) {
    const lines = optionEntries.map(([k, v]) => `    ${renderAttrPath(k)} = ${under('options', () => under(k, () => renderOption(v, '    ')))};`);
    sections.push(`  options = {\n${lines.join('\n')}\n  };`);
  }
  sections.push(`  config = ${under('config', () => renderValue(config, '  ', { pathKeys: true }))};`);
  return `${header('module', name)}\n{ config, lib, pkgs, ... }:\n\n{\n${sections.join('\n\n')}\n}\n`;
}

/** overlays/<name>.nix from `{ overrides, additions }`. */
export function renderOverlay(name: string, body: Json): string {
  const overrides = objectField(body, 'overrides', 'overlay');
  const additions = objectField(body, 'additions', 'overlay');
  const clash = Object.keys(overrides).find((k) => k in additions);
  if (clash !== undefined) {
    const error = new RenderError(`'${clash}' is both an addition and an override of the overlay; keep one`);
    error.path.push('overrides', clash);
    throw error;
  }
  const lines: string[] = [];
  for (const [pkg, value] of Object.entries(additions)) lines.push(`  ${renderAttrName(pkg)} = ${under('additions', () => under(pkg, () => renderValue(value, '  ')))};`);
  for (const [pkg, value] of Object.entries(overrides)) {
    const attr = renderAttrName(pkg);
    const rendered = under('overrides', () => under(pkg, () => renderValue(value, '  ')));
    if (isObject(value) && !isRaw(value)) {
      const prev = isIdentifier(pkg) ? `prev.${pkg}` : `prev.${renderString(pkg)}`;
      lines.push(`  ${attr} = ${prev}.overrideAttrs (old: ${rendered});`);
    } else {
      lines.push(`  ${attr} = ${rendered};`);
    }
  }
  const set = lines.length === 0 ? '{ }' : `{\n${lines.join('\n')}\n}`;
  return `${header('overlay', name)}\nfinal: prev: ${set}\n`;
}

/** hosts/<name>/configuration.nix from `{ system, hostname, modules, overlays, packages, specialisations }`. */
export function renderConfiguration(name: string, body: Json): string {
  const what = 'configuration';
  const system = typeof body.system === 'string' ? body.system : 'x86_64-linux';
  if (typeof body.hostname !== 'string' || body.hostname === '') {
    const error = new RenderError('configuration.hostname must be a host name');
    error.path.push('hostname');
    throw error;
  }
  const modules = under('modules', () => stringList(body, 'modules', what).map((m, i) => under(i, () => fileRef(m, 'configuration', 'module', 'configuration.modules'))));
  const overlays = under('overlays', () =>
    stringList(body, 'overlays', what).map((o, i) => under(i, () => `(import ${fileRef(o, 'configuration', 'overlay', 'configuration.overlays')})`)),
  );
  const packages = under('packages', () => stringList(body, 'packages', what).map((p, i) => under(i, () => `pkgs.${renderAttrPath(p)}`)));
  const specialisations = objectField(body, 'specialisations', what);

  const sections: string[] = [];
  if (modules.length > 0) sections.push(`  imports = ${list(modules, '  ')};`);
  const platform = [`  nixpkgs.hostPlatform = lib.mkDefault ${renderString(system)};`];
  if (overlays.length > 0) platform.push(`  nixpkgs.overlays = ${list(overlays, '  ')};`);
  sections.push(platform.join('\n'));
  sections.push(`  networking.hostName = ${renderString(body.hostname)};`);
  if (packages.length > 0) sections.push(`  environment.systemPackages = ${list(packages, '  ')};`);
  const specs = Object.entries(specialisations);
  if (specs.length > 0) {
    const lines = specs.map(([spec, value]) => {
      if (!isObject(value)) throw new RenderError(`configuration.specialisations.${spec} must be an object of options`);
      return `    ${renderAttrName(spec)}.configuration = ${under('specialisations', () => under(spec, () => renderValue(value, '    ', { pathKeys: true })))};`;
    });
    sections.push(`  specialisation = {\n${lines.join('\n')}\n  };`);
  }
  return `${header('configuration', name)}\n{ config, lib, pkgs, ... }:\n\n{\n${sections.join('\n\n')}\n}\n`;
}

/** The renderer of each type of Nix file the workspace holds: its name and JSON body to the file's text. */
export const fileRenderers: Readonly<Record<NixFileType, (name: string, body: Json) => string>> = {
  module: renderModule,
  overlay: renderOverlay,
  configuration: renderConfiguration,
};

/** The names of the files of each type found in the workspace, sorted. */
export type WorkspaceContents = Readonly<Record<NixFileType, readonly string[]>>;

function section(name: string, entries: string[]): string {
  if (entries.length === 0) return `    ${name} = { };`;
  return `    ${name} = {\n${entries.map((e) => `      ${e}`).join('\n')}\n    };`;
}

/** How each output of the workspace flake takes one file (a path relative to the flake). */
const flakeEntry: Readonly<Record<NixFileLayout['flakeOutput'], (file: string) => string>> = {
  nixosModules: (file) => `./${file}`,
  overlays: (file) => `import ./${file}`,
  nixosConfigurations: (file) => `nixpkgs.lib.nixosSystem {\n        modules = [ ./${file} ];\n      }`,
};

/** The workspace flake.nix exposing every module, overlay and configuration, each under its layout's flake output. */
export function renderWorkspaceFlake(contents: WorkspaceContents): string {
  const sections = nixFileTypes.map((type) => {
    const layout: NixFileLayout = nixFileLayouts[type];
    const entries = contents[type].map((name) => `${renderAttrName(name)} = ${flakeEntry[layout.flakeOutput](layout.path(name))};`);
    return section(layout.flakeOutput, entries);
  });
  return [
    '# Managed by cim-domain-nix: regenerated whenever a module, overlay or configuration changes.',
    '{',
    '  description = "NixOS modules, overlays and configurations of this workspace";',
    '',
    '  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";',
    '',
    '  outputs = { self, nixpkgs }: {',
    sections.join('\n\n'),
    '  };',
    '}',
    '',
  ].join('\n');
}
