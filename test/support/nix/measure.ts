/**
 * Wall time of create → lock → build for a `minimal` flake, through the Nix port and with the
 * bare commands (mkdir, write flake.nix, git init/add, nix flake lock, nix build --json
 * --no-link). Run: `npx tsx test/support/nix/measure.ts [runs]`. Each run builds a new
 * derivation (its name differs), so nothing comes from the store already built.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kindEffects } from '../../../src/aggregates/index.js';
import { createNixPort } from '../../../src/nix/index.js';
import { childEnvironment } from '../../../src/nix/nixCli.js';
import { renderFlake } from '../../../src/nix/templates.js';

const runs = Number(process.argv[2] ?? 20);
const workspace = mkdtempSync(join(tmpdir(), 'cim-nix-measure-'));
const port = createNixPort({ workspace, handlers: kindEffects });
const env = childEnvironment(process.env);
const tag = Math.random().toString(36).slice(2, 8);

function sh(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function bare(name: string): number {
  const started = performance.now();
  const dir = join(workspace, name);
  mkdirSync(dir, { recursive: true });
  const { files } = renderFlake({ template: 'minimal', description: 'measure', inputs: {}, flakeDir: dir });
  for (const [file, text] of files) writeFileSync(join(dir, file), text);
  sh('git', ['-c', 'init.defaultBranch=main', 'init', '-q'], dir);
  sh('git', ['add', '--', ...files.map(([f]) => f)], dir);
  sh('nix', ['flake', 'lock', dir], dir);
  const out = sh('nix', ['build', '--json', '--no-link', `${dir}#packages.x86_64-linux.default`], dir);
  if (!out.includes('/nix/store/')) throw new Error('no store path');
  return performance.now() - started;
}

async function viaPort(name: string): Promise<number> {
  const ctx = { signal: new AbortController().signal };
  const started = performance.now();
  for (const request of [
    { kind: 'flake.write', path: name, description: 'measure', template: 'minimal', inputs: {} },
    { kind: 'flake.update', path: name },
    { kind: 'package.build', flake_ref: name, attribute: 'packages.x86_64-linux.default' },
  ] as const) {
    const outcome = await port.perform(request, ctx);
    if (outcome.type !== 'effect.succeeded') throw new Error(`${request.kind}: ${outcome.message}`);
  }
  return performance.now() - started;
}

function stats(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return `p50 ${at(0.5).toFixed(1)} ms, p90 ${at(0.9).toFixed(1)} ms, min ${(sorted[0] ?? NaN).toFixed(1)} ms`;
}

try {
  await viaPort(`warm-port-${tag}`);
  bare(`warm-bare-${tag}`);
  const portTimes: number[] = [];
  const bareTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    portTimes.push(await viaPort(`port-${tag}-${i}`));
    bareTimes.push(bare(`bare-${tag}-${i}`));
  }
  const p50 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  console.log(`create → lock → build of a minimal flake, ${runs} runs each (nix ${(await port.probe()).version ?? '?'})`);
  console.log(`  via the port : ${stats(portTimes)}`);
  console.log(`  bare commands: ${stats(bareTimes)}`);
  console.log(`  port overhead at p50: ${(p50(portTimes) - p50(bareTimes)).toFixed(1)} ms`);
} finally {
  rmSync(workspace, { recursive: true, force: true });
}
