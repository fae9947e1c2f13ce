/**
 * nix 2.8 and git stop reading options at `--`: every nix subcommand the service runs, given
 * a positional that starts with `-` after `--`, treats it as a path or installable (and fails
 * to find it), never as an option. nix-instantiate does not take `--` that way, so the port
 * passes it only absolute paths.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NixCli } from '../../../src/nix/nixCli.js';
import { EffectError } from '../../../src/errors.js';

let dir: string;
let cli: NixCli;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cim-nix-dashdash-'));
  mkdirSync(join(dir, 'repo'));
  cli = new NixCli('nix', process.env);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs nix and returns its failure (it must fail: the positional names nothing). */
async function failure(options: string[], positional: string): Promise<EffectError> {
  try {
    await cli.nix(options, [positional], { what: `nix ${options.join(' ')}`, cwd: dir });
  } catch (e) {
    if (e instanceof EffectError) return e;
    throw e;
  }
  throw new Error(`nix ${options.join(' ')} -- ${positional} succeeded`);
}

describe('-- before positionals', () => {
  it.each([
    [['build', '--json', '--no-link', '--no-write-lock-file'], '-f/etc/evil.nix#x'],
    [['build', '--json', '--no-link'], '--impure'],
    [['build', '--json', '--no-link'], '-E'],
    [['path-info', '--recursive'], '-r'],
    [['copy', '--to', `file://${'/nonexistent-cache'}`], '--all'],
    [['flake', 'lock'], '-f'],
    [['flake', 'lock', '--update-input', 'x'], '--recreate-lock-file'],
    [['flake', 'update'], '-h'],
    [['flake', 'check', '--no-write-lock-file', '-L'], '--help'],
    [['flake', 'metadata', '--json'], '--version'],
  ])('nix %j -- %s reads the positional as a path, never as an option', async (options, positional) => {
    const error = await failure(options, positional);
    const log = (error.details.log_tail ?? []).join('\n');
    expect(log).not.toMatch(/unrecognised flag|unexpected argument|^Usage|Try 'nix/im);
    // nix looked for a file of that very name.
    expect(log).toContain(positional.split('#')[0]);
  });

  it('git takes paths after -- as paths', async () => {
    await cli.git(join(dir, 'repo'), ['init', '-q']);
    await expect(cli.git(join(dir, 'repo'), ['add'], ['-A'])).rejects.toThrow(/pathspec '-A' did not match/);
  });

  it('nix-instantiate is given absolute paths only', async () => {
    await expect(cli.parseCheck('-E.nix', 'x')).rejects.toThrow(/absolute/);
  });
});
