/**
 * Command p99 of other aggregates while a Nix build runs. Needs the service's Nix adapter
 * (health reports `nix.available`); until then the figure says why it was not measured.
 * With the adapter: create a `minimal` flake (builds offline), start `package.build` of its
 * default package, and drive the fleet at the judged rate while the build is in flight.
 */
import { spawnSync } from 'node:child_process';
import type { TestService } from '../support/service.js';
import type { CommandFleet } from './commands.js';
import { health, type BenchContext } from './context.js';
import { judge, notMeasured, type Figure } from './figures.js';
import type { LoadResult } from './loadProtocol.js';
import { TARGETS } from './options.js';

export interface BuildInFlightResults {
  nix: { onPath: string | null; service: unknown };
  build?: { ms: number; reply: Record<string, unknown> | { error: string } };
  run?: LoadResult;
  figures: Figure[];
}

function nixOnPath(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v nix'], { encoding: 'utf8', timeout: 5_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

export async function measureDuringBuild(ctx: BenchContext, svc: TestService, fleet: CommandFleet, baseline: LoadResult): Promise<BuildInFlightResults> {
  const section = 'while a Nix build runs';
  const name = `other aggregates' command p99 at ${TARGETS.commandRate} cmd/s`;
  const target = { op: '<=' as const, value: TARGETS.buildInFlightP99Ms };
  const onPath = nixOnPath();
  const report = await health(ctx.admin).catch((e: unknown) => ({ status: 'error', error: String(e) }) as const);
  const service = 'nix' in report ? report.nix : report;
  const available = 'nix' in report && report.nix?.available === true;
  if (!available) {
    const hint = 'nix' in report ? (report.nix?.hint ?? 'no hint') : 'health did not answer';
    const why = `the service reports Nix unavailable (${hint}); nix ${onPath ? `is installed at ${onPath}` : 'is not installed'}`;
    return { nix: { onPath, service }, figures: [notMeasured(section, name, 'ms', why, target)] };
  }

  const p = svc.prefix;
  const system = process.arch === 'arm64' ? 'aarch64-linux' : 'x86_64-linux';
  const path = 'bench/build-in-flight';
  const created = await ctx.admin.request(`${p}.cmd.flake.create`, JSON.stringify({ path, description: 'bench: a build in flight', template: 'minimal' }), { timeout: 120_000 });
  const c = created.json<Record<string, unknown>>();
  if (c['status'] !== 'ok') {
    return { nix: { onPath, service }, figures: [notMeasured(section, name, 'ms', `flake.create for the build answered ${String(c['code'])}: ${String(c['message'])}`, target)] };
  }
  const durationMs = Math.min(10_000, ctx.settings.commands.rates[0]!.durationMs);
  ctx.log(`build in flight: package.build started, commands at ${TARGETS.commandRate}/s for ${durationMs / 1000} s`);
  const started = ctx.now();
  const building = ctx.admin
    .request(`${p}.cmd.package.build`, JSON.stringify({ flake_ref: `path:${path}`, attribute: `packages.${system}.default` }), { timeout: 600_000 })
    .then(
      (m) => ({ ms: ctx.now() - started, reply: m.json<Record<string, unknown>>() }),
      (e: unknown) => ({ ms: ctx.now() - started, reply: { error: e instanceof Error ? e.message : String(e) } }),
    );
  const run = await ctx.load.run({
    label: 'commands during a build',
    target: fleet.update,
    drive: { kind: 'open', rate: TARGETS.commandRate, durationMs },
    timeoutMs: ctx.settings.timeoutMs,
  });
  const build = await building;
  const ok = 'status' in build.reply && build.reply['status'] === 'ok';
  const note = `build ${ok ? 'finished' : 'ended'} after ${(build.ms / 1000).toFixed(1)} s${build.ms < durationMs ? ' (shorter than the command run: only part of the run overlapped it)' : ''}`;
  return {
    nix: { onPath, service },
    build,
    run,
    figures: [
      judge({
        section,
        name,
        value: run.latency.p99,
        unit: 'ms',
        target,
        ratio: { value: run.latency.p99 / baseline.latency.p99, against: 'p99 without a build' },
        failures: run.errors,
        smoke: ctx.settings.mode === 'smoke',
        note,
      }),
    ],
  };
}
