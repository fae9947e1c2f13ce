import { describe, expect, it } from 'vitest';
import { declaredInputs, functionFormals, parseFlake } from '../../../src/nix/flakeSyntax.js';
import { addInput, removeInput, renderInput } from '../../../src/nix/inputsEditor.js';
import { InputEditError } from '../../../src/errors.js';

const TEMPLATE = `{
  description = "x";

  outputs = { self }:
    let
      a = 1;
    in
    { inherit a; };
}
`;

function formalsOf(src: string): string[] {
  const syntax = parseFlake(src);
  const outputs = syntax.top.bindings.find((b) => b.path[0] === 'outputs');
  if (outputs === undefined) throw new Error('no outputs');
  return functionFormals(syntax, outputs)?.formals.map((f) => f.name) ?? [];
}

describe('flake inputs editor', () => {
  it('renders an input as one line, or a block when it has flake or follows', () => {
    expect(renderInput({ name: 'nixpkgs', url: 'github:NixOS/nixpkgs' }, '    ')).toBe('nixpkgs.url = "github:NixOS/nixpkgs";');
    expect(renderInput({ name: 'hm', url: 'u', flake: false, follows: { nixpkgs: 'nixpkgs' } }, '  ')).toBe(
      'hm = {\n    url = "u";\n    flake = false;\n    inputs.nixpkgs.follows = "nixpkgs";\n  };',
    );
    expect(renderInput({ name: 'in', url: 'u' }, '')).toBe('"in".url = "u";');
  });

  it('adds an inputs block after the description and the name to a closed outputs pattern', () => {
    const edited = addInput(TEMPLATE, { name: 'lib', url: 'path:/w/lib' });
    expect(edited).toBe(`{
  description = "x";

  inputs = {
    lib.url = "path:/w/lib";
  };

  outputs = { self, lib }:
    let
      a = 1;
    in
    { inherit a; };
}
`);
    expect(removeInput(edited, 'lib')).toBe(TEMPLATE);
  });

  it('appends to an existing inputs set, keeping comments, follows and flake = false', () => {
    const src = `{
  inputs = {
    # pinned
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05"; # stable
    data = { url = "path:/d"; flake = false; };
    hm.inputs.nixpkgs.follows = "nixpkgs";
    hm.url = "github:nix-community/home-manager";
  };
  outputs = { self, nixpkgs, data, hm, ... }@inputs: { };
}
`;
    const edited = addInput(src, { name: 'extra', url: 'path:/e' });
    expect(edited).toBe(
      src.replace('"github:nix-community/home-manager";\n', '"github:nix-community/home-manager";\n    extra.url = "path:/e";\n'),
    );
    // An open pattern (`...`) gets no new argument.
    expect(formalsOf(edited)).toEqual(['self', 'nixpkgs', 'data', 'hm']);
    const withoutHm = removeInput(edited, 'hm') ?? '';
    expect(withoutHm).not.toContain('hm');
    expect(withoutHm).toContain('# pinned\n    nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05"; # stable\n');
    expect(withoutHm).toContain('data = { url = "path:/d"; flake = false; };');
    expect(declaredInputs(parseFlake(withoutHm))).toEqual(['nixpkgs', 'data', 'extra']);
    expect(formalsOf(withoutHm)).toEqual(['self', 'nixpkgs', 'data']);
  });

  it('follows the dotted style when the flake uses inputs.<name>… bindings', () => {
    const src = `{
  inputs.a.url = "path:/a";
  inputs.a.flake = false;
  outputs = { self, a }: { };
}
`;
    const edited = addInput(src, { name: 'b', url: 'path:/b' });
    expect(edited).toContain('  inputs.a.flake = false;\n  inputs.b.url = "path:/b";\n');
    expect(edited).toContain('outputs = { self, a, b }:');
    expect(removeInput(edited, 'a')).toBe(`{
  inputs.b.url = "path:/b";
  outputs = { self, b }: { };
}
`);
  });

  it('handles multi-line argument patterns, trailing commas and defaults', () => {
    const src = `{
  inputs.a.url = "path:/a";
  outputs = {
    self,
    a ? { x = 1; },
  }: { };
}
`;
    const edited = addInput(src, { name: 'b', url: 'path:/b' });
    expect(edited).toContain('  outputs = {\n    self,\n    a ? { x = 1; },\n    b,\n  }: { };');
    expect(removeInput(edited, 'a')).toContain('  outputs = {\n    self,\n    b,\n  }: { };');
    expect(removeInput(removeInput(edited, 'b') ?? '', 'a')).toContain('  outputs = {\n    self,\n  }: { };');
  });

  it('skips values with let … in, with and assert when finding the end of a binding', () => {
    const src = `{
  outputs = { self }: let x = with builtins; 1; y = assert true; 2; in { z = x + y; };
  description = "after";
}
`;
    const syntax = parseFlake(src);
    expect(syntax.top.bindings.map((b) => b.path.join('.'))).toEqual(['outputs', 'description']);
    expect(addInput(src, { name: 'q', url: 'path:/q' })).toContain('description = "after";\n\n  inputs = {');
  });

  it('refuses duplicates, keyword argument names and files that are not an attribute set', () => {
    const src = addInput(TEMPLATE, { name: 'lib', url: 'path:/l' });
    expect(() => addInput(src, { name: 'lib', url: 'path:/other' })).toThrow(InputEditError);
    expect(() => addInput(TEMPLATE, { name: 'with', url: 'path:/w' })).toThrow(/keyword/);
    expect(() => addInput('let a = 1; in { }', { name: 'x', url: 'y' })).toThrow(/single attribute set/);
    expect(() => addInput('{ inputs = import ./inputs.nix; outputs = _: { }; }', { name: 'x', url: 'y' })).toThrow(
      /not a plain attribute set/,
    );
    expect(removeInput(TEMPLATE, 'absent')).toBeNull();
  });

  it('keeps an inputs set that still holds comments when its last input goes', () => {
    const src = `{
  inputs = {
    # add inputs here
    a.url = "path:/a";
  };
  outputs = { self, a }: { };
}
`;
    expect(removeInput(src, 'a')).toBe(`{
  inputs = {
    # add inputs here
  };
  outputs = { self }: { };
}
`);
  });
});
