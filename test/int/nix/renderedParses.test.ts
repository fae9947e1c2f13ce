/**
 * The renderers are valid Nix by construction (src/nix/renderCheck.ts relies on it: only raw
 * `{"$nix": …}` expressions are handed to the parser before a fact is stored). Random bodies,
 * hostile strings and keys included, render to files the real `nix-instantiate --parse`
 * accepts; and a string value evaluates back to exactly itself.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderValue } from '../../../src/nix/nixValue.js';
import { renderConfiguration, renderModule, renderOverlay } from '../../../src/nix/workspaceRenderers.js';

const run = promisify(execFile);
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cim-parses-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** Text a hostile client might send: Nix syntax, quotes, interpolation, line endings, unicode (never NUL: refused at intake). */
const hostile = fc.oneof(
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom('${x}', "''", "''${", '"', '\\', '\\"', '#', '/*', '*/', '\r', '\r\n', '\u2028', '$$', '${', '}', 'rec', 'in', 'or', '-', '.', 'a.b', '..', ''),
  fc.array(fc.constantFrom('$', '{', '}', "'", '"', '\\', '\n', '\r', '#', '*', '/', 'x', '.', ' '), { maxLength: 12 }).map((a) => a.join('')),
);
const key = hostile.filter((k) => k !== '__proto__');
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    hostile,
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => d === 0 || Math.abs(d) >= 2.2250738585072014e-308),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
  ),
})).value;
const record: fc.Arbitrary<Record<string, unknown>> = fc.dictionary(key, json, { maxKeys: 5 });
const optionType = fc.constantFrom('bool', 'str', 'listOf str', 'attrsOf (listOf str)', 'nullOr (attrsOf int)', 'either str (listOf (attrsOf bool))');

async function parses(files: Array<[string, string]>): Promise<void> {
  const paths = await Promise.all(
    files.map(async ([name, text], i) => {
      const p = join(dir, `${i}-${name.replace(/[^a-z0-9]/gi, '_')}.nix`);
      await writeFile(p, text);
      return p;
    }),
  );
  try {
    await run('nix-instantiate', ['--parse', '--', ...paths], { maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const said = String((e as { stderr?: unknown }).stderr ?? e);
    const at = /(\d+)-[^/]*\.nix/.exec(said);
    throw new Error(`nix-instantiate refused a rendered file: ${said}${at ? `\n${files[Number(at[1])]![1]}` : ''}`);
  }
}

describe('rendered files', () => {
  it('parse, whatever the module, overlay and configuration bodies hold', async () => {
    const bodies = fc.sample(
      fc.record({
        module: fc.record({
          options: fc.dictionary(key, fc.oneof(json, fc.record({ type: optionType, default: json, description: hostile }, { requiredKeys: ['type'] })), { maxKeys: 4 }),
          config: record,
        }),
        overlay: fc.record({ overrides: record, additions: record }).map((o) => {
          for (const k of Object.keys(o.overrides)) delete o.additions[k];
          return o;
        }),
        configuration: fc.record({ hostname: hostile.filter((h) => h !== ''), system: hostile, packages: fc.array(hostile, { maxLength: 3 }), specialisations: fc.dictionary(key, record, { maxKeys: 2 }) }),
      }),
      { numRuns: 300, seed: 4242 },
    );
    const files: Array<[string, string]> = [];
    for (const [i, b] of bodies.entries()) {
      files.push([`m${i}`, renderModule(`m${i}`, b.module)], [`o${i}`, renderOverlay(`o${i}`, b.overlay)], [`c${i}`, renderConfiguration(`c${i}`, b.configuration)]);
    }
    await parses(files);
    expect(files).toHaveLength(900);
  });

  it('evaluates a string back to exactly itself', async () => {
    const texts = fc.sample(hostile, { numRuns: 200, seed: 7 });
    const expr = `[ ${texts.map((t) => renderValue(t)).join(' ')} ]`;
    const file = join(dir, 'strings.nix');
    await writeFile(file, expr);
    const { stdout } = await run('nix-instantiate', ['--eval', '--strict', '--json', '--', file], { maxBuffer: 64 * 1024 * 1024 });
    expect(JSON.parse(stdout)).toEqual(texts);
  });
});
