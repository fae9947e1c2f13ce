/**
 * The open loop's clock: a thread that sleeps to each intended send time with
 * `Atomics.wait` (sub-millisecond, unlike timers, and without spinning a core) and tells the
 * load generator how many requests are due. The generator's own event loop stays free to
 * take replies the moment they arrive.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import type { ClockPlan, ThreadInit } from './loadProtocol.js';
import { benchClock } from './threads.js';

interface ClockInit extends ThreadInit {
  port: MessagePort;
  /** Int32 cells: [0] sleep cell (never notified), [1] abort flag. */
  cells: SharedArrayBuffer;
}

const init = workerData as ClockInit;
const now = benchClock(init.base);
const cells = new Int32Array(init.cells);
/** Spin (instead of sleeping) for this last part of a wait: sleeping overshoots by ~50–100 µs. */
const SPIN_MS = 0.03;

function run(plan: ClockPlan): void {
  const { t0, intervalMs, count } = plan;
  // Bounded in time as well as count: stop one second after the last tick was due.
  const end = t0 + count * intervalMs + 1_000;
  let due = 0;
  while (due < count) {
    const target = t0 + due * intervalMs;
    for (let rest = target - now(); rest > 0; rest = target - now()) {
      if (rest > SPIN_MS) Atomics.wait(cells, 0, 0, rest - SPIN_MS);
    }
    due = Math.min(count, Math.floor((now() - t0) / intervalMs) + 1);
    init.port.postMessage(due);
    if (Atomics.load(cells, 1) !== 0 || now() > end) break;
  }
  init.port.postMessage(-1);
}

init.port.on('message', (plan: ClockPlan) => run(plan));
