/**
 * `npm run bench`: starts its own nats-server (JetStream, file storage, temp dir) and the
 * service in-process, measures the limit (plain NATS) and the service side by side, and
 * writes `bench-results/<timestamp>.json` and `bench-results/latest.md`.
 *
 * The load generator runs in a worker thread (its own event loop and NATS connection),
 * paced by a clock thread, so the service on the main thread shares its loop with nothing
 * but the echo responder of the limit phase. Import {@link runBench} to run it from a test.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServer } from '../support/natsServer.js';
import { measureDuringBuild } from './buildInFlight.js';
import { killClusterNow, measureCluster } from './cluster.js';
import { commandFleet, createFleet, measureCommands, type CommandResults } from './commands.js';
import { removePrefixState, startBenchService, stopBenchService, type BenchContext } from './context.js';
import { type Figure } from './figures.js';
import { measureLimit } from './limit.js';
import { LoadGenerator } from './loadGenerator.js';
import { cpuMeter, machineInfo, wakeLateness } from './machine.js';
import { measureMemory } from './memory.js';
import type { ThreadPhase } from './pauseReport.js';
import { parseArgs, resolveSettings, USAGE, type BenchOptions, type Phase } from './options.js';
import { measureQueries } from './queries.js';
import { measureRehydration } from './rehydration.js';
import { renderMarkdown, type BenchResult, type PhaseCpu } from './report.js';
import { measureResume } from './resume.js';
import { benchClock } from './threads.js';

export type { BenchOptions } from './options.js';
export type { BenchResult } from './report.js';
export { renderMarkdown } from './report.js';

/** Default output directory: `bench-results/` at the repository root (gitignored). */
export const DEFAULT_OUT_DIR = fileURLToPath(new URL('../../bench-results/', import.meta.url));

/** The nats-server of the run in progress (so a signal handler can stop it). */
let activeServer: NatsServer | undefined;

/**
 * Run the whole bench once. Never judges by throwing: a phase that fails is listed in
 * `failedPhases` and the others still run; failed requests are counted in the figures.
 */
export async function runBench(options: BenchOptions = {}): Promise<BenchResult> {
  const settings = resolveSettings(options);
  const log = options.log ?? ((line: string) => process.stderr.write(`[bench] ${line}\n`));
  const startedAt = new Date();
  const base = process.hrtime.bigint();
  const now = benchClock(base);
  const machine = machineInfo();
  log(`${settings.mode} run on ${machine.cpuModel} × ${machine.cores}, Node ${machine.node}, nats-server ${machine.natsServer}`);
  const wake = wakeLateness(settings.mode === 'smoke' ? 200 : 1_000);

  const figures: Figure[] = [];
  const failedPhases: BenchResult['failedPhases'] = [];
  const phases: PhaseCpu[] = [];
  const raw: Record<string, unknown> = {};
  const threads: ThreadPhase[] = [];

  const server = await startNatsServer();
  activeServer = server;
  let admin: NatsConnection | undefined;
  let load: LoadGenerator | undefined;
  try {
    admin = await connect({ servers: server.url, name: 'cim-bench-admin', reconnectTimeWait: 20, maxReconnectAttempts: -1 });
    load = await LoadGenerator.start(server.url, base);
    const profileDir = options.outDir === false ? undefined : (options.outDir ?? DEFAULT_OUT_DIR);
    if (profileDir && (settings.allocProfile || settings.cpuProfile)) await mkdir(profileDir, { recursive: true });
    const ctx: BenchContext = { settings, server, load, admin, now, log, threads, profileDir };

    /** Run one phase: its figures, its raw result, its CPU use; a throw is recorded, not fatal. */
    const phase = async <T extends { figures: Figure[] }>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
      const meter = cpuMeter(() => server.pid);
      const t = now();
      try {
        const result = await fn();
        figures.push(...result.figures);
        const { figures: _f, ...rest } = result;
        raw[name] = rest;
        return result;
      } catch (e) {
        const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
        log(`phase ${name} failed: ${error}`);
        failedPhases.push({ phase: name, error });
        figures.push({
          section: name,
          name: 'phase',
          value: null,
          unit: '',
          verdict: 'fail',
          note: `the phase failed: ${error.split('\n')[0] ?? ''}`,
        });
        return undefined;
      } finally {
        phases.push({ phase: name, seconds: (now() - t) / 1000, cpu: meter.stop() });
      }
    };

    // Commands need the limit (ratios); the build figure needs the commands' p99 without a build.
    const needs: Record<Phase, Phase[]> = {
      limit: ['commands', 'build'],
      commands: ['build'],
      queries: [],
      build: [],
      rehydration: [],
      resume: [],
      memory: [],
      cluster: [],
    };
    const want = (p: Phase): boolean =>
      p === 'cluster' ? Boolean(options.cluster || options.only?.includes(p)) : !options.only || options.only.includes(p) || needs[p].some((q) => want(q));

    const limit = want('limit') ? await phase('limit', () => measureLimit(ctx)) : undefined;

    if (want('commands') || want('queries') || want('build')) {
      await phase('command service', async () => {
        const svc = await startBenchService(ctx, 'cmd');
        try {
          const fleet = commandFleet(svc, 'agg', settings.commands.aggregates);
          let commands: CommandResults | undefined;
          if (want('commands')) {
            if (!limit) throw new Error('the limit phase failed, so the command figures have nothing to compare with');
            commands = await phase('commands', () => measureCommands(ctx, svc, fleet, limit));
          } else {
            await createFleet(ctx, fleet, settings.commands.window);
          }
          if (want('queries')) await phase('queries', () => measureQueries(ctx, svc, fleet));
          const baseline = commands?.rates[0];
          if (want('build') && baseline) await phase('build in flight', () => measureDuringBuild(ctx, svc, fleet, baseline));
        } finally {
          await stopBenchService(svc);
          await removePrefixState(ctx.admin, svc.prefix);
        }
        return { figures: [] };
      });
    }
    if (want('rehydration')) await phase('rehydration', () => measureRehydration(ctx));
    if (want('resume')) await phase('resume', () => measureResume(ctx));
    if (want('memory')) await phase('memory', () => measureMemory(ctx));
    if (want('cluster')) await phase('cluster', () => measureCluster(ctx));
  } finally {
    await load?.stop();
    await admin?.close().catch(() => undefined);
    await server.dispose();
    activeServer = undefined;
  }

  const finishedAt = new Date();
  const result: BenchResult = {
    schema: 1,
    mode: settings.mode,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationS: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    machine: { ...machine, loadAverageAtEnd: loadavg().map((x) => Math.round(x * 100) / 100), wakeLateness: wake },
    settings,
    figures: sortFigures(figures),
    failedPhases,
    phases,
    threads,
    raw,
  };

  if (options.outDir !== false) {
    const dir = options.outDir ?? DEFAULT_OUT_DIR;
    await mkdir(dir, { recursive: true });
    const stamp = result.startedAt.replace(/[:.]/g, '-');
    await writeFile(join(dir, `${stamp}${settings.mode === 'smoke' ? '-smoke' : ''}.json`), JSON.stringify(result, null, 2) + '\n');
    await writeFile(join(dir, settings.mode === 'smoke' ? 'latest-smoke.md' : 'latest.md'), renderMarkdown(result));
    log(`wrote ${dir}`);
  }
  return result;
}

/** The table's order: limit, commands, queries, rebuild, memory, resume, build in flight; failures last. */
function sortFigures(figures: Figure[]): Figure[] {
  const order = ['limit', 'command round trip', 'sustained', 'queries', 'rebuild', 'resident', 'NATS server restart', 'while a Nix build'];
  const rank = (f: Figure): number => {
    const i = order.findIndex((o) => f.section.startsWith(o));
    return i === -1 ? order.length : i;
  };
  return figures
    .map((f, i) => ({ f, i }))
    .sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i)
    .map((x) => x.f);
}

/**
 * What keeps a run from showing the bench works: failed phases and failed requests
 * (error replies, timeouts), in words. Empty when every phase ran and every request got `ok`.
 */
export function benchProblems(result: BenchResult): string[] {
  const out = result.failedPhases.map((p) => `phase ${p.phase} failed: ${p.error.split('\n')[0] ?? ''}`);
  for (const f of result.figures) {
    if (f.note?.includes('failed requests:')) out.push(`${f.section} — ${f.name}: ${f.note}`);
  }
  return [...new Set(out)];
}

function invokedDirectly(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  let options: ReturnType<typeof parseArgs>;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    const pid = activeServer?.pid;
    if (pid) process.kill(pid, 'SIGKILL');
    killClusterNow();
    process.stderr.write(`[bench] ${signal}: stopped\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  runBench(options).then(
    (result) => {
      process.stdout.write(renderMarkdown(result));
      const problems = benchProblems(result);
      if (problems.length) process.stderr.write(`[bench] problems:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
      // Missed targets are results, not failures of the bench; a phase that broke is.
      process.exitCode = result.failedPhases.length ? 1 : 0;
    },
    (e: unknown) => {
      process.stderr.write(`[bench] failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
