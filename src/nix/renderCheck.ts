/**
 * The check a module, overlay or configuration passes before its fact is recorded (SPEC
 * §11: input that cannot be rendered to valid Nix is refused before a fact is stored). The
 * renderers are pure, so the file is rendered here exactly as the workspace projection will
 * render it; a body that holds raw Nix (`{"$nix": …}`) is also parsed by `nix-instantiate
 * --parse`, since only Nix itself can say whether a raw expression parses. Everything else the
 * renderers write is valid Nix by construction (test/int/nix/renderedParses.test.ts holds
 * them to that with the real parser).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { workspaceFileOf, workspaceFilesOfEffect, type EffectRequest, type NixFileType } from '../../machines/index.js';
import type { NixCli } from './nixCli.js';
import { RAW_KEY } from './nixValue.js';
import { renderResource } from './workspaceEffects.js';
import { EffectError, ensureError, RenderError } from '../errors.js';

/**
 * Every raw Nix expression in `value`, with the path of its `{"$nix": …}` object. The path is
 * one array pushed and popped on the way, copied only for an expression found: most bodies
 * hold none, and this runs on every command that writes a file.
 */
function rawExpressions(
  value: unknown,
  path: Array<string | number> = [],
  out: Array<{ path: Array<string | number>; expression: string }> = [],
): Array<{ path: Array<string | number>; expression: string }> {
  if (typeof value !== 'object' || value === null) return out;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      rawExpressions(value[i], path, out);
      path.pop();
    }
    return out;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const v = record[key];
    if (key === RAW_KEY && typeof v === 'string') {
      out.push({ path: [...path], expression: v });
      continue;
    }
    path.push(key);
    rawExpressions(v, path, out);
    path.pop();
  }
  return out;
}

/** The parser's complaint without the temporary file's name. */
function complaint(e: EffectError, file: string): string {
  const said = e.details.log_tail?.find((l) => l.startsWith('error:')) ?? e.details.log_tail?.at(-1) ?? 'it does not parse';
  return said.replace(/^error:\s*/, '').split(file).join('the expression');
}

/**
 * Why the file a workspace request writes cannot be rendered, or `undefined` when it can
 * (requests that write no file pass). A refusal is an {@link EffectError} with code
 * `validation` (naming the field), `forbidden` (a reference out of the workspace) or
 * `nix_failed` (nix is needed to parse raw Nix and is missing).
 */
export function checkRenderable(cli: NixCli, request: EffectRequest): EffectError | undefined | Promise<EffectError | undefined> {
  // The kind that owns the effect says which file it writes and which command field holds its body.
  const files = workspaceFilesOfEffect(request.kind);
  const op = workspaceFileOf(files, request);
  if (files === undefined || op?.body === undefined) return undefined;
  const root = files.body;
  let text: string;
  try {
    text = renderResource(op.type, op.name, op.body);
  } catch (e) {
    if (e instanceof RenderError) {
      const field = e.field(root);
      return new EffectError('validation', `${field}: ${e.message}`, { fields: [field] });
    }
    if (e instanceof EffectError) return e;
    throw e;
  }
  const raws = rawExpressions(op.body);
  // Synchronous unless there is raw Nix to parse: the common command pays no promise.
  return raws.length === 0 ? undefined : parseRaw(cli, op, root, text, raws);
}

/** Parses a rendered file that holds raw Nix; names the expression that does not parse. */
async function parseRaw(
  cli: NixCli,
  op: { type: NixFileType; name: string },
  root: string,
  text: string,
  raws: Array<{ path: Array<string | number>; expression: string }>,
): Promise<EffectError | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'cim-parse-'));
  const file = join(dir, 'check.nix');
  try {
    await writeFile(file, text);
    await cli.requireNix();
    const whole = await cli.parseCheck(file, `the ${op.type} '${op.name}'`).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (whole === undefined) return undefined;
    if (!(whole instanceof EffectError)) throw ensureError(whole);
    if (whole.details.exit_code === undefined) return whole; // nix could not run at all
    // Which expression: each one alone, in the parentheses the renderer puts it in.
    for (const raw of raws) {
      const field = [root, ...raw.path].join('.');
      const one = join(dir, 'raw.nix');
      await writeFile(one, `(\n${raw.expression}\n)\n`);
      const failed = await cli.parseCheck(one, field).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (failed instanceof EffectError) {
        return new EffectError('validation', `${field}: the raw Nix expression does not parse: ${complaint(failed, one)}`, { fields: [field] });
      }
    }
    return new EffectError('validation', `${root}: the rendered file does not parse: ${complaint(whole, file)}`, { fields: [root] });
  } catch (e) {
    if (e instanceof EffectError) return e;
    throw e;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
