/**
 * Worker threads written in TypeScript: each one first registers tsx's loader, so they run
 * the same under `tsx` (npm run bench) and under vitest (runBench from a test). Also the
 * shared clock: every bench thread measures time against one `process.hrtime` origin.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, type TransferListItem } from 'node:worker_threads';

/** A clock in milliseconds (µs resolution) shared by all threads of the process. */
export function benchClock(base: bigint): () => number {
  return () => Number(process.hrtime.bigint() - base) / 1e6;
}

const require = createRequire(import.meta.url);

function tsxApiUrl(): string {
  // The package's `require` condition points at index.cjs; the ESM one sits next to it.
  const cjs = require.resolve('tsx/esm/api');
  return pathToFileURL(cjs.replace(/index\.cjs$/, 'index.mjs')).href;
}

/** Start a worker from a `.ts` module next to this file. */
export function startTsWorker(moduleUrl: URL, workerData: unknown, transferList: TransferListItem[] = []): Worker {
  const code = `import { register } from ${JSON.stringify(tsxApiUrl())};\nregister();\nawait import(${JSON.stringify(moduleUrl.href)});\n`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), { workerData, transferList });
}
