/**
 * Renders a flake from a template: the description, the template's inputs merged with the
 * command's, `outputs` taking every input by name, and the template's extra files.
 */
import { basename } from 'node:path';
import { renderInput, type InputSpec } from './inputsEditor.js';
import { NIX_KEYWORDS } from './lexer.js';
import { renderString } from './nixValue.js';
import { TEMPLATES, type TemplateContext } from './templateCatalog.js';
import { TemplateError } from '../errors.js';

export interface RenderedFlake {
  /** Files relative to the flake directory; `flake.nix` first. */
  files: [string, string][];
}

/** The template names, in the order SPEC §3 lists them. */
export const TEMPLATE_NAMES = Object.keys(TEMPLATES);

/** Derives the package and host names from the flake directory's name. */
export function templateContext(flakeDir: string): TemplateContext {
  const base = basename(flakeDir).toLowerCase();
  const pname =
    base
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^[^a-z]+/, '')
      .replace(/-+$/, '') || 'app';
  const hostname = pname.slice(0, 63).replace(/-+$/, '') || 'nixos';
  return { pname, hostname };
}

/** Renders flake.nix and the extra files of `template` for the given flake directory. */
export function renderFlake(options: {
  template: string;
  description: string;
  inputs: Record<string, string>;
  flakeDir: string;
}): RenderedFlake {
  const def = TEMPLATES[options.template];
  if (def === undefined) {
    throw new TemplateError(`unknown template '${options.template}'; use one of ${TEMPLATE_NAMES.join(', ')}`);
  }
  const ctx = templateContext(options.flakeDir);
  const inputs: InputSpec[] = def.inputs.map((i) => ({ ...i }));
  for (const [name, url] of Object.entries(options.inputs)) {
    if (NIX_KEYWORDS.has(name) || name === 'self') {
      throw new TemplateError(`the input name '${name}' cannot be used: it is a Nix keyword or 'self'`);
    }
    const existing = inputs.find((i) => i.name === name);
    if (existing !== undefined) existing.url = url;
    else inputs.push({ name, url });
  }

  const lines = ['{', `  description = ${renderString(options.description)};`];
  if (inputs.length > 0) {
    lines.push('', '  inputs = {');
    for (const input of inputs) lines.push(`    ${renderInput(input, '    ')}`);
    lines.push('  };');
  }
  const args = `{ ${['self', ...inputs.map((i) => i.name)].join(', ')} }${def.argsAlias !== undefined ? `@${def.argsAlias}` : ''}`;
  lines.push('', `  outputs = ${args}:${def.body(ctx)}`, '}', '');
  const files: [string, string][] = [['flake.nix', lines.join('\n')]];
  for (const [name, content] of Object.entries(def.files(ctx))) files.push([name, content]);
  return { files };
}
