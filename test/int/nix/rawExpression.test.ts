/**
 * A raw `{"$nix": e}` is exactly `e` in its place: whatever the renderer accepts, the real
 * `nix-instantiate --parse` reads it in a list and in an attribute set as `e` read alone, with
 * nothing added around it. Expressions are built from hostile pieces: comments
 * ended by `\r`, `\r\n`, `\n` or nothing, `/* *\/` comments, strings and interpolations holding
 * brackets, line separators nix does not treat as line ends.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderAttrs, renderValue } from '../../../src/nix/nixValue.js';
import { RenderError } from '../../../src/errors.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cim-raw-prop-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;

/** `e` as the service renders it in a list and in an attribute set, or null when it refuses `e`. */
function render(expression: string): { list: string; attrs: string } | null {
  try {
    return {
      list: renderValue([{ $nix: expression }, 'sentinel']),
      attrs: renderAttrs(
        [
          ['a', { $nix: expression }],
          ['b', 'sentinel'],
        ],
        '',
      ),
    };
  } catch (e) {
    if (e instanceof RenderError) return null;
    throw e;
  }
}

/** `nix-instantiate --parse` of files holding exactly these texts: the printed expressions, or null where one does not parse. */
function parse(texts: string[]): (string | null)[] {
  const files = texts.map((text) => {
    const file = join(dir, `f${++counter}.nix`);
    writeFileSync(file, text);
    return file;
  });
  const all = spawnSync('nix-instantiate', ['--parse', ...files], { encoding: 'utf8' });
  if (all.status === 0) return all.stdout.trimEnd().split('\n');
  return files.map((file) => {
    const one = spawnSync('nix-instantiate', ['--parse', file], { encoding: 'utf8' });
    return one.status === 0 ? one.stdout.trimEnd() : null;
  });
}

/**
 * The property: an accepted `e` is read by nix in a list as `[ e "sentinel" ]` and in an
 * attribute set as `{ a = e; b = "sentinel"; }`, `e` printed as nix prints it alone; an `e`
 * that does not parse alone does not parse in either place (nothing around it can complete it).
 */
function holds(expression: string): void {
  const rendered = render(expression);
  if (rendered === null) return; // refused: nothing is written
  const [alone, inList, inAttrs] = parse([expression, rendered.list, rendered.attrs]);
  const what = `${JSON.stringify(expression)} rendered as ${JSON.stringify(rendered)}`;
  if (alone === null || alone === undefined) {
    expect(inList, `${what}: it does not parse alone, so it must not parse in a list`).toBeNull();
    expect(inAttrs, `${what}: it does not parse alone, so it must not parse in a set`).toBeNull();
    return;
  }
  expect(inList, what).toBe(`[ (${alone}) ("sentinel") ]`);
  expect(inAttrs, what).toBe(`{ a = ${alone}; b = "sentinel"; }`);
}

const LINE_ENDS = ['\r', '\n', '\r\n', '\n\r', '\u2028', '\u2029', '\u0085', '\f', '\v', ''];
const PAYLOADS = [') ; injected = (', '}', ']', ')', '"', "''", '${', '*/', '/*', '#', ' injected = 2; ', '\\', '$$'];
const VALUES = [
  '1',
  '"s"',
  "''s''",
  '[ 1 2 ]',
  '{ a = 1; }',
  'x: x',
  '"${"i"}"',
  "''${\"i\"}''",
  'let a = 1; in a',
  '"${("p")}"',
  "''${[\"q\"]}''",
  './p',
  'a:b',
];

/** Trivia that hides a hostile payload: a `#` comment with some line end, or a block comment. */
const trivia = fc.oneof(
  fc.tuple(fc.constantFrom(...PAYLOADS), fc.constantFrom(...LINE_ENDS)).map(([p, end]) => ` #${p}${end}`),
  fc.constantFrom(...PAYLOADS).map((p) => ` /*${p.replace('*/', '* /')}*/ `),
  fc.constantFrom(...LINE_ENDS.filter((e) => e !== '')),
);

/** A value surrounded by trivia, or joined to another with `+`/`++` across trivia. */
const structured = fc
  .tuple(
    fc.array(trivia, { maxLength: 2 }),
    fc.constantFrom(...VALUES),
    fc.array(trivia, { maxLength: 3 }),
    fc.option(fc.constantFrom(...VALUES)),
  )
  .map(([before, value, after, second]) => `${before.join('')}${value}${after.join('')}${second === null ? '' : ` ${second}`}`);

/** Arbitrary sequences of the same pieces: mostly refused, and every accepted one must hold. */
const pieces = fc
  .array(
    fc.constantFrom(...VALUES, ...PAYLOADS, ...LINE_ENDS.filter((e) => e !== ''), ' ', '(', '[', '{', '#', '"', 'injected', '=', ';'),
    {
      minLength: 1,
      maxLength: 10,
    },
  )
  .map((parts) => parts.join(''));

describe('raw Nix expressions as nix reads them', () => {
  it.each([
    ['a # comment ended by \\r', '1 #\r) ; injected = (2'],
    ['parentheses in an interpolation', '"${("v")}" ) ; injected = ( "}"'],
    ['brackets in an indented-string interpolation', "''${[\"v\"]}'' ) ; injected = ( ''}''"],
    ['a trailing comment ended by \\r', '1 + 2 #\r'],
    ['a comment ended by \\r inside a list', '[ 1 #\r 2 ]'],
    ['a /* */ comment holding \\r', '/* \r ) */ 4'],
    ['a comment holding U+2028', '1 # \u2028 ) + 1\n'],
  ])('holds for %s', (_name, expression) => {
    holds(expression);
  });

  it('holds for values wrapped in hostile comments and line ends', () => {
    fc.assert(fc.property(structured, holds), { numRuns: 50 });
  });

  it('holds for arbitrary sequences of hostile pieces', () => {
    fc.assert(fc.property(pieces, holds), { numRuns: 120 });
  });
});
