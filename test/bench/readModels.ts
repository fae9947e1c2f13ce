/**
 * Read-model figures: how fast a (re)started service catches up with the event store, and
 * query latency at a fixed open-loop rate against it.
 *
 *   npx tsx test/bench/readModels.ts [--events 200000] [--per-aggregate 10] [--rate 2000] [--seconds 10] [--restarts 2]
 *
 * The events are stored straight into the event stream (module created + updated, the form
 * the service itself stores). First the read models alone replay them in this process
 * (`startProjections`, three times); then the service runs as a child process
 * (`cim-domain-nix serve`), so its event loop is not shared with the load. The service's
 * catch-up figures come from its "read models caught up" log line; latency is measured from
 * each query's scheduled send time (no coordinated omission).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { eventHeaders, type DomainEvent } from '../../src/domain/events.js';
import { namedId } from '../../src/domain/ids.js';
import { subjectsFor } from '../../src/domain/subjects.js';
import { JetStreamEventLog } from '../../src/store/index.js';
import { deferred } from '../support/deferred.js';
import { startNatsServer } from '../support/natsServer.js';
import { startProjections } from '../../src/projections/index.js';
import { kindProjections } from '../../src/aggregates/index.js';
import { ROOT } from '../support/serviceProcess.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const EVENTS = arg('events', 200_000);
const PER_AGGREGATE = arg('per-aggregate', 10);
const RATE = arg('rate', 2_000);
const SECONDS = arg('seconds', 10);
const RESTARTS = arg('restarts', 2);
const log = (line: string): void => void process.stderr.write(`[read-models] ${line}\n`);

const body = (n: number) => ({ options: {}, config: { 'networking.firewall.allowedTCPPorts': [n % 65_000] }, imports: [] });

async function seed(nc: NatsConnection, prefix: string): Promise<number> {
  const subjects = subjectsFor(prefix);
  await JetStreamEventLog.open(nc, subjects, pino({ level: 'silent' }));
  const js = jetstream(nc, { timeout: 30_000 });
  const aggregates = Math.ceil(EVENTS / PER_AGGREGATE);
  const inFlight = new Set<Promise<unknown>>();
  let stored = 0;
  const started = performance.now();
  for (let v = 1; v <= PER_AGGREGATE && stored < EVENTS; v++) {
    for (let a = 0; a < aggregates && stored < EVENTS; a++) {
      const name = `m-${String(a).padStart(7, '0')}`;
      const id = namedId('module', name);
      const m = randomUUID();
      const fact = v === 1 ? 'module.created' : 'module.updated';
      const event: DomainEvent = {
        identity: { message_id: m, correlation_id: m, causation_id: m },
        event_type: v === 1 ? 'ModuleCreated' : 'ModuleUpdated',
        aggregate_type: 'module',
        aggregate_id: id,
        sequence: v,
        occurred_at: new Date().toISOString(),
        name,
        module: body(a + v),
        file: `modules/${name}.nix`,
      };
      const h = headers();
      for (const [k, val] of Object.entries(eventHeaders(event, prefix))) h.set(k, val);
      h.set('X-Fact', fact);
      h.set('X-Command-ID', m);
      const p = js.publish(subjects.store('module', id), JSON.stringify(event), { headers: h }).finally(() => inFlight.delete(p));
      inFlight.add(p);
      stored++;
      if (inFlight.size >= 512) await Promise.race(inFlight);
    }
  }
  await Promise.all(inFlight);
  log(`stored ${stored} events over ${aggregates} aggregates in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return aggregates;
}

interface CatchUp {
  events: number;
  catch_up_ms: number;
  events_per_s: number;
}

/** Start `cim-domain-nix serve`; resolves with its catch-up line. */
function serve(
  url: string,
  prefix: string,
  workspace: string,
): { child: ChildProcess; caughtUp: Promise<CatchUp>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'cim-domain-nix.js'), 'serve'], {
    cwd: workspace,
    env: {
      ...process.env,
      CIM_DOMAIN_NIX_SOURCE: '1',
      NATS_URL: url,
      NIX_DOMAIN_PREFIX: prefix,
      NIX_WORKSPACE: workspace,
      INSPECTOR_PORT: '0',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const caughtUp = deferred<CatchUp>();
  const exited = deferred<number | null>();
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      if (!l.includes('read models caught up')) continue;
      const j = JSON.parse(l) as CatchUp;
      caughtUp.resolve({ events: j.events, catch_up_ms: j.catch_up_ms, events_per_s: j.events_per_s });
    }
  });
  child.once('exit', (code) => {
    caughtUp.reject(new Error(`the service exited (${code}) before catching up`));
    exited.resolve(code);
  });
  return { child, caughtUp: caughtUp.promise, exited: exited.promise };
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

/** Open loop: RATE queries a second for SECONDS, latency from each scheduled send time. */
async function openLoop(
  nc: NatsConnection,
  prefix: string,
  aggregates: number,
): Promise<{ sent: number; errors: number; p50: number; p99: number; p999: number; max: number }> {
  const subject = `${prefix}.query.module.get`;
  const total = RATE * SECONDS;
  const interval = 1_000 / RATE;
  const latencies: number[] = [];
  let errors = 0;
  const pending: Promise<void>[] = [];
  const t0 = performance.now() + 50;
  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      while (i < total && t0 + i * interval <= now) {
        const scheduled = t0 + i * interval;
        const name = `m-${String(i % aggregates).padStart(7, '0')}`;
        pending.push(
          nc.request(subject, JSON.stringify({ name }), { timeout: 5_000 }).then(
            (m) => {
              latencies.push(performance.now() - scheduled);
              if (!m.string().startsWith('{"status":"ok"')) errors++;
            },
            () => {
              errors++;
            },
          ),
        );
        i++;
      }
      if (i >= total) resolve();
      else setImmediate(tick);
    };
    tick();
  });
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  return {
    sent: total,
    errors,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    p999: quantile(latencies, 0.999),
    max: latencies.at(-1) ?? NaN,
  };
}

async function main(): Promise<void> {
  const server = await startNatsServer();
  const workspace = await mkdtemp(join(tmpdir(), 'cim-bench-rm-'));
  const prefix = `rm${process.pid}`;
  const nc = await connect({ servers: server.url });
  try {
    const aggregates = await seed(nc, prefix);
    const replays: number[] = [];
    for (let r = 0; r < 3; r++) {
      const started = performance.now();
      const log = await JetStreamEventLog.open(nc, subjectsFor(prefix), pino({ level: 'silent' }));
      const p = await startProjections({ log, kinds: kindProjections, logger: pino({ level: 'silent' }) });
      await new Promise<void>((resolve) => p.models.onReady(resolve));
      const ms = performance.now() - started;
      replays.push(Math.round((p.models.stats().applied / ms) * 1000));
      await p.stop();
    }
    log(`in-process replay: ${replays.join(', ')} events/s`);
    const catchUps: CatchUp[] = [];
    let svc = serve(server.url, prefix, workspace);
    catchUps.push(await svc.caughtUp);
    log(`first start: ${JSON.stringify(catchUps[0])}`);
    // Warm up, then measure.
    for (let k = 0; k < 2_000; k++)
      await nc.request(`${prefix}.query.module.get`, JSON.stringify({ name: `m-${String(k % aggregates).padStart(7, '0')}` }));
    const q = await openLoop(nc, prefix, aggregates);
    log(`queries at ${RATE}/s for ${SECONDS} s: ${JSON.stringify(q)}`);
    for (let r = 0; r < RESTARTS; r++) {
      svc.child.kill('SIGTERM');
      await svc.exited;
      svc = serve(server.url, prefix, workspace);
      const c = await svc.caughtUp;
      catchUps.push(c);
      log(`restart ${r + 1}: ${JSON.stringify(c)}`);
    }
    svc.child.kill('SIGTERM');
    await svc.exited;
    const rates = catchUps.map((c) => c.events_per_s);
    process.stdout.write(
      `${JSON.stringify(
        {
          events: EVENTS,
          aggregates,
          queries: { rate: RATE, seconds: SECONDS, ...q },
          in_process_replay_events_per_s: replays,
          catch_up: catchUps,
          catch_up_events_per_s: { min: Math.min(...rates), max: Math.max(...rates) },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await nc.close();
    await server.dispose();
    await rm(workspace, { recursive: true, force: true });
  }
}

await main();
