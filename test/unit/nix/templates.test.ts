import { describe, expect, it } from 'vitest';
import { declaredInputs, parseFlake } from '../../../src/nix/flakeSyntax.js';
import { renderFlake, TEMPLATE_NAMES, templateContext } from '../../../src/nix/templates.js';
import { TemplateError } from '../../../src/errors.js';

describe('flake templates (rendering)', () => {
  it('derives package and host names from the directory', () => {
    expect(templateContext('/w/My_Cool.App')).toEqual({ pname: 'my-cool-app', hostname: 'my-cool-app' });
    expect(templateContext('/w/123')).toEqual({ pname: 'app', hostname: 'app' });
  });

  it('gives minimal no inputs and a /bin/sh package', () => {
    const [[name, text]] = renderFlake({ template: 'minimal', description: 'd', inputs: {}, flakeDir: '/w/demo' }).files as [
      [string, string],
    ];
    expect(name).toBe('flake.nix');
    expect(text).not.toContain('inputs');
    expect(text).toContain('builder = "/bin/sh";');
    expect(text).toContain('outputs = { self }:');
  });

  it.each(TEMPLATE_NAMES)('%s declares its inputs plus the command inputs, all passed to outputs', (template) => {
    const { files } = renderFlake({ template, description: 'd', inputs: { extra: 'path:/x' }, flakeDir: '/w/demo' });
    const syntax = parseFlake(files[0]?.[1] ?? '');
    const inputs = declaredInputs(syntax);
    expect(inputs).toContain('extra');
    expect(files.map(([n]) => n)).toContain('.gitignore');
    for (const input of inputs) expect(files[0]?.[1]).toMatch(new RegExp(`outputs = \\{ self(, [a-z-]+)*, ${input}[ ,]`));
  });

  it('refuses an unknown template and unusable input names', () => {
    expect(() => renderFlake({ template: 'cobol', description: '', inputs: {}, flakeDir: '/w/x' })).toThrow(TemplateError);
    expect(() => renderFlake({ template: 'minimal', description: '', inputs: { self: 'x' }, flakeDir: '/w/x' })).toThrow(/self/);
    expect(() => renderFlake({ template: 'minimal', description: '', inputs: { in: 'x' }, flakeDir: '/w/x' })).toThrow(/keyword/);
  });
});
