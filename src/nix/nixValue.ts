/**
 * Renders JSON values as formatted Nix source: strings with correct escaping, numbers in
 * Nix's literal syntax, attribute names quoted when they are not identifiers. An object of
 * the single key `"$nix"` is a raw Nix expression, inserted in parentheses after a check that
 * it is balanced and self-contained.
 */
import { isTrivia, lex, NIX_KEYWORDS, OPENERS } from './lexer.js';
import { ensureError, RenderError } from '../errors.js';

/** Runs `render` for the value under `key`, so a failure deep inside names its path. */
export function under<T>(key: string | number, render: () => T): T {
  try {
    return render();
  } catch (e) {
    if (e instanceof RenderError) e.path.unshift(key);
    throw e;
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_'-]*$/;

/** Marker key of a raw expression: `{ "$nix": "pkgs.hello" }`. */
export const RAW_KEY = '$nix';

/** A Nix "string" literal for any text (backslash, quote, `${`, newlines escaped). */
export function renderString(text: string): string {
  if (text.includes('\0')) throw new RenderError('a string contains a NUL byte, which Nix strings cannot hold');
  const body = text
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\$\{/g, '\\${')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t');
  return `"${body}"`;
}

/** True when `name` can be written bare as an attribute name or argument. */
export function isIdentifier(name: string): boolean {
  return IDENTIFIER.test(name) && !NIX_KEYWORDS.has(name);
}

/** An attribute name: bare when it is an identifier, else quoted. */
export function renderAttrName(name: string): string {
  return isIdentifier(name) ? name : renderString(name);
}

/** A dotted attribute path (`services.nginx.enable`); a key with empty segments stays one quoted name. */
export function renderAttrPath(path: string): string {
  const segments = path.split('.');
  if (segments.some((s) => s.length === 0)) return renderString(path);
  return segments.map(renderAttrName).join('.');
}

/** A number in Nix literal syntax; negatives in parentheses so they stay one list element. */
export function renderNumber(value: number): string {
  if (!Number.isFinite(value)) throw new RenderError(`the number ${value} cannot be written in Nix`);
  // Nix reads floats with strtod and calls a subnormal one (below 2.2e-308) an invalid float.
  if (value !== 0 && Math.abs(value) < 2.2250738585072014e-308) {
    throw new RenderError(`the number ${value} is too close to zero for Nix (it reads it as an invalid float); round it to 0 or write a larger one`);
  }
  let text: string;
  if (Number.isInteger(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER) {
    text = String(Math.abs(value));
  } else {
    text = String(Math.abs(value));
    const [mantissa = '', exponent] = text.split('e');
    const withDot = mantissa.includes('.') ? mantissa : `${mantissa}.0`;
    text = exponent === undefined ? withDot : `${withDot}e${exponent}`;
  }
  return value < 0 || Object.is(value, -0) ? `(-${text})` : text;
}

/** Checks that a raw expression is self-contained: lexes, balanced brackets, nothing to close ours. */
export function checkRawExpression(expression: string): void {
  // nix reads a file as a C string: a NUL ends a string's text, or the whole file.
  if (expression.includes('\0')) throw new RenderError('the raw Nix expression contains a NUL byte, which Nix cannot read');
  let tokens;
  try {
    tokens = lex(expression);
  } catch (e) {
    throw new RenderError(`the raw Nix expression ${JSON.stringify(expression)} does not lex: ${ensureError(e).message}`);
  }
  const stack: string[] = [];
  let significant = 0;
  for (const t of tokens) {
    if (isTrivia(t)) continue;
    significant++;
    if (t.kind !== 'punct') continue;
    const close = OPENERS[t.text];
    if (close !== undefined) stack.push(close);
    else if ((t.text === '}' || t.text === ')' || t.text === ']') && stack.pop() !== t.text) {
      throw new RenderError(`the raw Nix expression ${JSON.stringify(expression)} has an unbalanced '${t.text}'`);
    }
  }
  if (stack.length > 0) throw new RenderError(`the raw Nix expression ${JSON.stringify(expression)} is not closed`);
  if (significant === 0) throw new RenderError('a raw Nix expression is empty');
}

function isRaw(value: unknown): value is { [RAW_KEY]: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === RAW_KEY && typeof (value as Record<string, unknown>)[RAW_KEY] === 'string';
}

/**
 * A raw expression wrapped so it stays one operand; the newline ends a trailing `#` comment.
 * The lexer reads comments, strings and interpolations as nix 2.8 does (a `#` comment ends at
 * `\r` or `\n`), so the brackets checked here are the brackets nix sees.
 */
export function renderRaw(expression: string): string {
  checkRawExpression(expression);
  // Only what nix reads as white space: trimming U+2028 or U+FEFF would change the expression.
  const trimmed = expression.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
  return trimmed.includes('#') ? `(${trimmed}\n)` : `(${trimmed})`;
}

export interface RenderOptions {
  /** Treat the keys of this (top-level) object as dotted attribute paths. */
  pathKeys?: boolean;
}

const INLINE_LIMIT = 72;

/** Renders a JSON value as Nix; `indent` is the indentation of the line the value starts on. */
export function renderValue(value: unknown, indent = '', options: RenderOptions = {}): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return renderNumber(value);
  if (typeof value === 'string') return renderString(value);
  if (Array.isArray(value)) return renderList(value, indent);
  if (typeof value === 'object') {
    if (isRaw(value)) return renderRaw(value[RAW_KEY]);
    return renderAttrs(Object.entries(value as Record<string, unknown>), indent, options.pathKeys === true);
  }
  throw new RenderError(`a value of type ${typeof value} cannot be written in Nix`);
}

function renderList(items: unknown[], indent: string): string {
  if (items.length === 0) return '[ ]';
  const inner = `${indent}  `;
  const rendered = items.map((item, i) => under(i, () => renderValue(item, inner)));
  const inline = `[ ${rendered.join(' ')} ]`;
  if (inline.length + indent.length <= INLINE_LIMIT && !inline.includes('\n')) return inline;
  return `[\n${rendered.map((r) => `${inner}${r}`).join('\n')}\n${indent}]`;
}

/** Renders `{ key = value; … }` from entries, one binding per line. */
export function renderAttrs(entries: [string, unknown][], indent: string, pathKeys = false): string {
  if (entries.length === 0) return '{ }';
  const inner = `${indent}  `;
  const lines = entries.map(([key, v]) => `${inner}${pathKeys ? renderAttrPath(key) : renderAttrName(key)} = ${under(key, () => renderValue(v, inner))};`);
  return `{\n${lines.join('\n')}\n${indent}}`;
}
