/**
 * A Nix lexer good enough to edit flake files without a full parser: it keeps every byte
 * (whitespace and comments are tokens too), treats each string — interpolations included —
 * as one token, and tells brackets, identifiers and punctuation apart.
 */
import { NixSyntaxError } from '../errors.js';

export type TokenKind = 'ws' | 'comment' | 'ident' | 'string' | 'number' | 'path' | 'uri' | 'punct';

export interface Token {
  kind: TokenKind;
  text: string;
  start: number;
  end: number;
}

/** Words that cannot be bare attribute names or formal arguments. */
export const NIX_KEYWORDS: ReadonlySet<string> = new Set(['if', 'then', 'else', 'assert', 'with', 'let', 'in', 'rec', 'inherit', 'or']);

/** Tokens that open a bracket and the text that closes them. */
export const OPENERS: Readonly<Record<string, string>> = { '{': '}', '(': ')', '[': ']', '${': '}' };

const URI = /[a-zA-Z][a-zA-Z0-9+\-.]*:[a-zA-Z0-9%/?:@&=+$,\-_.!~*']+/y;
const PATH = /(?:[a-zA-Z0-9._\-+]*(?:\/[a-zA-Z0-9._\-+]+)+\/?|~(?:\/[a-zA-Z0-9._\-+]+)+\/?)/y;
const SPATH = /<[a-zA-Z0-9._\-+]+(?:\/[a-zA-Z0-9._\-+]+)*>/y;
const NUMBER = /(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/y;
const IDENT = /[a-zA-Z_][a-zA-Z0-9_'-]*/y;
const WS = /[ \t\r\n]+/y;
/** nix 2.8's lexer: `\#[^\r\n]*` — a `#` comment ends at a carriage return as well as a newline. */
const LINE_COMMENT = /#[^\r\n]*/y;
const PUNCT3 = ['...'];
const PUNCT2 = ['${', '==', '!=', '<=', '>=', '&&', '||', '->', '//', '++'];

function lineOf(src: string, at: number): number {
  let line = 1;
  for (let i = 0; i < at && i < src.length; i++) if (src.charCodeAt(i) === 10) line++;
  return line;
}

function matchAt(re: RegExp, src: string, at: number): string | null {
  re.lastIndex = at;
  const m = re.exec(src);
  return m ? m[0] : null;
}

class Lexer {
  constructor(private readonly src: string) {}

  /**
   * Lexes from `at` to the end (or, with `untilClose`, to the `}` closing an interpolation).
   * Only `{` and `${` count towards that `}`: nix's lexer leaves an interpolation at the first
   * `}` that no `{` or `${` of its own opened, whatever `(` or `[` came before it.
   */
  run(at: number, untilClose: boolean): { tokens: Token[]; end: number } {
    const tokens: Token[] = [];
    let braces = 0;
    let pos = at;
    while (pos < this.src.length) {
      const token = this.next(pos);
      if (token.kind === 'punct' && token.text === '}') {
        if (untilClose && braces === 0) return { tokens, end: token.end };
        braces--;
      }
      if (token.kind === 'punct' && (token.text === '{' || token.text === '${')) braces++;
      tokens.push(token);
      pos = token.end;
    }
    if (untilClose) throw new NixSyntaxError(`unterminated \${ … } interpolation starting on line ${lineOf(this.src, at)}`);
    return { tokens, end: pos };
  }

  private make(kind: TokenKind, start: number, end: number): Token {
    return { kind, text: this.src.slice(start, end), start, end };
  }

  private next(pos: number): Token {
    const src = this.src;
    const ch = src[pos] ?? '';
    const ws = matchAt(WS, src, pos);
    if (ws !== null) return this.make('ws', pos, pos + ws.length);
    if (ch === '#') return this.make('comment', pos, pos + (matchAt(LINE_COMMENT, src, pos) ?? '#').length);
    if (src.startsWith('/*', pos)) {
      const close = src.indexOf('*/', pos + 2);
      if (close < 0) throw new NixSyntaxError(`unterminated /* comment */ starting on line ${lineOf(src, pos)}`);
      return this.make('comment', pos, close + 2);
    }
    if (ch === '"') return this.make('string', pos, this.scanString(pos));
    if (src.startsWith("''", pos)) return this.make('string', pos, this.scanIndentedString(pos));
    for (const [re, kind] of [
      [URI, 'uri'],
      [PATH, 'path'],
      [SPATH, 'path'],
    ] as const) {
      const m = matchAt(re, src, pos);
      if (m !== null) return this.make(kind, pos, pos + m.length);
    }
    const num = matchAt(NUMBER, src, pos);
    if (num !== null) return this.make('number', pos, pos + num.length);
    const ident = matchAt(IDENT, src, pos);
    if (ident !== null) return this.make('ident', pos, pos + ident.length);
    for (const p of [...PUNCT3, ...PUNCT2]) if (src.startsWith(p, pos)) return this.make('punct', pos, pos + p.length);
    return this.make('punct', pos, pos + 1);
  }

  /** Returns the index after the closing quote of the "…" string at `start`. */
  private scanString(start: number): number {
    const src = this.src;
    let i = start + 1;
    while (i < src.length) {
      const c = src[i];
      if (c === '\\') i += 2;
      else if (c === '"') return i + 1;
      else if (c === '$' && src[i + 1] === '{') i = this.run(i + 2, true).end;
      else if (c === '$' && src[i + 1] === '$') i += 2;
      else i++;
    }
    throw new NixSyntaxError(`unterminated string starting on line ${lineOf(src, start)}`);
  }

  /** Returns the index after the closing '' of the indented string at `start`. */
  private scanIndentedString(start: number): number {
    const src = this.src;
    let i = start + 2;
    while (i < src.length) {
      if (src.startsWith("''", i)) {
        const after = src[i + 2];
        if (after === "'" || after === '$') i += 3;
        else if (after === '\\') i += 4;
        else return i + 2;
      } else if (src[i] === '$' && src[i + 1] === '{') i = this.run(i + 2, true).end;
      else if (src[i] === '$' && src[i + 1] === '$') i += 2;
      else i++;
    }
    throw new NixSyntaxError(`unterminated ''indented string'' starting on line ${lineOf(src, start)}`);
  }
}

/** Lexes a whole file. Throws {@link NixSyntaxError} on unterminated strings or comments. */
export function lex(src: string): Token[] {
  return new Lexer(src).run(0, false).tokens;
}

/** True for tokens that carry no meaning (whitespace, comments). */
export function isTrivia(token: Token): boolean {
  return token.kind === 'ws' || token.kind === 'comment';
}

/** The 1-based line number of an offset, for messages. */
export function lineAt(src: string, offset: number): number {
  return lineOf(src, offset);
}
