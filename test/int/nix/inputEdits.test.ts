import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fail, gitFiles, progressContext, succeed, tempWorkspace, write, type TempWorkspace } from '../../support/nix/workspace.js';

/** A hand-written flake with comments, follows, a non-flake input and a let … in outputs. */
function handWritten(dir: string): string {
  return `# The team's flake: keep this comment.
{
  description = "hand written";

  inputs = {
    # the library, pinned by path
    base.url = "path:${dir}/base";
    data = {
      url = "path:${dir}/data";
      flake = false; # plain files
    };
    tools = {
      url = "path:${dir}/tools";
      inputs.base.follows = "base";
    };
  };

  /* outputs use a let with semicolons */
  outputs = { self, base, data, tools }:
    let
      value = 1;
      other = with builtins; length [ value ];
    in
    {
      lib.answer = value + other;
    };
}
`;
}

describe('nix port: editing inputs of an existing flake (real nix, offline)', () => {
  let ws: TempWorkspace;
  beforeAll(async () => {
    ws = tempWorkspace();
    for (const name of ['base', 'tools', 'extra']) {
      await succeed(ws.port, { kind: 'flake.write', path: name, description: name, template: 'minimal', inputs: {} });
    }
    // tools takes a `base` input so that `follows` means something.
    await succeed(ws.port, { kind: 'flake.add_input', path: 'tools', name: 'base', url: 'path:../base' });
    write(join(ws.dir, 'data/readme.txt'), 'plain data\n');
  });
  afterAll(() => ws.cleanup());

  it('adds and removes an input without touching outputs, follows, flake = false or comments', async () => {
    const app = join(ws.dir, 'app');
    write(join(app, 'flake.nix'), handWritten(ws.dir));
    await succeed(ws.port, { kind: 'flake.update', path: 'app' });
    const original = readFileSync(join(app, 'flake.nix'), 'utf8');

    await succeed(ws.port, {
      kind: 'flake.add_input',
      path: 'app',
      name: 'extra',
      url: 'path:../extra',
      follows: { base: 'base' },
    });
    const edited = readFileSync(join(app, 'flake.nix'), 'utf8');
    expect(edited).toContain(`    extra = {\n      url = "path:${ws.dir}/extra";\n      inputs.base.follows = "base";\n    };\n  };`);
    expect(edited).toContain('outputs = { self, base, data, tools, extra }:');
    for (const kept of [
      "# The team's flake",
      '# the library, pinned by path',
      'flake = false; # plain files',
      'inputs.base.follows = "base";',
      '/* outputs use a let',
    ]) {
      expect(edited).toContain(kept);
    }
    const lock = JSON.parse(readFileSync(join(app, 'flake.lock'), 'utf8')) as {
      nodes: Record<string, { inputs?: Record<string, unknown>; flake?: boolean }>;
    };
    expect(Object.keys(lock.nodes.root?.inputs ?? {}).sort()).toEqual(['base', 'data', 'extra', 'tools']);
    expect(lock.nodes.data?.flake).toBe(false);

    await succeed(ws.port, { kind: 'flake.remove_input', path: 'app', name: 'extra' });
    expect(readFileSync(join(app, 'flake.nix'), 'utf8')).toBe(original);

    await succeed(ws.port, { kind: 'flake.remove_input', path: 'app', name: 'data' });
    const withoutData = readFileSync(join(app, 'flake.nix'), 'utf8');
    expect(withoutData).not.toContain('data = {');
    expect(withoutData).not.toContain('plain files');
    expect(withoutData).toContain('outputs = { self, base, tools }:');
    expect(withoutData).toContain('# the library, pinned by path');
  });

  it('adds a non-flake input with flake = false', async () => {
    await succeed(ws.port, { kind: 'flake.write', path: 'withdata', description: '', template: 'minimal', inputs: {} });
    const result = await succeed(ws.port, {
      kind: 'flake.add_input',
      path: 'withdata',
      name: 'data',
      url: 'path:../data',
      flake: false,
    });
    expect(readFileSync(join(ws.dir, 'withdata/flake.nix'), 'utf8')).toContain('flake = false;');
    expect(result.locked).toMatchObject({ url: `path:${ws.dir}/data` });
  });

  it('restores flake.nix, flake.lock and the git index byte for byte when relocking fails', async () => {
    await succeed(ws.port, {
      kind: 'flake.write',
      path: 'victim',
      description: 'victim',
      template: 'minimal',
      inputs: {},
    });
    const dir = join(ws.dir, 'victim');
    // First without a lock file: the failed relock must not leave one behind.
    const before = readFileSync(join(dir, 'flake.nix'));
    const missing = await fail(ws.port, {
      kind: 'flake.add_input',
      path: 'victim',
      name: 'ghost',
      url: 'path:../does-not-exist',
    });
    expect(missing).toMatchObject({ code: 'nix_failed', exit_code: 1 });
    expect(missing.message).toContain('restored');
    expect(missing.log_tail?.join('\n')).toContain('does-not-exist');
    expect(readFileSync(join(dir, 'flake.nix')).equals(before)).toBe(true);
    expect(existsSync(join(dir, 'flake.lock'))).toBe(false);
    expect(gitFiles(dir).sort()).toEqual(['.gitignore', 'flake.nix']);

    // Then with a lock file in place.
    await succeed(ws.port, { kind: 'flake.add_input', path: 'victim', name: 'base', url: 'path:../base' });
    const flakeBefore = readFileSync(join(dir, 'flake.nix'));
    const lockBefore = readFileSync(join(dir, 'flake.lock'));
    const failure = await fail(ws.port, {
      kind: 'flake.add_input',
      path: 'victim',
      name: 'ghost',
      url: 'path:../does-not-exist',
    });
    expect(failure.code).toBe('nix_failed');
    expect(readFileSync(join(dir, 'flake.nix')).equals(flakeBefore)).toBe(true);
    expect(readFileSync(join(dir, 'flake.lock')).equals(lockBefore)).toBe(true);

    // The flake still works after the failed edit.
    await succeed(ws.port, { kind: 'flake.update', path: 'victim' });
  });

  it('refuses an input that already exists in the file and one whose name is a keyword', async () => {
    await succeed(ws.port, {
      kind: 'flake.write',
      path: 'dupes',
      description: '',
      template: 'minimal',
      inputs: { base: 'path:../base' },
    });
    const before = readFileSync(join(ws.dir, 'dupes/flake.nix'), 'utf8');
    const dupe = await fail(ws.port, { kind: 'flake.add_input', path: 'dupes', name: 'base', url: 'path:../base' });
    expect(dupe).toMatchObject({
      code: 'nix_failed',
      message: expect.stringContaining("already declares the input 'base'"),
    });
    const keyword = await fail(ws.port, { kind: 'flake.add_input', path: 'dupes', name: 'let', url: 'path:../base' });
    expect(keyword.message).toContain('keyword');
    expect(readFileSync(join(ws.dir, 'dupes/flake.nix'), 'utf8')).toBe(before);
  });

  it('refuses to edit a flake.nix that is not an attribute set, leaving it alone', async () => {
    const dir = join(ws.dir, 'odd');
    write(join(dir, 'flake.nix'), 'let x = 1; in { outputs = _: { }; }\n');
    const failure = await fail(ws.port, { kind: 'flake.add_input', path: 'odd', name: 'base', url: 'path:../base' });
    expect(failure.code).toBe('nix_failed');
    expect(failure.message).toContain('single attribute set');
    expect(readFileSync(join(dir, 'flake.nix'), 'utf8')).toBe('let x = 1; in { outputs = _: { }; }\n');
  });

  it('edits of one flake run one at a time even when requested together', async () => {
    await succeed(ws.port, { kind: 'flake.write', path: 'busy', description: '', template: 'minimal', inputs: {} });
    const names = ['a1', 'a2', 'a3', 'a4'];
    await Promise.all(
      names.map((name) => succeed(ws.port, { kind: 'flake.add_input', path: 'busy', name, url: 'path:../base' }, progressContext())),
    );
    const text = readFileSync(join(ws.dir, 'busy/flake.nix'), 'utf8');
    for (const name of names) expect(text).toContain(`${name}.url =`);
    const lock = JSON.parse(readFileSync(join(ws.dir, 'busy/flake.lock'), 'utf8')) as {
      nodes: { root: { inputs: object } };
    };
    expect(Object.keys(lock.nodes.root.inputs).sort()).toEqual(names);
  });
});
