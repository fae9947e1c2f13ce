/**
 * The structure of a flake file that the inputs editor needs: the top-level attribute set,
 * its bindings (attribute path, value range), the `inputs` set and the formal arguments of
 * `outputs`. Values are skipped with bracket and let/in/with balancing, never evaluated.
 */
import { isTrivia, lex, lineAt, OPENERS, type Token } from './lexer.js';
import { FlakeShapeError, NixSyntaxError } from '../errors.js';

/** One `path = value;` or `inherit …;` inside an attribute set. */
export interface Binding {
  /** Attribute path segments; null for a segment that is dynamic (`${…}` or an interpolated string). */
  path: (string | null)[];
  inherit: boolean;
  /** Token index of the first token of the binding and of its `;`. */
  first: number;
  semi: number;
  /** Token indexes of the value's first and last significant tokens (attribute bindings only). */
  valueFirst: number;
  valueLast: number;
}

/** An attribute set: its brace token indexes and its bindings. */
export interface AttrSet {
  open: number;
  close: number;
  bindings: Binding[];
}

/** A formal argument of a `{ a, b ? x, ... }:` pattern. */
export interface Formal {
  name: string;
  /** Token indexes of the name and of the last token of its default. */
  first: number;
  last: number;
}

export interface Formals {
  open: number;
  close: number;
  formals: Formal[];
  ellipsis: boolean;
}

export interface FlakeSyntax {
  src: string;
  tokens: Token[];
  top: AttrSet;
  /** The bracket partner of every opener/closer token index. */
  partner: Map<number, number>;
}

function matchBrackets(src: string, tokens: Token[]): Map<number, number> {
  const partner = new Map<number, number>();
  const stack: number[] = [];
  tokens.forEach((t, i) => {
    if (t.kind !== 'punct') return;
    if (OPENERS[t.text] !== undefined) stack.push(i);
    else if (t.text === '}' || t.text === ')' || t.text === ']') {
      const open = stack.pop();
      const expected = open === undefined ? undefined : OPENERS[tokens[open]?.text ?? ''];
      if (open === undefined || expected !== t.text) {
        throw new NixSyntaxError(`unbalanced '${t.text}' on line ${lineAt(src, t.start)}`);
      }
      partner.set(open, i);
      partner.set(i, open);
    }
  });
  const open = stack.pop();
  if (open !== undefined) throw new NixSyntaxError(`unclosed '${tokens[open]?.text}' on line ${lineAt(src, tokens[open]?.start ?? 0)}`);
  return partner;
}

/** Index of the next significant token at or after `i` (tokens.length when none). */
export function nextSig(tokens: Token[], i: number): number {
  let j = i;
  while (j < tokens.length && isTrivia(tokens[j] as Token)) j++;
  return j;
}

/** Index of the previous significant token at or before `i` (-1 when none). */
export function prevSig(tokens: Token[], i: number): number {
  let j = i;
  while (j >= 0 && isTrivia(tokens[j] as Token)) j--;
  return j;
}

/** The literal value of a plain "string" token, or null when it interpolates. */
function stringLiteral(text: string): string | null {
  if (!text.startsWith('"')) return null;
  const body = text.slice(1, -1);
  if (/\$\{/.test(body.replace(/\\./g, ''))) return null;
  return body.replace(/\\(.)/g, (_m, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? c);
}

/** Skips an expression from `i` to the `;` that ends the binding; returns the `;` index. */
function skipToSemicolon(syntax: Pick<FlakeSyntax, 'tokens' | 'partner' | 'src'>, i: number, limit: number): number {
  const { tokens, partner } = syntax;
  const pending: string[] = [];
  for (let j = i; j < limit; j++) {
    const t = tokens[j] as Token;
    if (isTrivia(t)) continue;
    if (t.kind === 'punct' && OPENERS[t.text] !== undefined) {
      j = partner.get(j) ?? limit;
      continue;
    }
    if (t.kind === 'ident') {
      if (t.text === 'let' || t.text === 'with' || t.text === 'assert') pending.push(t.text);
      else if (t.text === 'in' && pending[pending.length - 1] === 'let') pending.pop();
      continue;
    }
    if (t.kind === 'punct' && t.text === ';') {
      const top = pending[pending.length - 1];
      if (top === undefined) return j;
      if (top !== 'let') pending.pop();
    }
  }
  throw new FlakeShapeError(`a binding starting on line ${lineAt(syntax.src, tokens[i]?.start ?? 0)} has no closing ';'`);
}

/** Parses the bindings between the braces `open` and `close`. */
export function parseBindings(syntax: Pick<FlakeSyntax, 'tokens' | 'partner' | 'src'>, open: number, close: number): AttrSet {
  const { tokens, partner } = syntax;
  const bindings: Binding[] = [];
  let i = nextSig(tokens, open + 1);
  while (i < close) {
    const first = i;
    const head = tokens[i] as Token;
    if (head.kind === 'ident' && head.text === 'inherit') {
      const semi = skipToSemicolon(syntax, i + 1, close);
      bindings.push({ path: [], inherit: true, first, semi, valueFirst: semi, valueLast: semi });
      i = nextSig(tokens, semi + 1);
      continue;
    }
    const path: (string | null)[] = [];
    for (;;) {
      const seg = tokens[i] as Token;
      if (seg.kind === 'ident') path.push(seg.text);
      else if (seg.kind === 'string') path.push(stringLiteral(seg.text));
      else if (seg.kind === 'punct' && seg.text === '${') {
        path.push(null);
        i = partner.get(i) ?? close;
      } else throw new FlakeShapeError(`expected an attribute name on line ${lineAt(syntax.src, seg.start)}, found '${seg.text}'`);
      i = nextSig(tokens, i + 1);
      const sep = tokens[i];
      if (sep?.kind === 'punct' && sep.text === '.') {
        i = nextSig(tokens, i + 1);
        continue;
      }
      if (sep?.kind === 'punct' && sep.text === '=') break;
      throw new FlakeShapeError(`expected '=' on line ${lineAt(syntax.src, sep?.start ?? 0)}`);
    }
    const valueFirst = nextSig(tokens, i + 1);
    const semi = skipToSemicolon(syntax, valueFirst, close);
    bindings.push({ path, inherit: false, first, semi, valueFirst, valueLast: prevSig(tokens, semi - 1) });
    i = nextSig(tokens, semi + 1);
  }
  return { open, close, bindings };
}

/** Lexes and parses a flake file whose top level is a (possibly `rec`) attribute set. */
export function parseFlake(src: string): FlakeSyntax {
  const tokens = lex(src);
  const partner = matchBrackets(src, tokens);
  let open = nextSig(tokens, 0);
  if (tokens[open]?.kind === 'ident' && tokens[open]?.text === 'rec') open = nextSig(tokens, open + 1);
  const close = partner.get(open);
  if (tokens[open]?.text !== '{' || close === undefined || nextSig(tokens, close + 1) !== tokens.length) {
    throw new FlakeShapeError('flake.nix must be a single attribute set { … }; edit its inputs by hand');
  }
  const syntax = { src, tokens, partner };
  return { ...syntax, top: parseBindings(syntax, open, close) };
}

/** The value of a binding as an attribute set, when it is one (`{ … }`). */
export function bindingSet(syntax: FlakeSyntax, binding: Binding): AttrSet | null {
  let first = binding.valueFirst;
  if (syntax.tokens[first]?.text === 'rec') first = nextSig(syntax.tokens, first + 1);
  if (syntax.tokens[first]?.text !== '{' || syntax.partner.get(first) !== binding.valueLast) return null;
  return parseBindings(syntax, first, binding.valueLast);
}

/** The formal arguments of a function value (`{ a, b }:` or `x@{ … }:` or `{ … }@x:`), if any. */
export function functionFormals(syntax: FlakeSyntax, binding: Binding): Formals | null {
  const { tokens, partner } = syntax;
  let open = binding.valueFirst;
  if (tokens[open]?.kind === 'ident') {
    const at = nextSig(tokens, open + 1);
    if (tokens[at]?.text !== '@') return null;
    open = nextSig(tokens, at + 1);
  }
  const close = partner.get(open);
  if (tokens[open]?.text !== '{' || close === undefined) return null;
  const after = tokens[nextSig(tokens, close + 1)]?.text;
  if (after !== ':' && after !== '@') return null;
  const formals: Formal[] = [];
  let ellipsis = false;
  let i = nextSig(tokens, open + 1);
  while (i < close) {
    const t = tokens[i] as Token;
    if (t.text === '...') {
      ellipsis = true;
      i = nextSig(tokens, i + 1);
    } else if (t.kind === 'ident') {
      const first = i;
      let last = i;
      i = nextSig(tokens, i + 1);
      if (tokens[i]?.text === '?') {
        for (i = nextSig(tokens, i + 1); i < close && tokens[i]?.text !== ','; i = nextSig(tokens, i + 1)) {
          last = i;
          if (OPENERS[tokens[i]?.text ?? ''] !== undefined) last = i = partner.get(i) ?? close;
        }
      }
      formals.push({ name: t.text, first, last });
    } else {
      throw new FlakeShapeError(`unexpected '${t.text}' in the arguments of outputs on line ${lineAt(syntax.src, t.start)}`);
    }
    if (tokens[i]?.text === ',') i = nextSig(tokens, i + 1);
  }
  return { open, close, formals, ellipsis };
}

/** The names of the inputs declared in the flake (`inputs = { x… }` and `inputs.x… = …`). */
export function declaredInputs(syntax: FlakeSyntax): string[] {
  const names = new Set<string>();
  for (const b of syntax.top.bindings) {
    if (b.path[0] !== 'inputs') continue;
    if (b.path.length >= 2 && typeof b.path[1] === 'string') names.add(b.path[1]);
    if (b.path.length === 1) {
      const set = bindingSet(syntax, b);
      for (const inner of set?.bindings ?? []) if (typeof inner.path[0] === 'string') names.add(inner.path[0]);
    }
  }
  return [...names];
}
