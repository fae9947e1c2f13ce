/**
 * Adds and removes flake inputs in the text of a flake.nix, keeping everything else byte for
 * byte: outputs, other inputs with their `follows` and `flake = false`, and comments. The
 * new input's name also joins (or leaves) a closed `outputs = { self, … }:` argument pattern,
 * because nix calls `outputs` with every input.
 */
import {
  bindingSet,
  declaredInputs,
  functionFormals,
  nextSig,
  parseFlake,
  type AttrSet,
  type Binding,
  type FlakeSyntax,
} from './flakeSyntax.js';
import { NIX_KEYWORDS, type Token } from './lexer.js';
import { renderAttrName, renderString } from './nixValue.js';
import { InputEditError } from '../errors.js';

export interface InputSpec {
  name: string;
  url: string;
  follows?: Record<string, string>;
  flake?: boolean;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

function applyEdits(src: string, edits: Edit[]): string {
  let out = src;
  for (const e of [...edits].sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

/** The whitespace that starts the line containing `offset`, when only whitespace precedes it there. */
function lineIndent(src: string, offset: number): string {
  const lineStart = src.lastIndexOf('\n', offset - 1) + 1;
  const before = src.slice(lineStart, offset);
  return /^[ \t]*$/.test(before) ? before : (/^[ \t]*/.exec(before)?.[0] ?? '');
}

/** The offset just after a trailing same-line comment following `offset`, if there is one. */
function afterTrailingComment(src: string, offset: number): number {
  const m = /^[ \t]*(#[^\n]*|\/\*[^\n]*?\*\/[ \t]*)?(?=\n|$)/.exec(src.slice(offset));
  return m?.[1] !== undefined ? offset + m[0].length : offset;
}

/** Renders the binding of one input, e.g. `name.url = "…";` or a `name = { … };` block. */
export function renderInput(spec: InputSpec, indent: string, prefix = ''): string {
  const key = `${prefix}${renderAttrName(spec.name)}`;
  const follows = Object.entries(spec.follows ?? {});
  if (spec.flake === undefined && follows.length === 0) return `${key}.url = ${renderString(spec.url)};`;
  const inner = `${indent}  `;
  const lines = [`${key} = {`, `${inner}url = ${renderString(spec.url)};`];
  if (spec.flake !== undefined) lines.push(`${inner}flake = ${spec.flake ? 'true' : 'false'};`);
  for (const [input, target] of follows) {
    lines.push(`${inner}inputs.${renderAttrName(input)}.follows = ${renderString(target)};`);
  }
  lines.push(`${indent}};`);
  return lines.join('\n');
}

function tok(syntax: FlakeSyntax, i: number): Token {
  const t = syntax.tokens[i];
  if (t === undefined) throw new InputEditError(`token ${i} is out of range`);
  return t;
}

function topBinding(syntax: FlakeSyntax, name: string): Binding | undefined {
  return syntax.top.bindings.find((b) => b.path.length === 1 && b.path[0] === name);
}

/** Where and how to add the name to a closed `outputs` argument pattern. */
function addFormal(syntax: FlakeSyntax, name: string): Edit | null {
  const outputs = topBinding(syntax, 'outputs');
  const formals = outputs === undefined ? null : functionFormals(syntax, outputs);
  if (formals === null || formals.ellipsis || formals.formals.some((f) => f.name === name)) return null;
  if (NIX_KEYWORDS.has(name)) {
    throw new InputEditError(`the input name '${name}' is a Nix keyword and cannot be an argument of outputs; choose another name`);
  }
  const { src, tokens } = syntax;
  const last = formals.formals[formals.formals.length - 1];
  if (last === undefined) {
    return { start: tok(syntax, formals.open).end, end: tok(syntax, formals.close).start, text: ` ${name} ` };
  }
  const firstLine = src.lastIndexOf('\n', tok(syntax, formals.formals[0]?.first ?? last.first).start);
  const multiLine = src.lastIndexOf('\n', tok(syntax, last.first).start) !== firstLine;
  const indent = lineIndent(src, tok(syntax, last.first).start);
  const comma = nextSig(tokens, last.last + 1);
  if (tokens[comma]?.text === ',') {
    const at = tok(syntax, comma).end;
    return { start: at, end: at, text: multiLine ? `\n${indent}${name},` : ` ${name},` };
  }
  const at = tok(syntax, last.last).end;
  return { start: at, end: at, text: multiLine ? `,\n${indent}${name}` : `, ${name}` };
}

/** The edit that removes the name from the `outputs` argument pattern, if it is there. */
function removeFormal(syntax: FlakeSyntax, name: string): Edit | null {
  const outputs = topBinding(syntax, 'outputs');
  const formals = outputs === undefined ? null : functionFormals(syntax, outputs);
  const index = formals?.formals.findIndex((f) => f.name === name) ?? -1;
  if (formals === null || index < 0) return null;
  const formal = formals.formals[index];
  if (formal === undefined) return null;
  const { tokens } = syntax;
  const comma = nextSig(tokens, formal.last + 1);
  const hasComma = tokens[comma]?.text === ',';
  if (hasComma) {
    // `name, ` — drop through the start of whatever follows (next formal, `...` or `}`).
    const following = nextSig(tokens, comma + 1);
    if (following >= formals.close && index > 0) {
      // A trailing comma: keep the style by cutting from the previous formal's comma.
      const previousComma = nextSig(tokens, (formals.formals[index - 1] as { last: number }).last + 1);
      return { start: tok(syntax, previousComma).end, end: tok(syntax, comma).end, text: '' };
    }
    return { start: tok(syntax, formal.first).start, end: tok(syntax, following).start, text: '' };
  }
  const previous = formals.formals[index - 1];
  if (previous !== undefined) {
    return { start: tok(syntax, previous.last).end, end: tok(syntax, formal.last).end, text: '' };
  }
  return { start: tok(syntax, formals.open).end, end: tok(syntax, formals.close).start, text: ' ' };
}

/** The byte range a binding occupies, widened to whole lines when it sits on its own lines. */
function bindingRange(syntax: FlakeSyntax, binding: Binding): Edit {
  const { src } = syntax;
  const start = tok(syntax, binding.first).start;
  const end = afterTrailingComment(src, tok(syntax, binding.semi).end);
  const lineStart = src.lastIndexOf('\n', start - 1) + 1;
  const ownLineStart = /^[ \t]*$/.test(src.slice(lineStart, start));
  const ownLineEnd = src[end] === '\n' || end === src.length;
  if (ownLineStart && ownLineEnd) return { start: lineStart, end: Math.min(end + 1, src.length), text: '' };
  const ws = /^[ \t]*/.exec(src.slice(end))?.[0].length ?? 0;
  return { start, end: end + ws, text: '' };
}

function inputsSet(syntax: FlakeSyntax): { binding: Binding; set: AttrSet } | null {
  const binding = topBinding(syntax, 'inputs');
  if (binding === undefined) return null;
  const set = bindingSet(syntax, binding);
  if (set === null) throw new InputEditError("'inputs' is not a plain attribute set { … }; edit it by hand");
  return { binding, set };
}

/** Adds an input; throws {@link InputEditError} when it already exists or cannot be added. */
export function addInput(src: string, spec: InputSpec): string {
  const syntax = parseFlake(src);
  if (declaredInputs(syntax).includes(spec.name)) {
    throw new InputEditError(`flake.nix already declares the input '${spec.name}'; remove it first or pick another name`);
  }
  const edits: Edit[] = [];
  const existing = inputsSet(syntax);
  const dotted = syntax.top.bindings.filter((b) => b.path[0] === 'inputs' && b.path.length > 1);
  if (existing !== null) {
    const { binding, set } = existing;
    const last = set.bindings[set.bindings.length - 1];
    const outer = lineIndent(src, tok(syntax, binding.first).start);
    if (last === undefined) {
      const indent = `${outer}  `;
      edits.push({
        start: tok(syntax, set.open).end,
        end: tok(syntax, set.close).start,
        text: `\n${indent}${renderInput(spec, indent)}\n${outer}`,
      });
    } else {
      const indent = lineIndent(src, tok(syntax, last.first).start) || `${outer}  `;
      const at = afterTrailingComment(src, tok(syntax, last.semi).end);
      edits.push({ start: at, end: at, text: `\n${indent}${renderInput(spec, indent)}` });
    }
  } else if (dotted.length > 0) {
    const last = dotted[dotted.length - 1] as Binding;
    const indent = lineIndent(src, tok(syntax, last.first).start);
    const at = afterTrailingComment(src, tok(syntax, last.semi).end);
    edits.push({ start: at, end: at, text: `\n${indent}${renderInput(spec, indent, 'inputs.')}` });
  } else {
    const first = syntax.top.bindings[0];
    const indent = first === undefined ? '  ' : lineIndent(src, tok(syntax, first.first).start) || '  ';
    const block = `inputs = {\n${indent}  ${renderInput(spec, `${indent}  `)}\n${indent}};`;
    const description = topBinding(syntax, 'description');
    if (description !== undefined) {
      const at = afterTrailingComment(src, tok(syntax, description.semi).end);
      edits.push({ start: at, end: at, text: `\n\n${indent}${block}` });
    } else if (first !== undefined) {
      const at = tok(syntax, first.first).start;
      edits.push({ start: at, end: at, text: `${block}\n\n${indent}` });
    } else {
      const top = syntax.top;
      edits.push({
        start: tok(syntax, top.open).end,
        end: tok(syntax, top.close).start,
        text: `\n${indent}${block}\n`,
      });
    }
  }
  const formal = addFormal(syntax, spec.name);
  if (formal !== null) edits.push(formal);
  return applyEdits(src, edits);
}

/** Removes every binding of an input and its `outputs` argument. Returns null when it is not declared. */
export function removeInput(src: string, name: string): string | null {
  const syntax = parseFlake(src);
  if (!declaredInputs(syntax).includes(name)) return null;
  const edits: Edit[] = [];
  for (const b of syntax.top.bindings) {
    if (b.path[0] === 'inputs' && b.path[1] === name) edits.push(bindingRange(syntax, b));
  }
  const existing = inputsSet(syntax);
  if (existing !== null) {
    const { binding, set } = existing;
    const doomed = set.bindings.filter((b) => b.path[0] === name);
    const hasComments = syntax.tokens.slice(set.open, set.close).some((t) => t.kind === 'comment');
    if (doomed.length > 0 && doomed.length === set.bindings.length && !hasComments) {
      // The set would be empty: drop `inputs = { … };` and the blank line before it.
      const range = bindingRange(syntax, binding);
      const blankBefore = /\n[ \t]*\n$/.test(src.slice(0, range.start));
      edits.push(blankBefore ? { ...range, start: src.slice(0, range.start).replace(/[ \t]*\n$/, '').length } : range);
    } else {
      for (const b of doomed) edits.push(bindingRange(syntax, b));
    }
  }
  const formal = removeFormal(syntax, name);
  if (formal !== null) edits.push(formal);
  return applyEdits(src, edits);
}
