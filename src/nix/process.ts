/**
 * Runs one external program (nix, nix-instantiate, git, nixos-rebuild) as a child process in
 * its own process group: stderr/stdout lines are streamed as they arrive, the last lines are
 * kept for error reports, and an abort kills the whole group (SIGTERM, then SIGKILL).
 * The process launcher starts it (launcher/launcher.ts), so the service never forks itself.
 */
import { launch } from './launcher/launcher.js';

/** How many trailing output lines a result keeps for failure reports. */
export const LOG_TAIL_LINES = 30;

/** Grace period between SIGTERM and SIGKILL after an abort; nix uses it to stop its builders. */
const KILL_GRACE_MS = 3_000;

/** stdout beyond this size is dropped (nix prints small JSON; logs go to stderr). */
const MAX_STDOUT_BYTES = 16 * 1024 * 1024;

export interface RunOptions {
  cwd?: string;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Called for every complete stderr line (ANSI codes stripped, never empty). */
  onLine?: (line: string) => void;
  /** Also stream stdout lines to `onLine` (for commands that log to stdout). */
  streamStdout?: boolean;
}

export interface RunResult {
  /** Exit code, or null when the process died by a signal or never started. */
  exitCode: number | null;
  /** The spawn error (ENOENT when the program is missing), if the process never ran. */
  spawnError?: NodeJS.ErrnoException;
  aborted: boolean;
  stdout: string;
  /** The last {@link LOG_TAIL_LINES} lines of stderr (and of stdout, when streamed). */
  tail: string[];
  durationMs: number;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007/g;

/** Splits a byte stream into lines, calling `emit` for each complete, non-empty line. */
function lineSplitter(emit: (line: string) => void): { push(chunk: string): void; end(): void } {
  let rest = '';
  const flush = (raw: string): void => {
    const line = raw.replace(ANSI, '').replace(/\s+$/, '');
    if (line.length > 0) emit(line);
  };
  return {
    push(chunk) {
      const parts = (rest + chunk).split(/\r\n|\n|\r/);
      rest = parts.pop() ?? '';
      for (const part of parts) flush(part);
    },
    end() {
      if (rest.length > 0) flush(rest);
      rest = '';
    },
  };
}

/** Runs `file args` to completion; never rejects. */
export function runProcess(file: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const started = performance.now();
  return new Promise<RunResult>((resolve) => {
    const tail: string[] = [];
    const keep = (line: string): void => {
      tail.push(line);
      if (tail.length > LOG_TAIL_LINES) tail.shift();
      options.onLine?.(line);
    };
    let stdout = '';
    let stdoutBytes = 0;
    let aborted = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;

    if (options.signal?.aborted) {
      resolve({ exitCode: null, aborted: true, stdout: '', tail: [], durationMs: 0 });
      return;
    }

    const errLines = lineSplitter(keep);
    const outLines = lineSplitter(keep);
    const child = launch(file, args, { ...(options.cwd !== undefined ? { cwd: options.cwd } : {}), env: options.env }, {
      onData: (fd, chunk) => {
        if (fd === 2) return errLines.push(chunk);
        if (stdoutBytes < MAX_STDOUT_BYTES) {
          stdout += chunk;
          stdoutBytes += chunk.length;
        }
        if (options.streamStdout) outLines.push(chunk);
      },
      onError: (error) => finish({ exitCode: null, spawnError: error }),
      // After an abort, the launcher also kills what is left of the group (a builder that outlived nix).
      onClose: (code) => finish({ exitCode: code }),
    });

    const onAbort = (): void => {
      aborted = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (result: Omit<RunResult, 'tail' | 'stdout' | 'durationMs' | 'aborted'>): void => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      if (killTimer !== undefined) clearTimeout(killTimer);
      errLines.end();
      if (options.streamStdout) outLines.end();
      resolve({ ...result, aborted, stdout, tail, durationMs: Math.round(performance.now() - started) });
    };
  });
}
