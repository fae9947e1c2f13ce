/**
 * Inspection overhead on command latency: the same workload against the real service with
 * inspection off, on with nobody watching (lifecycle and state changes only), and on with a
 * watcher holding the full-stream lease and subscribed to `P.inspect.>` (as when the page is
 * open). Modes alternate in each round, so drift hits all of them.
 *
 *   npx tsx test/e2e/inspectionOverhead.ts [--commands 4000] [--aggregates 200] [--concurrency 32] [--rounds 3]
 *
 * First the hot path alone, in process (no NATS, so no noise from other processes): CPU time
 * per command of an aggregate actor handling `module.update` without inspection, inspected
 * with nobody watching, and inspected with the full stream on (records built, batched and
 * serialised). Then the whole service over NATS.
 *
 * Prints tables and writes bench-results/inspection-overhead.json. A benchmark, not a test:
 * it measures and reports; it does not pass or fail.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createActor, type AnyActor } from 'xstate';
import { registry } from '../../machines/index.js';
import { InspectionHub } from '../../src/inspection/hub.js';
import { startNatsServer } from '../support/natsServer.js';
import { startTestService, type TestService } from '../support/service.js';
import { freePort } from './browser.js';

const { values } = parseArgs({
  options: {
    commands: { type: 'string', default: '4000' },
    aggregates: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
  },
});
const COMMANDS = Number(values.commands);
const AGGREGATES = Number(values.aggregates);
const CONCURRENCY = Number(values.concurrency);
const ROUNDS = Number(values.rounds);

const enc = new TextEncoder();
const RECORD = Buffer.from('{"k":"');

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

type Mode = 'off' | 'on' | 'watched';
const MODES: Mode[] = ['off', 'on', 'watched'];

interface Run {
  mode: Mode;
  sequential: { p50: number; p90: number; p99: number };
  concurrent: { p50: number; p99: number; throughput: number };
  inspectRecords: number;
  inspectBytes: number;
}

async function send(svc: TestService, name: string, i: number): Promise<number> {
  const body = { name, module: { config: { n: i } }, identity: { message_id: randomUUID() } };
  const t0 = performance.now();
  const reply = await svc.client.request(`${svc.prefix}.cmd.module.update`, enc.encode(JSON.stringify(body)), { timeout: 30_000 });
  const ms = performance.now() - t0;
  const data = reply.json<{ status: string; message?: string }>();
  if (data.status !== 'ok') throw new Error(`command failed: ${data.message ?? JSON.stringify(data)}`);
  return ms;
}

async function runOnce(mode: Mode): Promise<Run> {
  const server = await startNatsServer();
  const env: Record<string, string> = { NIX_PASSIVATION_IDLE_MS: '600000' };
  if (mode !== 'off') env['INSPECTOR_PORT'] = String(await freePort());
  const svc = await startTestService(server, { env });
  if (mode === 'watched') await svc.client.request(`${svc.prefix}.inspect.watch`, enc.encode('{"seconds":3600}'), { timeout: 5_000 });
  let inspectRecords = 0;
  let inspectBytes = 0;
  const sub = svc.client.subscribe(`${svc.prefix}.inspect.>`, {
    callback: (_e, m) => {
      inspectBytes += m.data.length;
      // Count records without parsing (the subscriber shares the service's process here).
      if (m.subject.endsWith('.events')) {
        const buf = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
        for (let i = buf.indexOf(RECORD); i >= 0; i = buf.indexOf(RECORD, i + 1)) inspectRecords++;
      }
    },
  });
  try {
    const names = Array.from({ length: AGGREGATES }, (_, i) => `m${i}`);
    await Promise.all(
      names.map(async (name) => {
        const r = await svc.client.request(`${svc.prefix}.cmd.module.create`, enc.encode(JSON.stringify({ name, module: {} })), {
          timeout: 30_000,
        });
        if (r.json<{ status: string }>().status !== 'ok') throw new Error('create failed');
      }),
    );
    // Warm-up.
    for (let i = 0; i < 300; i++) await send(svc, names[i % AGGREGATES]!, i);

    const seq: number[] = [];
    for (let i = 0; i < COMMANDS / 2; i++) seq.push(await send(svc, names[i % AGGREGATES]!, i));
    seq.sort((a, b) => a - b);

    const conc: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < COMMANDS) {
          const i = next++;
          conc.push(await send(svc, names[i % AGGREGATES]!, i));
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    conc.sort((a, b) => a - b);
    await svc.client.flush();
    return {
      mode,
      sequential: { p50: pct(seq, 50), p90: pct(seq, 90), p99: pct(seq, 99) },
      concurrent: { p50: pct(conc, 50), p99: pct(conc, 99), throughput: COMMANDS / seconds },
      inspectRecords,
      inspectBytes,
    };
  } finally {
    sub.unsubscribe();
    await svc.stop();
    await server.dispose();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** µs of CPU per command for the actor alone, inspected unwatched, inspected watched (median of 5 runs). */
function hotPath(): { off: number; on: number; watched: number; bytesPerCommand: number } {
  const N = 200;
  const M = 50_000;
  let bytes = 0;
  const identity = { message_id: randomUUID(), correlation_id: randomUUID(), causation_id: randomUUID() };
  const stored = [{ event: { identity, event_type: 'ModuleUpdated', sequence: 1 }, subject: 'nix.event.module.updated' }];
  const once = (mode: Mode): number => {
    bytes = 0;
    const hub = new InspectionHub({ instance: 'bench', logger: pino({ level: 'silent' }), publish: (d) => (bytes += d.length), flushEveryMs: 1e9 });
    if (mode === 'watched') hub.watch(3_600_000);
    const actors: AnyActor[] = [];
    for (let i = 0; i < N; i++) {
      const a = createActor(registry.module.machine, { input: { aggregate_id: `id${i}` } }) as AnyActor;
      a.start();
      a.send({ type: 'module.create', name: `m${i}`, module: { options: {}, config: {}, imports: [] } } as { type: string });
      if (mode !== 'off') hub.attached('module', `id${i}`, a, { replayed: 1, fromSnapshot: false });
      actors.push(a);
    }
    const t0 = process.cpuUsage();
    for (let i = 0; i < M; i++) {
      const a = actors[i % N]!;
      const event = { type: 'module.update', name: `m${i % N}`, module: { options: {}, config: { n: i }, imports: [] } };
      if (mode === 'off') {
        a.send(event);
        continue;
      }
      hub.sending(identity);
      a.send(event);
      hub.sending(undefined);
      hub.stored('module', `id${i % N}`, stored);
      hub.replied('module', `id${i % N}`, 'module.update', identity, { status: 'ok', version: i });
      if (i % 1_000 === 999) hub.flush(true); // serialise as the timer would
    }
    hub.flush(true);
    const used = process.cpuUsage(t0);
    hub.stop();
    return (used.user + used.system) / M;
  };
  const median5 = (mode: Mode): number => median(Array.from({ length: 5 }, () => once(mode)));
  median5('off'); // warm-up
  const off = median5('off');
  const on = median5('on');
  const watched = median5('watched');
  once('watched');
  return { off, on, watched, bytesPerCommand: bytes / M };
}

async function main(): Promise<void> {
  const hot = hotPath();
  process.stdout.write(
    [
      '| hot path, in process (µs CPU per command) | off | on, nobody watching | on, page watching |',
      '|---|---|---|---|',
      `| actor handles module.update (+ inspection) | ${hot.off.toFixed(1)} | ${hot.on.toFixed(1)} (+${(hot.on - hot.off).toFixed(1)}) | ${hot.watched.toFixed(1)} (+${(hot.watched - hot.off).toFixed(1)}) |`,
      `| bytes published per command | 0 | ~0 | ${hot.bytesPerCommand.toFixed(0)} |`,
      '',
    ].join('\n') + '\n',
  );
  if (ROUNDS === 0) return; // --rounds 0: the hot path only
  const runs: Run[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const order = [...MODES.slice(r % 3), ...MODES.slice(0, r % 3)];
    for (const mode of order) {
      const run = await runOnce(mode);
      runs.push(run);
      process.stdout.write(
        `round ${r + 1} inspection ${mode.padEnd(7)}: sequential p50 ${run.sequential.p50.toFixed(3)} ms p99 ${run.sequential.p99.toFixed(3)} ms; ` +
          `${CONCURRENCY} in flight p50 ${run.concurrent.p50.toFixed(3)} ms p99 ${run.concurrent.p99.toFixed(3)} ms, ${Math.round(run.concurrent.throughput)} cmd/s; ` +
          `${run.inspectRecords} records, ${(run.inspectBytes / 1024).toFixed(0)} KiB inspected\n`,
      );
    }
  }
  const side = (mode: Mode) => {
    const rs = runs.filter((r) => r.mode === mode);
    return {
      seqP50: median(rs.map((r) => r.sequential.p50)),
      seqP99: median(rs.map((r) => r.sequential.p99)),
      concP50: median(rs.map((r) => r.concurrent.p50)),
      concP99: median(rs.map((r) => r.concurrent.p99)),
      throughput: median(rs.map((r) => r.concurrent.throughput)),
      recordsPerCommand: median(rs.map((r) => r.inspectRecords)) / (COMMANDS * 1.5 + 300 + AGGREGATES),
    };
  };
  const off = side('off');
  const on = side('on');
  const watched = side('watched');
  const delta = (a: number, b: number): string => `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)} %`;
  const row = (label: string, f: (x: ReturnType<typeof side>) => number, digits: number): string[] => [
    label,
    f(off).toFixed(digits),
    `${f(on).toFixed(digits)} (${delta(f(off), f(on))})`,
    `${f(watched).toFixed(digits)} (${delta(f(off), f(watched))})`,
  ];
  const rows = [
    ['figure (median of rounds)', 'off', 'on, nobody watching', 'on, page watching'],
    row('sequential p50 (ms)', (x) => x.seqP50, 3),
    row('sequential p99 (ms)', (x) => x.seqP99, 3),
    row(`${CONCURRENCY} in flight p50 (ms)`, (x) => x.concP50, 3),
    row(`${CONCURRENCY} in flight p99 (ms)`, (x) => x.concP99, 3),
    row('throughput (cmd/s)', (x) => x.throughput, 0),
    ['inspection records per command', '0', on.recordsPerCommand.toFixed(2), watched.recordsPerCommand.toFixed(2)],
  ];
  process.stdout.write('\n' + rows.map((r) => `| ${r.join(' | ')} |`).join('\n') + '\n');
  await mkdir('bench-results', { recursive: true });
  const file = join('bench-results', 'inspection-overhead.json');
  await writeFile(
    file,
    JSON.stringify(
      { hot, commands: COMMANDS, aggregates: AGGREGATES, concurrency: CONCURRENCY, rounds: ROUNDS, runs, off, on, watched },
      null,
      2,
    ),
  );
  process.stdout.write(`written ${file}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
