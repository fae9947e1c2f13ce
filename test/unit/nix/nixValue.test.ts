import { describe, expect, it } from 'vitest';
import { checkRawExpression, renderAttrName, renderAttrPath, renderNumber, renderString, renderValue } from '../../../src/nix/nixValue.js';
import { RenderError } from '../../../src/errors.js';

describe('JSON to Nix renderer', () => {
  it('escapes strings: backslash, quote, interpolation and control characters', () => {
    expect(renderString('a"b\\c${d}$e\n\r\t')).toBe('"a\\"b\\\\c\\${d}$e\\n\\r\\t"');
    expect(renderString('')).toBe('""');
    expect(() => renderString('nul\0')).toThrow(RenderError);
  });

  it('writes numbers as Nix literals, negatives in parentheses', () => {
    expect(renderNumber(42)).toBe('42');
    expect(renderNumber(-3)).toBe('(-3)');
    expect(renderNumber(2.5)).toBe('2.5');
    expect(renderNumber(1e-7)).toBe('1.0e-7');
    expect(renderNumber(1e21)).toBe('1.0e+21');
    expect(renderValue([1, -1])).toBe('[ 1 (-1) ]');
  });

  it('quotes attribute names that are not identifiers or are keywords', () => {
    expect(renderAttrName('foo-bar')).toBe('foo-bar');
    expect(renderAttrName("x'")).toBe("x'");
    expect(renderAttrName('1st')).toBe('"1st"');
    expect(renderAttrName('with space')).toBe('"with space"');
    expect(renderAttrName('inherit')).toBe('"inherit"');
    expect(renderAttrPath('services.nginx.enable')).toBe('services.nginx.enable');
    expect(renderAttrPath('fileSystems./.device')).toBe('fileSystems."/".device');
    expect(renderAttrPath('a..b')).toBe('"a..b"');
  });

  it('renders objects one binding per line and short scalar lists inline', () => {
    expect(renderValue({ a: 1, 'b.c': [true, null, 'x'], d: {} }, '  ')).toBe(
      '{\n    a = 1;\n    "b.c" = [ true null "x" ];\n    d = { };\n  }',
    );
    expect(renderValue({ 'b.c': 1 }, '', { pathKeys: true })).toBe('{\n  b.c = 1;\n}');
    expect(renderValue([{ a: 1 }])).toBe('[\n  {\n    a = 1;\n  }\n]');
    expect(renderValue([])).toBe('[ ]');
    const long = Array.from({ length: 20 }, (_, i) => `item-${i}`);
    expect(renderValue(long).split('\n')).toHaveLength(22);
  });

  it('inserts raw expressions in parentheses only when they are self-contained', () => {
    expect(renderValue({ $nix: 'pkgs.hello' })).toBe('(pkgs.hello)');
    expect(renderValue({ $nix: 'x # note' })).toBe('(x # note\n)');
    expect(renderValue({ $nix: 'let a = 1; in a' })).toBe('(let a = 1; in a)');
    expect(() => checkRawExpression('1); evil = (2')).toThrow(/unbalanced/);
    expect(() => checkRawExpression('{ a = 1;')).toThrow(/not closed/);
    expect(() => checkRawExpression('"open')).toThrow(/does not lex/);
    expect(() => checkRawExpression('  ')).toThrow(/empty/);
    // Comments end at \r for nix: what follows is code, and here it closes our parenthesis.
    expect(() => checkRawExpression('1 #\r) ; injected = (2')).toThrow(/unbalanced/);
    expect(() => checkRawExpression('"${(x)}" ) ; injected = ( "}"')).toThrow(/unbalanced/);
    expect(() => checkRawExpression('1 # \0 ) ; x = (')).toThrow(/NUL/);
    expect(renderValue({ $nix: '1 #\r' })).toBe('(1 #\n)');
    // Only nix white space is trimmed: a line separator stays (and nix then refuses it).
    expect(renderValue({ $nix: ' 1\u2028' })).toBe('(1\u2028)');
    // An object with other keys besides $nix is plain data.
    expect(renderValue({ $nix: 'x', other: 1 })).toBe('{\n  "$nix" = "x";\n  other = 1;\n}');
  });
});
