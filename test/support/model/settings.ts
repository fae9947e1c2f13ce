/**
 * How much the model suite runs: fixed and small for CI, more with `MODEL_LONG=1`
 * (`npm run test:model:long`), with the seed printed either way so a failure replays with
 * `MODEL_SEED=<seed>` (and `MODEL_PATH=<path>` for fast-check's shrunk counterexample).
 */
const env = process.env;

/** True for `npm run test:model:long`. */
export const LONG = env['MODEL_LONG'] === '1';

function int(name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

/** The seed of every fast-check property in this run: fixed in CI, random in long runs. */
export const SEED = int('MODEL_SEED', LONG ? (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0 : 20_240_607);

/** fast-check's replay path of a shrunk counterexample, when replaying one. */
export const PATH: string | undefined = env['MODEL_PATH'] || undefined;

/** Runs and sizes per property. */
export const RUNS = {
  random: int('MODEL_RANDOM_RUNS', LONG ? 200 : 20),
  randomCommands: int('MODEL_RANDOM_COMMANDS', LONG ? 60 : 24),
  concurrency: int('MODEL_CONCURRENCY_RUNS', LONG ? 150 : 20),
  faults: int('MODEL_FAULT_RUNS', LONG ? 40 : 5),
  faultCommands: int('MODEL_FAULT_COMMANDS', LONG ? 40 : 16),
  /** Simple paths per machine (the shortest first). */
  simplePaths: int('MODEL_SIMPLE_PATHS', LONG ? 10_000 : 60),
};

/** fast-check parameters for a property with `numRuns` runs. */
export function fcParameters(numRuns: number): { seed: number; numRuns: number; path?: string } {
  return { seed: SEED, numRuns, ...(PATH !== undefined ? { path: PATH } : {}) };
}

/** Counters the summary prints: sequences (paths and runs) and steps (commands) sent to the service. */
export const tally = { sequences: 0, steps: 0, retries: 0, restarts: 0, crashes: 0 };
