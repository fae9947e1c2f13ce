/**
 * The main thread's handle on the load generator: a worker thread (its own NATS connection
 * and event loop) plus the clock thread that paces its open loop.
 */
import { MessageChannel, type Worker } from 'node:worker_threads';
import type { LoadPlan, LoadResult, WorkerReply, WorkerRequest } from './loadProtocol.js';
import { startTsWorker } from './threads.js';
import { deferred, type Deferred } from '../support/deferred.js';

export class LoadGenerator {
  private nextId = 1;
  private readonly pending = new Map<number, Deferred<LoadResult | undefined>>();
  private failure: Error | undefined;

  private constructor(
    private readonly load: Worker,
    private readonly clock: Worker,
    private readonly abortCell: Int32Array,
  ) {
    load.on('message', (m: WorkerReply) => {
      if (m.id === -1) return;
      const d = this.pending.get(m.id);
      if (!d) return;
      this.pending.delete(m.id);
      if (m.ok) d.resolve('result' in m ? m.result : undefined);
      else d.reject(new Error(`load generator: ${m.error}`));
    });
    const fail = (e: Error): void => {
      this.failure = e;
      for (const d of this.pending.values()) d.reject(e);
      this.pending.clear();
    };
    load.on('error', fail);
    clock.on('error', fail);
    load.on('exit', (code) => {
      if (this.pending.size) fail(new Error(`the load generator thread exited (code ${code})`));
    });
  }

  /** Start both threads and wait until the generator is connected (bounded: 15 s). */
  static async start(url: string, base: bigint): Promise<LoadGenerator> {
    const { port1, port2 } = new MessageChannel();
    const cells = new SharedArrayBuffer(8);
    // Next to this module, with its extension (.ts from source, .js when compiled for profiling).
    const ext = import.meta.url.endsWith('.js') ? '.js' : '.ts';
    const clock = startTsWorker(new URL(`./clockWorker${ext}`, import.meta.url), { base, port: port1, cells }, [port1]);
    const load = startTsWorker(new URL(`./loadWorker${ext}`, import.meta.url), { base, url, clock: port2 }, [port2]);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the load generator did not connect within 15 s')), 15_000);
      load.on('message', (m: WorkerReply) => {
        if (m.id === -1) {
          clearTimeout(timer);
          resolve();
        }
      });
      load.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      clock.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    try {
      await ready;
    } catch (e) {
      await Promise.allSettled([load.terminate(), clock.terminate()]);
      throw e;
    }
    return new LoadGenerator(load, clock, new Int32Array(cells));
  }

  /** Run one plan; resolves with its result. */
  async run(plan: LoadPlan): Promise<LoadResult> {
    if (this.failure) throw this.failure;
    const id = this.nextId++;
    const d = deferred<LoadResult | undefined>();
    this.pending.set(id, d);
    this.load.postMessage({ id, type: 'run', plan } satisfies WorkerRequest);
    const result = await d.promise;
    if (!result) throw new Error(`load generator returned no result for ${plan.label}`);
    return result;
  }

  /** Close the generator's connection and end both threads. */
  async stop(): Promise<void> {
    Atomics.store(this.abortCell, 1, 1);
    if (!this.failure) {
      const id = this.nextId++;
      const d = deferred<LoadResult | undefined>();
      this.pending.set(id, d);
      this.load.postMessage({ id, type: 'close' } satisfies WorkerRequest);
      await Promise.race([d.promise.catch(() => undefined), new Promise((r) => setTimeout(r, 5_000).unref())]);
    }
    await Promise.allSettled([this.load.terminate(), this.clock.terminate()]);
  }
}
