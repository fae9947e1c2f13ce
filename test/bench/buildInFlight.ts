/**
 * Command p99 of other aggregates while a Nix build runs. A flake whose package sleeps in
 * its builder (10 s; 2 s in smoke; always rebuilt, thanks to a nonce) is written into the
 * service's workspace; once its build has really started (its output shows on the progress
 * subject) the fleet is driven at the judged rate for the rest of the build. Needs the
 * service's Nix adapter (health reports `nix.available`); otherwise the figure says why not.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { packageId } from '../../src/domain/ids.js';
import { subjectsFor } from '../../src/domain/subjects.js';
import { shellFlake, write } from '../support/nix/workspace.js';
import type { TestService } from '../support/service.js';
import type { CommandFleet } from './commands.js';
import { health, type BenchContext } from './context.js';
import { judge, notMeasured, type Figure } from './figures.js';
import type { LoadResult } from './loadProtocol.js';
import { TARGETS } from './options.js';

export interface BuildInFlightResults {
  nix: { onPath: string | null; service: unknown };
  /** How long the builder sleeps (s). */
  buildSeconds: number;
  /** Build request → its reply (ms), and the reply. */
  build?: { ms: number; reply: Record<string, unknown> };
  /** Build request → its builder's first output line (ms). */
  startedAfterMs?: number;
  run?: LoadResult;
  figures: Figure[];
}

const FLAKE_DIR = 'bench-build';

function nixOnPath(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v nix'], { encoding: 'utf8', timeout: 5_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

export async function measureDuringBuild(
  ctx: BenchContext,
  svc: TestService,
  fleet: CommandFleet,
  baseline: LoadResult,
): Promise<BuildInFlightResults> {
  const smoke = ctx.settings.mode === 'smoke';
  const buildSeconds = smoke ? 2 : 10;
  const section = 'while a Nix build runs';
  const name = `other aggregates' command p99 at ${TARGETS.commandRate} cmd/s during a ${buildSeconds} s build`;
  const target = { op: '<=' as const, value: TARGETS.buildInFlightP99Ms };
  const onPath = nixOnPath();
  const report = await health(ctx.admin).catch(() => undefined);
  const service = report?.nix ?? 'health did not answer';
  if (report?.nix?.available !== true) {
    const why = `the service reports Nix unavailable (${report?.nix?.hint ?? 'health did not answer'}); nix ${onPath ? `is installed at ${onPath}` : 'is not installed'}`;
    return { nix: { onPath, service }, buildSeconds, figures: [notMeasured(section, name, 'ms', why, target)] };
  }

  // The fixture: a package whose builder prints a line, sleeps, and writes its output.
  const system = process.arch === 'arm64' ? 'aarch64-linux' : 'x86_64-linux';
  const dir = join(svc.workspace, FLAKE_DIR);
  write(
    join(dir, 'flake.nix'),
    shellFlake(`echo started; /bin/sleep ${buildSeconds}; echo done > $out`, randomUUID(), FLAKE_DIR).replaceAll('x86_64-linux', system),
  );
  spawnSync('git', ['init', '-q'], { cwd: dir });
  spawnSync('git', ['add', 'flake.nix'], { cwd: dir });
  const flakeRef = `path:${FLAKE_DIR}`;
  const attribute = `packages.${system}.default`;

  // The builder's first line on the progress subject says the build really runs.
  const progress = subjectsFor(svc.prefix).progress('package', packageId(flakeRef, attribute));
  let startedAt: number | undefined;
  let onStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (onStarted = resolve));
  const sub = ctx.admin.subscribe(progress, {
    callback: (_e, m) => {
      if (startedAt === undefined && m.string().includes('started')) {
        startedAt = ctx.now();
        onStarted();
      }
    },
  });
  await ctx.admin.flush();

  const requested = ctx.now();
  ctx.log(`build in flight: package.build of a ${buildSeconds} s build`);
  const building = ctx.admin
    .request(`${svc.prefix}.cmd.package.build`, JSON.stringify({ flake_ref: flakeRef, attribute }), {
      timeout: buildSeconds * 1000 + 120_000,
    })
    .then(
      (m): { ms: number; reply: Record<string, unknown> } => ({ ms: ctx.now() - requested, reply: m.json<Record<string, unknown>>() }),
      (e: unknown): { ms: number; reply: Record<string, unknown> } => ({
        ms: ctx.now() - requested,
        reply: { status: 'error', code: 'client', message: e instanceof Error ? e.message : String(e) },
      }),
    );
  try {
    let lateTimer: NodeJS.Timeout | undefined;
    const first = await Promise.race([
      started.then(() => 'started' as const),
      building.then(() => 'ended' as const),
      new Promise<'late'>((r) => (lateTimer = setTimeout(() => r('late'), 60_000))),
    ]);
    clearTimeout(lateTimer);
    if (first !== 'started' || startedAt === undefined) {
      const build = first === 'ended' ? await building : undefined;
      const why = build
        ? `the build ended before its builder started: ${JSON.stringify(build.reply).slice(0, 300)}`
        : 'the builder did not start within 60 s';
      return {
        nix: { onPath, service },
        buildSeconds,
        ...(build ? { build } : {}),
        figures: [notMeasured(section, name, 'ms', why, target)],
      };
    }
    // Drive the fleet for the rest of the build, less a margin, so the whole run overlaps it.
    const durationMs = Math.max(500, buildSeconds * 1000 - (ctx.now() - startedAt) - 1_000);
    const run = await ctx.load.run({
      label: 'commands during a build',
      target: fleet.update,
      drive: { kind: 'open', rate: TARGETS.commandRate, durationMs },
      timeoutMs: ctx.settings.timeoutMs,
    });
    const build = await building;
    const ok = build.reply['status'] === 'ok';
    const events = (build.reply['events'] as Array<{ event_type?: string }> | undefined)?.map((e) => e.event_type).join(', ');
    const failures = { ...run.errors, ...(ok ? {} : { [`build ${String(build.reply['code'])}`]: 1 }) };
    return {
      nix: { onPath, service },
      buildSeconds,
      build,
      startedAfterMs: startedAt - requested,
      run,
      figures: [
        judge({
          section,
          name,
          value: run.latency.p99,
          unit: 'ms',
          target,
          ratio: { value: run.latency.p99 / baseline.latency.p99, against: 'p99 without a build' },
          failures,
          smoke,
          note: `commands for ${(durationMs / 1000).toFixed(1)} s inside the build; builder started ${((startedAt - requested) / 1000).toFixed(1)} s after the request, reply after ${(build.ms / 1000).toFixed(1)} s (${events ?? String(build.reply['message'])})`,
        }),
      ],
    };
  } finally {
    sub.unsubscribe();
    await building;
  }
}
