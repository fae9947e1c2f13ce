import { describe, expect, it } from 'vitest';
import { isTrivia, lex } from '../../../src/nix/lexer.js';
import { NixSyntaxError } from '../../../src/errors.js';

function significant(src: string): string[] {
  return lex(src)
    .filter((t) => !isTrivia(t))
    .map((t) => `${t.kind}:${t.text}`);
}

describe('nix lexer', () => {
  it('keeps every byte: the tokens concatenate to the source', () => {
    const src = `# comment\n{ a = "x\${ { b = "}"; }.b }y"; /* c */ p = ./x/y; u = https://e.org/a?b=c; s = <nixpkgs>; }\n`;
    expect(
      lex(src)
        .map((t) => t.text)
        .join(''),
    ).toBe(src);
  });

  it('reads a string with nested interpolations and braces inside as one token', () => {
    expect(significant('"a ${ { x = "}"; }.x } b" c')).toEqual(['string:"a ${ { x = "}"; }.x } b"', 'ident:c']);
  });

  it('reads escapes in strings and indented strings', () => {
    expect(significant('"q\\"uote" x')).toEqual(['string:"q\\"uote"', 'ident:x']);
    expect(significant("'' a ''' b ''${x} c ''\\n d '' y")).toEqual(["string:'' a ''' b ''${x} c ''\\n d ''", 'ident:y']);
    expect(significant("'' ${ \"''\" } '' z")).toEqual(["string:'' ${ \"''\" } ''", 'ident:z']);
  });

  it('ends a # comment at \\r as nix does, and at \\n, but not at other line separators', () => {
    expect(significant('1 #c\r) x')).toEqual(['number:1', 'punct:)', 'ident:x']);
    expect(significant('1 #c\r\n) x')).toEqual(['number:1', 'punct:)', 'ident:x']);
    expect(significant('1 #c\n) x')).toEqual(['number:1', 'punct:)', 'ident:x']);
    for (const sep of ['\u2028', '\u2029', '\u0085', '\f', '\v']) {
      expect(significant(`1 #c${sep}) x`), JSON.stringify(sep)).toEqual(['number:1']);
    }
    expect(lex('#a\rb').map((t) => `${t.kind}:${JSON.stringify(t.text)}`)).toEqual(['comment:"#a"', 'ws:"\\r"', 'ident:"b"']);
  });

  it('leaves an interpolation at the first } no { or ${ of its own opened, whatever ( or [ came before', () => {
    // nix pops back into the string at that `}`: the `) ; x = (` after it is string text.
    expect(significant('"${(a)}" b')).toEqual(['string:"${(a)}"', 'ident:b']);
    expect(significant('"${ ( }" ) "x"')).toEqual(['string:"${ ( }"', 'punct:)', 'string:"x"']);
    expect(significant("''${[a]}'' c")).toEqual(["string:''${[a]}''", 'ident:c']);
    expect(significant('"${ { a = "}"; }.a }" d')).toEqual(['string:"${ { a = "}"; }.a }"', 'ident:d']);
  });

  it('treats $$ and $\\{ in strings as text, not interpolation', () => {
    expect(significant('"$${x" y')).toEqual(['string:"$${x"', 'ident:y']);
  });

  it('tells comments, paths, URIs, numbers and operators apart', () => {
    expect(significant('a/b ./c ~/d <e/f> http://x.y/z 1.5 // ++ ... -> x:y')).toEqual([
      'path:a/b',
      'path:./c',
      'path:~/d',
      'path:<e/f>',
      'uri:http://x.y/z',
      'number:1.5',
      'punct://',
      'punct:++',
      'punct:...',
      'punct:->',
      'uri:x:y',
    ]);
    expect(lex('a /* b */ # c').map((t) => t.kind)).toEqual(['ident', 'ws', 'comment', 'ws', 'comment']);
    expect(significant("foo-bar' x.y")).toEqual(["ident:foo-bar'", 'ident:x', 'punct:.', 'ident:y']);
  });

  it('reports unterminated strings and comments with their line', () => {
    expect(() => lex('{\n a = "open;\n}')).toThrow(NixSyntaxError);
    expect(() => lex('{\n a = "open;\n}')).toThrow(/line 2/);
    expect(() => lex("x = '' never closed")).toThrow(/indented string/);
    expect(() => lex('/* never closed')).toThrow(/comment/);
    expect(() => lex('"${ unclosed "')).toThrow(NixSyntaxError);
  });
});
