/**
 * The workspace thread: a worker thread that renders, writes, parse-checks and stages the
 * module, overlay and configuration files of a batch. A batch of a thousand files costs
 * thousands of file-system promises and the rendering of each file; on the service's event
 * loop that held commands for tens of milliseconds (command p99 at 1,000/s), here it costs
 * the service one message each way. Started on the first batch; idle, it keeps nothing alive.
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { EffectOutcome, EffectRequest } from '../../machines/index.js';

export interface WorkspaceThreadData {
  workspace: string;
  nixBin: string;
  env: Record<string, string | undefined>;
}

export interface WorkspaceThreadRequest {
  id: number;
  requests: EffectRequest[];
}

export interface WorkspaceThreadReply {
  id: number;
  outcomes: EffectOutcome[];
}

/** The worker's entry: the built `.js` next to this file, or the `.ts` source through tsx. */
function startWorker(data: WorkspaceThreadData): Worker {
  const here = import.meta.url;
  // No inherited node options: the thread needs none, and some (--input-type, --eval) break it.
  const options = { workerData: data, execArgv: [] };
  if (!here.endsWith('.ts')) return new Worker(fileURLToPath(new URL('./workspaceWorker.js', here)), options);
  // tsx's ESM API: its package `require` condition names index.cjs; the module sits next to it.
  const api = pathToFileURL(createRequire(here).resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs')).href;
  const entry = new URL('./workspaceWorker.ts', here).href;
  const code = `import { register } from ${JSON.stringify(api)};\nregister();\nawait import(${JSON.stringify(entry)});\n`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), options);
}

export class WorkspaceThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { worker: Worker; requests: EffectRequest[]; resolve(outcomes: EffectOutcome[]): void }>();

  constructor(private readonly data: WorkspaceThreadData) {}

  /** Apply workspace requests in the thread; one outcome per request; never rejects. */
  apply(requests: EffectRequest[]): Promise<EffectOutcome[]> {
    const worker = this.ensure();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, { worker, requests, resolve });
      worker.ref();
      const message: WorkspaceThreadRequest = { id, requests };
      worker.postMessage(message);
    });
  }

  /**
   * Stop the thread once the batches in flight are done (at most `graceMs`; a batch cut off
   * there is answered as failed). A later batch starts a new thread.
   */
  async close(graceMs = 10_000): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    if (this.waiting.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (this.drained = resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
      this.drained = undefined;
    }
    await worker.terminate();
  }

  /** Resolves `close` once nothing is in flight. */
  private drained: (() => void) | undefined;

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker(this.data);
    worker.on('message', (reply: WorkspaceThreadReply) => {
      const w = this.waiting.get(reply.id);
      if (!w) return;
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) {
        worker.unref();
        this.drained?.();
      }
      w.resolve(reply.outcomes);
    });
    const fail = (reason: string): void => {
      if (this.worker === worker) this.worker = undefined;
      for (const [id, w] of this.waiting) {
        if (w.worker !== worker) continue;
        this.waiting.delete(id);
        w.resolve(w.requests.map((r) => ({ type: 'effect.failed', kind: r.kind, code: 'internal', message: `the workspace thread stopped (${reason}); the file is rendered on the next change` })));
      }
    };
    worker.on('error', (err) => fail(err.message));
    worker.on('exit', (code) => fail(`exit code ${code}`));
    worker.unref();
    this.worker = worker;
    return worker;
  }
}
