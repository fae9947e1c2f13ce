import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEMPLATE_NAMES } from '../../../src/nix/index.js';
import { renderValue } from '../../../src/nix/nixValue.js';
import { nixEvalJson, nixParse, succeed, tempWorkspace, type TempWorkspace } from '../../support/nix/workspace.js';

const SPEC_TEMPLATES = ['minimal', 'rust', 'python', 'nodejs', 'go', 'cpp', 'haskell', 'polyglot', 'nixos', 'home-manager', 'devshell'];

describe('nix port: flake templates', () => {
  let ws: TempWorkspace;
  beforeAll(() => {
    ws = tempWorkspace();
  });
  afterAll(() => ws.cleanup());

  it('offers exactly the templates of the spec', () => {
    expect([...TEMPLATE_NAMES].sort()).toEqual([...SPEC_TEMPLATES].sort());
  });

  it.each(SPEC_TEMPLATES)('renders %s into files nix-instantiate --parse accepts', async (template) => {
    const description = `A ${template} project with "quotes", \${not interpolated} and a \\ backslash`;
    const result = await succeed(ws.port, {
      kind: 'flake.write',
      path: `t/${template}`,
      description,
      template,
      inputs: { extra: 'github:example/extra' },
    });
    const files = result.files as string[];
    expect(files[0]).toBe(`t/${template}/flake.nix`);
    expect(files).toContain(`t/${template}/.gitignore`);
    for (const file of files.filter((f) => f.endsWith('.nix'))) {
      const parsed = nixParse(join(ws.dir, file));
      expect(parsed.stderr).toBe('');
      expect(parsed.status).toBe(0);
    }
    const text = readFileSync(join(ws.dir, files[0] as string), 'utf8');
    // The description survives escaping exactly.
    const evaluated = nixEvalJson(`(import ${join(ws.dir, files[0] as string)}).description`);
    expect(evaluated).toBe(description);
    expect(text).toContain('extra.url = "github:example/extra";');
    expect(text).toMatch(/outputs = \{ self(, [a-z-]+)*, extra \}/);
    expect(text).not.toMatch(/template/i);
    // Formatted: two-space indentation, no tabs, no trailing blanks, one final newline.
    expect(text).not.toMatch(/\t| +\n/);
    expect(text.endsWith('}\n')).toBe(true);
    for (const line of text.split('\n')) expect((/^ */.exec(line)?.[0].length ?? 0) % 2).toBe(0);
  });

  it('merges command inputs over the inputs of the template', async () => {
    await succeed(ws.port, {
      kind: 'flake.write',
      path: 'pinned',
      description: 'pinned nixpkgs',
      template: 'devshell',
      inputs: { nixpkgs: 'github:NixOS/nixpkgs/nixos-24.05' },
    });
    const text = readFileSync(join(ws.dir, 'pinned/flake.nix'), 'utf8');
    expect(text.match(/nixpkgs\.url/g)).toHaveLength(1);
    expect(text).toContain('nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05";');
  });

  it('renders JSON values that evaluate back to the same JSON', () => {
    const value = {
      text: 'line 1\nline 2\ttab "quoted" \\ back ${x} $${y} \'\' end',
      unicode: 'grüße ✓',
      numbers: [0, 1, -1, 2.5, -0.125, 1e-7, 123456789],
      nested: { 'with space': true, 'dotted.key': null, if: 'keyword', list: [[], {}, [1, [2]]] },
      empty: '',
    };
    expect(nixEvalJson(renderValue(value))).toEqual(value);
  });
});
