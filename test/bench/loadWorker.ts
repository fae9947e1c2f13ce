/**
 * The load generator thread: its own NATS connection and event loop, so the service (main
 * thread) and the client never share a loop. Runs one plan at a time (see loadProtocol.ts).
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { jetstream } from '@nats-io/jetstream';
import { connect, headers as natsHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import type { ClockTick, LoadPlan, LoadResult, TargetSpec, ThreadInit, WorkerReply, WorkerRequest } from './loadProtocol.js';
import { benchName, moduleCreatePayload, moduleUpdatePayload } from './payloads.js';
import { Samples } from './stats.js';
import { benchClock } from './threads.js';
import { watchThread } from './threadWatch.js';

interface LoadInit extends ThreadInit {
  url: string;
  clock: MessagePort;
}

const init = workerData as LoadInit;
const now = benchClock(init.base);
const port = parentPort!;
const enc = new TextEncoder();
const dec = new TextDecoder();

// No async traces: nats.js would build two Error objects (with stacks) per request otherwise,
// a client-side cost that would weigh on the limit and the commands alike.
const nc: NatsConnection = await connect({
  servers: init.url,
  name: 'cim-bench-load',
  maxReconnectAttempts: -1,
  reconnectTimeWait: 50,
  noAsyncTraces: true,
});
const js = jetstream(nc, { timeout: 10_000 });

/** How a request ended: `ok`, or an error code with a message. */
type Outcome = { ok: true } | { ok: false; code: string; message: string };

interface Target {
  send(j: number): Promise<Outcome>;
  payloadBytes: number;
  /** A `mix`: request j goes to the background part (its latency is kept apart). */
  isBackground?(j: number): boolean;
}

function classifyError(e: unknown): Outcome {
  const err = e instanceof Error ? e : new Error(String(e));
  const cause = (err as { cause?: unknown }).cause;
  const names = [err.name, cause instanceof Error ? cause.name : ''];
  const text = `${err.message} ${cause instanceof Error ? cause.message : ''}`;
  if (names.includes('TimeoutError') || /timeout/i.test(text)) return { ok: false, code: 'timeout', message: text.trim() };
  if (names.includes('NoRespondersError') || /no responders/i.test(text)) return { ok: false, code: 'no_responders', message: text.trim() };
  return { ok: false, code: `client_${err.name}`, message: text.trim() };
}

function readReply(data: Uint8Array): Outcome {
  try {
    const body = JSON.parse(dec.decode(data)) as { status?: unknown; code?: unknown; message?: unknown };
    if (body.status === 'ok') return { ok: true };
    return {
      ok: false,
      code: typeof body.code === 'string' ? body.code : 'malformed_reply',
      message: typeof body.message === 'string' ? body.message : JSON.stringify(body).slice(0, 300),
    };
  } catch {
    return { ok: false, code: 'malformed_reply', message: dec.decode(data).slice(0, 300) };
  }
}

function makeTarget(spec: TargetSpec, timeoutMs: number): Target {
  switch (spec.kind) {
    case 'echo': {
      const data = enc.encode(spec.payload);
      return {
        payloadBytes: data.length,
        send: () => nc.request(spec.subject, data, { timeout: timeoutMs }).then((): Outcome => ({ ok: true }), classifyError),
      };
    }
    case 'jetstream': {
      const data = enc.encode(spec.payload);
      const h: MsgHdrs = natsHeaders();
      for (const [k, v] of Object.entries(spec.headers)) h.set(k, v);
      return {
        payloadBytes: data.length,
        send: (j) =>
          js
            .publish(`${spec.subjectPrefix}.${j % spec.subjects}`, data, { headers: h, timeout: timeoutMs })
            .then((): Outcome => ({ ok: true }), classifyError),
      };
    }
    case 'command': {
      // A fresh counter per run and aggregate keeps every update body different.
      const stamp = Math.floor(now() * 1000);
      const body = (j: number): string => {
        const name = benchName(spec.names, spec.from + (j % spec.count));
        return spec.action === 'create' ? moduleCreatePayload(name) : moduleUpdatePayload(name, stamp + j);
      };
      return {
        payloadBytes: enc.encode(body(0)).length,
        send: (j) => nc.request(spec.subject, body(j), { timeout: timeoutMs }).then((m) => readReply(m.data), classifyError),
      };
    }
    case 'mix': {
      const measured = makeTarget(spec.measured, timeoutMs);
      const background = makeTarget(spec.background, timeoutMs);
      const every = spec.backgroundEvery;
      // Each part numbers its own requests, so it walks its aggregates as it would alone.
      return {
        payloadBytes: measured.payloadBytes,
        isBackground: (j) => j % every === 0,
        send: (j) => (j % every === 0 ? background.send(j / every) : measured.send(j - Math.floor(j / every) - 1)),
      };
    }
    case 'query': {
      const body = (j: number): string => JSON.stringify({ name: benchName(spec.names, spec.from + (j % spec.count)) });
      return {
        payloadBytes: enc.encode(body(0)).length,
        send: (j) => nc.request(spec.subject, body(j), { timeout: timeoutMs }).then((m) => readReply(m.data), classifyError),
      };
    }
  }
}

class Tally {
  ok = 0;
  finished = 0;
  readonly errors: Record<string, number> = {};
  readonly errorMessages: Record<string, string> = {};
  count(o: Outcome): void {
    this.finished++;
    if (o.ok) {
      this.ok++;
      return;
    }
    this.errors[o.code] = (this.errors[o.code] ?? 0) + 1;
    this.errorMessages[o.code] ??= o.message;
  }
}

/** Open loop, paced by the clock thread; latency from each request's intended send time. */
function runOpen(plan: LoadPlan, target: Target, rate: number, durationMs: number): Promise<LoadResult> {
  const intervalMs = 1000 / rate;
  const count = Math.max(1, Math.round((rate * durationMs) / 1000));
  const maxOutstanding = plan.maxOutstanding ?? 50_000;
  const latency = new Samples();
  const backgroundLatency = new Samples();
  const sendLag = new Samples();
  const tally = new Tally();
  const t0 = now() + 20;
  let sent = 0;
  let outstanding = 0;
  let clockDone = false;
  let overloaded = false;
  let lastFinish = t0;

  return new Promise<LoadResult>((resolve) => {
    let settled = false;
    const finish = (incomplete: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(safety);
      init.clock.off('message', onTick);
      resolve({
        label: plan.label,
        target: plan.target.kind,
        drive: plan.drive,
        sent,
        finished: tally.finished,
        ok: tally.ok,
        errors: tally.errors,
        errorMessages: tally.errorMessages,
        latency: latency.summary(),
        sendLag: sendLag.summary(),
        ...(target.isBackground ? { backgroundLatency: backgroundLatency.summary() } : {}),
        throughput: (tally.finished / Math.max(1e-9, lastFinish - t0)) * 1000,
        measuredMs: lastFinish - t0,
        overloaded,
        incomplete,
        payloadBytes: target.payloadBytes,
      });
    };
    const maybeDone = (): void => {
      if ((clockDone || overloaded) && outstanding === 0) finish(false);
    };
    const fire = (j: number, intended: number): void => {
      outstanding++;
      sendLag.add(now() - intended);
      void target.send(j).then((o) => {
        const t = now();
        (target.isBackground?.(j) ? backgroundLatency : latency).add(t - intended);
        lastFinish = t;
        tally.count(o);
        outstanding--;
        maybeDone();
      });
    };
    const onTick = (due: ClockTick): void => {
      if (due < 0) {
        clockDone = true;
        maybeDone();
        return;
      }
      while (sent < due && !overloaded) {
        if (outstanding >= maxOutstanding) {
          overloaded = true;
          break;
        }
        fire(sent, t0 + sent * intervalMs);
        sent++;
      }
    };
    const safety = setTimeout(() => finish(true), durationMs + plan.timeoutMs + 5_000);
    init.clock.on('message', onTick);
    init.clock.postMessage({ t0, intervalMs, count });
  });
}

/** Closed loop with a bounded window of outstanding requests. */
function runWindow(
  plan: LoadPlan,
  target: Target,
  window: number,
  durationMs: number | undefined,
  warmupMs: number,
  total: number | undefined,
): Promise<LoadResult> {
  const latency = new Samples();
  const tally = new Tally();
  const start = now();
  const measureFrom = start + warmupMs;
  // Without a duration the run is bounded by `total` and a generous deadline.
  const deadline = durationMs !== undefined ? measureFrom + durationMs : start + 3_600_000;
  let sent = 0;
  let outstanding = 0;
  let measured = 0;
  let firstMeasured = Number.POSITIVE_INFINITY;
  let lastFinish = start;

  return new Promise<LoadResult>((resolve) => {
    let settled = false;
    const finish = (incomplete: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(safety);
      const from = durationMs !== undefined ? measureFrom : Math.min(firstMeasured, lastFinish);
      const to = durationMs !== undefined ? Math.min(deadline, lastFinish) : lastFinish;
      const measuredMs = durationMs !== undefined ? to - from : lastFinish - start;
      resolve({
        label: plan.label,
        target: plan.target.kind,
        drive: plan.drive,
        sent,
        finished: tally.finished,
        ok: tally.ok,
        errors: tally.errors,
        errorMessages: tally.errorMessages,
        latency: latency.summary(),
        throughput: ((durationMs !== undefined ? measured : tally.finished) / Math.max(1e-9, measuredMs)) * 1000,
        measuredMs,
        overloaded: false,
        incomplete,
        payloadBytes: target.payloadBytes,
      });
    };
    const launch = (): void => {
      if (settled) return;
      if (total !== undefined && sent >= total) return;
      if (now() >= deadline) return;
      const j = sent++;
      outstanding++;
      const t = now();
      void target.send(j).then((o) => {
        const done = now();
        lastFinish = done;
        outstanding--;
        if (done >= measureFrom && done <= deadline) {
          measured++;
          if (firstMeasured === Number.POSITIVE_INFINITY) firstMeasured = done;
          latency.add(done - t);
        } else if (durationMs === undefined) {
          latency.add(done - t);
        }
        tally.count(o);
        launch();
        if (outstanding === 0) finish(false);
      });
    };
    const safety = setTimeout(() => finish(true), (durationMs ?? 3_600_000) + warmupMs + plan.timeoutMs + 5_000);
    for (let k = 0; k < window; k++) launch();
    if (outstanding === 0) finish(false);
  });
}

async function execute(plan: LoadPlan): Promise<LoadResult> {
  const target = makeTarget(plan.target, plan.timeoutMs);
  const d = plan.drive;
  // This thread's own pauses delay the replies it times: reported beside the service's.
  const watch = watchThread();
  const result = d.kind === 'open' ? await runOpen(plan, target, d.rate, d.durationMs) : await runWindow(plan, target, d.window, d.durationMs, d.warmupMs ?? 0, d.total);
  return { ...result, client: watch.stop() };
}

port.on('message', (req: WorkerRequest) => {
  const reply = (r: WorkerReply): void => port.postMessage(r);
  if (req.type === 'close') {
    void nc.close().finally(() => {
      reply({ id: req.id, ok: true });
      init.clock.close();
      port.close();
    });
    return;
  }
  execute(req.plan).then(
    (result) => reply({ id: req.id, ok: true, result }),
    (e: unknown) => reply({ id: req.id, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
  );
});
port.postMessage({ id: -1, ok: true, ready: true } satisfies WorkerReply);
