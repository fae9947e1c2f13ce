/**
 * Runs `bin/cim-domain-nix.js` as a child process (on the current source, through tsx), with
 * the service settings of the caller's environment removed so each test states its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../../support/serviceProcess.js';
import { deferred } from '../../support/deferred.js';

export const BIN = join(ROOT, 'bin', 'cim-domain-nix.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliChild {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves once stderr (or stdout) has shown text matching. */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr'): Promise<void>;
  done: Promise<CliRun>;
}

/** Start the CLI; `env` on top of a clean environment. */
export function spawnCli(args: string[], env: Record<string, string> = {}, stdin?: string): CliChild {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !/^(NATS_|NIX_DOMAIN_PREFIX|NIX_WORKSPACE|LOG_|INSPECTOR_)/.test(k)) clean[k] = v;
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...clean, CIM_DOMAIN_NIX_SOURCE: '1', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ pattern: RegExp; stream: 'stdout' | 'stderr'; resolve: () => void }> = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      if (w.pattern.test(w.stream === 'stdout' ? stdout : stderr)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    check();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    check();
  });
  if (stdin !== undefined) child.stdin.end(stdin);
  else child.stdin.end();
  const done = deferred<CliRun>();
  child.once('close', (code) => done.resolve({ code, stdout, stderr }));
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    waitFor(pattern, stream = 'stderr') {
      const d = deferred<void>();
      waiters.push({ pattern, stream, resolve: () => d.resolve() });
      check();
      void done.promise.then(() =>
        d.reject(new Error(`the CLI exited before ${pattern} on ${stream}\nstdout: ${stdout}\nstderr: ${stderr}`)),
      );
      return d.promise;
    },
    done: done.promise,
  };
}

/** Run the CLI to its end. */
export function runCli(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<CliRun> {
  return spawnCli(args, env, stdin).done;
}
