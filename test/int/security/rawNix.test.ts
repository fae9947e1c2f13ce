/**
 * Issue 12, class 8: a raw `{"$nix": …}` expression evaluates to exactly itself in its place.
 * Nix ends a `#` comment at `\r` as well as `\n`, and an interpolation holds any brackets:
 * no comment form, line ending or string can close the parentheses the service puts around
 * the expression. Checked by evaluating the files the service writes with the real nix.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectRefused, startHarness, type Harness } from './harness.js';

let h: Harness;
let scratch: string;

/** `nix-instantiate --eval --strict --json` of a file or an expression: its value, or the error. */
function evaluate(args: string[]): { ok: true; value: unknown } | { ok: false; error: string } {
  const r = spawnSync('nix-instantiate', ['--eval', '--strict', '--json', ...args], { encoding: 'utf8' });
  return r.status === 0 ? { ok: true, value: JSON.parse(r.stdout) as unknown } : { ok: false, error: r.stderr };
}

/** The expression on its own, as nix reads it from a file of exactly these bytes. */
function standalone(expression: string): ReturnType<typeof evaluate> {
  const file = join(scratch, `e${Math.random().toString(36).slice(2)}.nix`);
  writeFileSync(file, expression);
  return evaluate([file]);
}

/** The reply to module.create of `x = <raw>` and the module's file, per expression. */
const rendered = new Map<string, { reply: Record<string, unknown>; file: string }>();

/**
 * Creates one module per expression (config `x = <raw>`), all at once, then a sentinel module:
 * once the sentinel's file exists, every earlier write has been attempted.
 */
async function renderAll(expressions: string[]): Promise<void> {
  await Promise.all(
    expressions.map(async (expression, i) => {
      const name = `raw${i}`;
      const reply = await h.cmd('module.create', { name, module: { options: {}, config: { x: { $nix: expression } }, imports: [] } });
      rendered.set(expression, { reply, file: join(h.svc.workspace, `modules/${name}.nix`) });
    }),
  );
  expect(await h.cmd('module.create', { name: 'sentinel', module: { options: {}, config: {}, imports: [] } })).toMatchObject({
    status: 'ok',
  });
  await vi.waitFor(() => expect(existsSync(join(h.svc.workspace, 'modules/sentinel.nix'))).toBe(true), { timeout: 30_000 });
}

/** The value of `config` in a module file, evaluated with empty arguments. */
function moduleConfig(file: string): ReturnType<typeof evaluate> {
  return evaluate(['-E', `(import ${file} { config = { }; lib = { }; pkgs = { }; }).config`]);
}

const ESCAPES: [string, string][] = [
  ['a # comment ended by \\r', '1 #\r) ; injected = (2'],
  ['a # comment ended by \\r\\n', '1 #\r\n) ; injected = (2'],
  ['a # comment ended by \\r after a /* */ comment', '1 /* \r */ #\r) ; injected = (2'],
  ['a function whose body comment ends at \\r', 'x: x #\r) ; injected = (2'],
  ['parentheses inside a "…" interpolation', '"${("v")}" ) ; injected = ( "}"'],
  ["brackets inside a ''…'' interpolation", "''${[\"v\"]}'' ) ; injected = ( ''}''"],
  ['an interpolation in an interpolation', '"${"${("v")}"}" ) ; injected = ( "}"'],
];

const BENIGN: [string, string][] = [
  ['a trailing # comment ended by \\r\\n', '1 + 2 #\r\n'],
  ['a # comment ended by \\r inside a list', '[ 1 #\r 2 ]'],
  ['a /* */ comment holding \\r and )', '/* \r ) */ 4'],
  ['a "…" string holding a raw \\r', '"a\rb"'],
  ["an ''…'' string with \\r\\n lines", "''\r\n  a\r\n  b\r\n''"],
  ['a # comment holding U+2028 (not a line end for nix)', '1 # \u2028 ) + 1\n'],
  ['a # comment holding a form feed', '{ a = 1; } #\f ) ; b = 2'],
  ['an interpolation holding an attribute set', '"${{ a = "v"; }.a}"'],
];

beforeAll(async () => {
  h = await startHarness();
  scratch = mkdtempSync(join(tmpdir(), 'cim-sec-raw-'));
  await renderAll(BENIGN.map(([, expression]) => expression));
});

afterAll(async () => {
  await h?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('raw Nix expressions (issue 12, class 8)', () => {
  it.each(ESCAPES)('refuses %s with validation naming the field, before any fact', async (_name, expression) => {
    expect(standalone(expression).ok).toBe(false);
    const name = `escape${ESCAPES.findIndex(([, e]) => e === expression)}`;
    const body = { name, module: { options: {}, config: { x: { $nix: expression } }, imports: [] } };
    await expectRefused(h, 'module.create', body, 'validation', /module\.config\.x/);
    // Nothing was scheduled: once the sentinel is written, this file still is not.
    expect(await h.cmd('module.create', { name: `after-${name}`, module: { options: {}, config: {}, imports: [] } })).toMatchObject({
      status: 'ok',
    });
    await vi.waitFor(() => expect(existsSync(join(h.svc.workspace, `modules/after-${name}.nix`))).toBe(true), { timeout: 30_000 });
    expect(existsSync(join(h.svc.workspace, `modules/${name}.nix`))).toBe(false);
  });

  it.each(BENIGN)('renders %s as exactly itself', (_name, expression) => {
    const alone = standalone(expression);
    expect(alone.ok).toBe(true);
    const { reply, file } = rendered.get(expression)!;
    expect(reply).toMatchObject({ status: 'ok' });
    expect(existsSync(file)).toBe(true);
    const config = moduleConfig(file);
    expect(config).toEqual({ ok: true, value: { x: alone.ok ? alone.value : undefined } });
  });
});
