/**
 * The house rules of issue 13, checked on the source text:
 *
 * - the folders of src/ form a stack: each imports only from the layers below it (no arrow
 *   back up), and no file takes part in an import cycle;
 * - shared code never branches on an aggregate kind's name: a kind is described once, in
 *   `machines/<kind>/` and `src/aggregates/<kind>.ts`, and everything else iterates the
 *   registry.
 *
 * Both are plain reads of the files (no build), so a failure names the file and the line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGGREGATE_KINDS } from '../../machines/kinds.js';
import { ROOT } from '../support/serviceProcess.js';

/**
 * The layers of the house, bottom first. A module may import its own layer's modules and
 * those of lower layers; never a higher one. Names are folders of src/ (or single files at
 * its top), `machines` is the pure domain beside it.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['machines'],
  ['src/errors.ts', 'src/time'],
  ['src/domain'],
  ['src/nix'],
  ['src/config', 'src/config.ts', 'src/logging.ts'],
  ['src/messaging', 'src/cluster'],
  ['src/store'],
  ['src/projections'],
  ['src/aggregates'],
  ['src/runtime'],
  ['src/intake', 'src/inspection'],
  ['src/service.ts'],
  ['src/main.ts'],
  ['src/cli'],
];

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = join(dir, e.name);
    if (e.isDirectory()) return files(rel);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [rel] : [];
  });
}

/** The unit a file belongs to: `src/<folder>` or `src/<file>.ts` or `machines`. */
function unitOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] === 'machines') return 'machines';
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : file;
}

const rankOf = new Map(LAYERS.flatMap((units, rank) => units.map((u) => [u, rank] as const)));

/** Relative imports of a file, resolved to repository paths (`.js` -> `.ts`), with their line. */
function importsOf(file: string): { target: string; line: number }[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: { target: string; line: number }[] = [];
  const pattern = /(?:^|\s)(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/gm;
  for (const m of text.matchAll(pattern)) {
    const spec = (m[1] ?? m[2]) as string;
    const target = normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts');
    out.push({ target, line: text.slice(0, m.index).split('\n').length });
  }
  return out;
}

const sources = [...files('src'), ...files('machines')];
const page = files('inspector/src');
const graph = new Map([...sources, ...page].map((f) => [f, importsOf(f)]));

describe('the house', () => {
  it('gives every folder of src/ a layer', () => {
    const units = new Set(sources.map(unitOf));
    expect([...units].filter((u) => !rankOf.has(u))).toEqual([]);
  });

  it('has no import that runs back up the stack', () => {
    const upward: string[] = [];
    for (const [file, imports] of graph) {
      if (file.startsWith('inspector/')) continue; // the page imports only the wire schema (lint)
      const from = rankOf.get(unitOf(file)) ?? -1;
      for (const { target, line } of imports) {
        const to = rankOf.get(unitOf(target));
        if (to !== undefined && to > from) upward.push(`${file}:${line} imports ${target} (${unitOf(target)} sits above ${unitOf(file)})`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no import cycle between files (src/, machines/ and the inspector page)', () => {
    // Tarjan's strongly connected components over the file graph; any component of more
    // than one file (or a file importing itself) is a cycle.
    let index = 0;
    const indexOf = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const cycles: string[][] = [];
    const visit = (v: string): void => {
      indexOf.set(v, index);
      low.set(v, index);
      index++;
      stack.push(v);
      onStack.add(v);
      for (const { target: w } of graph.get(v) ?? []) {
        if (!graph.has(w)) continue;
        if (!indexOf.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
      }
      if (low.get(v) === indexOf.get(v)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(w);
        } while (w !== v);
        if (component.length > 1 || (graph.get(v) ?? []).some((i) => i.target === v)) cycles.push(component.sort());
      }
    };
    for (const v of graph.keys()) if (!indexOf.has(v)) visit(v);
    expect(cycles).toEqual([]);
  });
});

/**
 * Where a kind may be named: its own folder and runtime file, the CLI's verbs (`build` is a
 * package verb by design), and the id helpers that tests and the CLI call by name.
 */
function mayNameKinds(file: string): boolean {
  return (
    /^machines\/(?!_shared\/|index\.ts$)/.test(file) ||
    file.startsWith('src/aggregates/') ||
    file.startsWith('src/cli/')
  );
}

/** A kind, or one of its commands, facts or effects (`package.build`); not a file name (`flake.nix`). */
const KIND = `(?:${AGGREGATE_KINDS.join('|')})(?:\\.(?!nix['"]|lock['"])[a-z_]+)?`;
/** A comparison, a `case`, a set or list lookup against a kind (or one of its commands/effects). */
const BRANCHES = [
  new RegExp(`(?:===|!==|==|!=)\\s*['"]${KIND}['"]`),
  new RegExp(`['"]${KIND}['"]\\s*(?:===|!==|==|!=)`),
  new RegExp(`\\bcase\\s+['"]${KIND}['"]\\s*:`),
  new RegExp(`\\.(?:has|includes|get)\\(\\s*['"]${KIND}['"]\\s*\\)`),
  new RegExp(`\\[\\s*['"]${KIND}['"]\\s*,\\s*['"]${KIND}['"]`),
];

describe('the kind is the unit', () => {
  it('keeps shared code free of branches on a kind name', () => {
    const shared = [...sources, ...page].filter((f) => !mayNameKinds(f));
    const found: string[] = [];
    for (const file of shared) {
      const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
      lines.forEach((text, i) => {
        if (/^\s*(\*|\/\/)/.test(text)) return;
        if (BRANCHES.some((b) => b.test(text))) found.push(`${file}:${i + 1}: ${text.trim()}`);
      });
    }
    expect(found).toEqual([]);
  });

  it('sees a branch where there is one (the check itself)', () => {
    const samples = ["if (kind === 'package') return;", "case 'module.write':", "new Set(['flake', 'package'])", "WITHOUT.has('config.activate')"];
    expect(samples.filter((s) => BRANCHES.some((b) => b.test(s)))).toEqual(samples);
    expect(BRANCHES.some((b) => b.test("if (name !== 'flake.nix') continue;"))).toBe(false);
  });
});
