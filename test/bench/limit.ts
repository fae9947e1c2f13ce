/**
 * The limit: what NATS alone does on this machine, with the commands' message sizes.
 * A plain echo responder on the main thread (where the service runs) answers core requests;
 * a plain JetStream stream (file storage) takes publishes of an event's size and headers.
 */
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import type { BenchContext } from './context.js';
import { judge, type Figure } from './figures.js';
import type { LoadResult } from './loadProtocol.js';
import { cpuPerRequest } from './machine.js';
import { threadPhase } from './pauseReport.js';
import { watchThread } from './threadWatch.js';
import { benchName, eventHeadersStandIn, eventStandIn, moduleUpdatePayload, okReplyStandIn, replyHeadersStandIn } from './payloads.js';

export interface LimitResults {
  echoLatency: LoadResult;
  echoThroughput: LoadResult;
  jsLatency: LoadResult;
  jsThroughput: LoadResult;
  figures: Figure[];
}

const ECHO_SUBJECT = 'bench.limit.echo';
const JS_STREAM = 'BENCH_LIMIT';
const JS_SUBJECT = 'bench.limit.js';

export async function measureLimit(ctx: BenchContext): Promise<LimitResults> {
  const { settings } = ctx;
  const s = settings.limit;
  const smoke = settings.mode === 'smoke';

  // The echo responder: one connection, one subscription, answering with a reply of the
  // service's reply size and headers, as plainly as NATS allows.
  const echoNc = await connect({ servers: ctx.server.url, name: 'cim-bench-echo' });
  const reply = new TextEncoder().encode(okReplyStandIn('bench'));
  const replyHeaders = natsHeaders();
  for (const [k, v] of Object.entries(replyHeadersStandIn)) replyHeaders.set(k, v);
  echoNc.subscribe(ECHO_SUBJECT, {
    callback: (_e, m) => {
      m.respond(reply, { headers: replyHeaders });
    },
  });
  await echoNc.flush();

  const jsm = await jetstreamManager(ctx.admin);
  await jsm.streams.add({ name: JS_STREAM, subjects: [`${JS_SUBJECT}.>`], storage: StorageType.File, num_replicas: 1 });

  const name = benchName('bench-limit', 1);
  const echo = { kind: 'echo' as const, subject: ECHO_SUBJECT, payload: moduleUpdatePayload(name, 1_700_000_000_000) };
  const js = {
    kind: 'jetstream' as const,
    subjectPrefix: JS_SUBJECT,
    subjects: settings.commands.aggregates,
    payload: eventStandIn(name),
    headers: eventHeadersStandIn('bench'),
  };
  try {
    ctx.log(`limit: echo warm-up, then ${s.rate}/s for ${s.durationMs / 1000} s`);
    await ctx.load.run({
      label: 'echo warm-up',
      target: echo,
      drive: { kind: 'window', window: s.window, durationMs: s.warmupMs },
      timeoutMs: settings.timeoutMs,
    });
    // The echo responder runs where the service does: what it allocates per request is the
    // floor of any NATS request/reply handled by nats.js on that thread.
    const echoWatch = watchThread({ stalls: true });
    const echoRun = await ctx.load.run({
      label: `echo open loop ${s.rate}/s`,
      target: echo,
      drive: { kind: 'open', rate: s.rate, durationMs: s.durationMs },
      timeoutMs: settings.timeoutMs,
    });
    const echoLatency = { ...echoRun, stalls: echoWatch.stop() };
    const echoThreads = threadPhase(`echo ${s.rate}/s`, 'request', echoLatency);
    if (echoThreads) ctx.threads.push(echoThreads);
    ctx.log(`limit: echo throughput, window ${s.window}`);
    const echoThroughput = await cpuPerRequest(
      () => ctx.server.pid,
      () =>
        ctx.load.run({
          label: `echo window ${s.window}`,
          target: echo,
          drive: { kind: 'window', window: s.window, durationMs: s.throughputMs, warmupMs: s.warmupMs },
          timeoutMs: settings.timeoutMs,
        }),
    );
    ctx.log(`limit: JetStream publish ${s.rate}/s, then window ${s.window}`);
    await ctx.load.run({
      label: 'jetstream warm-up',
      target: js,
      drive: { kind: 'window', window: s.window, durationMs: s.warmupMs },
      timeoutMs: settings.timeoutMs,
    });
    const jsLatency = await ctx.load.run({
      label: `jetstream open loop ${s.rate}/s`,
      target: js,
      drive: { kind: 'open', rate: s.rate, durationMs: s.durationMs },
      timeoutMs: settings.timeoutMs,
    });
    const jsThroughput = await cpuPerRequest(
      () => ctx.server.pid,
      () =>
        ctx.load.run({
          label: `jetstream window ${s.window}`,
          target: js,
          drive: { kind: 'window', window: s.window, durationMs: s.throughputMs, warmupMs: s.warmupMs },
          timeoutMs: settings.timeoutMs,
        }),
    );

    const section = 'limit (plain NATS, same payload sizes)';
    const figures: Figure[] = [
      judge({
        section,
        name: `echo request/reply p50 at ${s.rate}/s`,
        value: echoLatency.latency.p50,
        unit: 'ms',
        failures: echoLatency.errors,
        smoke,
        note: 'SPEC reference ≈ 0.15 ms',
      }),
      judge({
        section,
        name: `echo request/reply p99 at ${s.rate}/s`,
        value: echoLatency.latency.p99,
        unit: 'ms',
        failures: echoLatency.errors,
        smoke,
      }),
      judge({
        section,
        name: `allocated per echo request (main thread, plain nats.js responder)`,
        value: echoLatency.stalls.allocatedBytes / Math.max(1, echoLatency.finished),
        unit: 'bytes',
        smoke,
        note: 'the floor under any request/reply through nats.js on the service thread (one message in, one out)',
      }),
      judge({
        section,
        name: `echo throughput (window ${s.window})`,
        value: echoThroughput.throughput,
        unit: 'req/s',
        failures: echoThroughput.errors,
        smoke,
        note: cpuNote(echoThroughput.cpu, 'echo responder'),
      }),
      judge({
        section,
        name: `JetStream publish p50 at ${s.rate}/s`,
        value: jsLatency.latency.p50,
        unit: 'ms',
        failures: jsLatency.errors,
        smoke,
        note: 'SPEC reference ≈ 0.1 ms',
      }),
      judge({
        section,
        name: `JetStream publish p99 at ${s.rate}/s`,
        value: jsLatency.latency.p99,
        unit: 'ms',
        failures: jsLatency.errors,
        smoke,
      }),
      judge({
        section,
        name: `JetStream publish throughput (window ${s.window})`,
        value: jsThroughput.throughput,
        unit: 'msg/s',
        failures: jsThroughput.errors,
        smoke,
        note: cpuNote({ mainUs: undefined, serverUs: jsThroughput.cpu.serverUs }, ''),
      }),
    ];
    return { echoLatency, echoThroughput, jsLatency, jsThroughput, figures };
  } finally {
    await jsm.streams.delete(JS_STREAM).catch(() => undefined);
    await echoNc.close();
  }
}

/** "CPU per request: 12 µs echo responder (main thread), 20 µs nats-server". */
export function cpuNote(cpu: { mainUs: number | undefined; serverUs: number | undefined }, main: string): string {
  const parts: string[] = [];
  if (cpu.mainUs !== undefined && main) parts.push(`${cpu.mainUs.toFixed(0)} µs ${main} (main thread)`);
  if (cpu.serverUs !== undefined) parts.push(`${cpu.serverUs.toFixed(0)} µs nats-server`);
  return parts.length ? `CPU per request: ${parts.join(', ')}` : 'CPU per request: not available on this OS';
}
