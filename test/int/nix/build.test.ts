import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fail,
  nonce,
  progressContext,
  shellFlake,
  succeed,
  tempWorkspace,
  write,
  type TempWorkspace,
} from '../../support/nix/workspace.js';

const ATTR = 'packages.x86_64-linux.default';

/** Processes still running a builder script that contains `marker`. */
function buildersRunning(marker: string): string[] {
  const r = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.includes(marker) && !l.includes('ps -eo'));
}

describe('nix port: package.build (real nix, offline)', () => {
  let ws: TempWorkspace;
  beforeAll(() => {
    ws = tempWorkspace();
  });
  afterAll(() => ws.cleanup());

  it('streams the build log lines to onProgress and returns the store path', async () => {
    const id = nonce();
    write(join(ws.dir, 'chatty/flake.nix'), shellFlake('echo "step one"; echo "step two" >&2; echo built > $out', id, 'chatty'));
    const ctx = progressContext();
    const result = await succeed(ws.port, { kind: 'package.build', flake_ref: 'path:chatty', attribute: ATTR }, ctx);
    expect(ctx.lines).toEqual(expect.arrayContaining(['chatty> step one', 'chatty> step two']));
    expect(ctx.lines.some((l) => l.startsWith("building '/nix/store/"))).toBe(true);
    const out = (result.store_paths as Record<string, string>).out as string;
    expect(readFileSync(out, 'utf8')).toBe('built\n');
  });

  it('reports a failing build with its exit code and the last lines of the log', async () => {
    const id = nonce();
    const script =
      'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35; do echo line-$i; done; exit 1';
    write(join(ws.dir, 'failing/flake.nix'), shellFlake(script, id, 'failing'));
    const failure = await fail(ws.port, { kind: 'package.build', flake_ref: 'failing', attribute: ATTR });
    expect(failure).toMatchObject({ kind: 'package.build', code: 'nix_failed', exit_code: 1 });
    expect(failure.message).toMatch(
      /^nix build failing#packages\.x86_64-linux\.default failed \(exit 1\): error: builder for .* failed with exit code 1/,
    );
    expect(failure.log_tail?.length).toBeLessThanOrEqual(30);
    expect(failure.log_tail).toEqual(expect.arrayContaining(['failing> line-35']));
    expect(failure.log_tail?.some((l) => l.includes('failed with exit code 1'))).toBe(true);
    expect(failure.log_tail).not.toContain('failing> line-1');
    expect(typeof failure.duration_ms).toBe('number');
  });

  it('kills a running build (and its builder) when the signal aborts', async () => {
    const id = nonce();
    const marker = `sleepy-${id}`;
    write(join(ws.dir, 'sleepy/flake.nix'), shellFlake(`echo started; /bin/sleep 3; echo ${marker} > $out`, id, 'sleepy'));
    const ctx = progressContext();
    const started = performance.now();
    const pending = ws.port.perform({ kind: 'package.build', flake_ref: 'sleepy', attribute: ATTR }, ctx);
    await ctx.waitFor((l) => l === 'sleepy> started');
    expect(buildersRunning(marker).length).toBeGreaterThan(0);
    ctx.controller.abort();
    const outcome = await pending;
    expect(outcome).toMatchObject({
      type: 'effect.failed',
      code: 'nix_failed',
      message: expect.stringContaining('cancelled'),
    });
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(buildersRunning(marker)).toEqual([]);
  });

  it('runs builds of one flake concurrently', async () => {
    const id = nonce();
    const flake = `{
  outputs = { self }: {
    packages.x86_64-linux = builtins.listToAttrs (map (n: {
      name = "p\${toString n}";
      value = builtins.derivation {
        name = "p\${toString n}";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo \${toString n} > $out" ];
        nonce = "${id}";
      };
    }) [ 1 2 3 4 5 6 ]);
  };
}
`;
    write(join(ws.dir, 'many/flake.nix'), flake);
    const results = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((n) =>
        succeed(ws.port, { kind: 'package.build', flake_ref: 'many', attribute: `packages.x86_64-linux.p${n}` }),
      ),
    );
    results.forEach((r, i) => {
      const out = (r.store_paths as Record<string, string>).out as string;
      expect(readFileSync(out, 'utf8')).toBe(`${i + 1}\n`);
    });
  });

  it('creates an out-link only when output_path is given, inside the workspace', async () => {
    const id = nonce();
    write(join(ws.dir, 'linked/flake.nix'), shellFlake('echo linked > $out', id, 'linked'));
    const result = await succeed(ws.port, {
      kind: 'package.build',
      flake_ref: 'linked',
      attribute: ATTR,
      output_path: 'results/linked',
    });
    const out = (result.store_paths as Record<string, string>).out;
    expect(readlinkSync(join(ws.dir, 'results/linked'))).toBe(out);
    await succeed(ws.port, { kind: 'package.build', flake_ref: 'linked', attribute: ATTR });
    expect(existsSync(join(ws.dir, 'linked/result'))).toBe(false);
    expect(existsSync(join(ws.dir, 'result'))).toBe(false);
  });

  it('reports an attribute that does not exist', async () => {
    write(join(ws.dir, 'plain/flake.nix'), shellFlake('echo x > $out', nonce()));
    const failure = await fail(ws.port, {
      kind: 'package.build',
      flake_ref: 'plain',
      attribute: 'packages.x86_64-linux.missing',
    });
    expect(failure.code).toBe('nix_failed');
    expect(failure.message).toContain('missing');
  });

  it('builds a /bin/sh derivation where nix.conf is missing (nix-bin without nix-setup-systemd)', async () => {
    // Without a nix.conf nix would sandbox the build, and /bin/sh does not exist in the sandbox.
    const env: NodeJS.ProcessEnv = { ...process.env, NIX_CONF_DIR: join(ws.dir, 'no-nix-conf') };
    delete env.NIX_CONFIG; // as on a fresh machine: nothing inherited says `sandbox = false`
    const bareHost = tempWorkspace({ env });
    try {
      write(join(bareHost.dir, 'fresh/flake.nix'), shellFlake('echo fresh > $out', nonce(), 'fresh'));
      const result = await succeed(bareHost.port, { kind: 'package.build', flake_ref: 'fresh', attribute: ATTR });
      expect(readFileSync((result.store_paths as Record<string, string>).out as string, 'utf8')).toBe('fresh\n');
    } finally {
      bareHost.cleanup();
    }
  });

  it('caches to a file:// URL given inside the workspace and refuses one outside', async () => {
    write(join(ws.dir, 'tocache/flake.nix'), shellFlake('echo cached > $out', nonce(), 'tocache'));
    const built = await succeed(ws.port, { kind: 'package.build', flake_ref: 'tocache', attribute: ATTR });
    const paths = Object.values(built.store_paths as Record<string, string>);
    const url = `file://${join(ws.dir, 'mycache')}`;
    const cached = await succeed(ws.port, {
      kind: 'package.cache',
      flake_ref: 'tocache',
      attribute: ATTR,
      store_paths: paths,
      cache_url: url,
    });
    expect(cached).toEqual({ cache_url: url, paths });
    expect(existsSync(join(ws.dir, 'mycache/nix-cache-info'))).toBe(true);
    const refused = await fail(ws.port, {
      kind: 'package.cache',
      flake_ref: 'tocache',
      attribute: ATTR,
      store_paths: paths,
      cache_url: 'file:///tmp/outside-cache',
    });
    expect(refused.code).toBe('forbidden');
  });
});
