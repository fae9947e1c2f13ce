/**
 * The service's side of the process launcher (launcherProcess.ts): one small child process,
 * started on first use (or by `warmLauncher` at service start) and again if it ever dies,
 * that runs programs for us so the service never forks itself.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { getPriority, setPriority } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { LauncherReport, LauncherRequest } from './protocol.js';

/**
 * How much nicer than the service the launcher runs (capped at 19). Every program it starts
 * inherits it — nix builds, the renderer's `nix-instantiate --parse` and `git add` batches —
 * so they use whatever CPU is free but yield it to the service thread and to nats-server.
 * Measured on two cores: a `git add` of a 2,000-file batch at the service's priority held a
 * core for a second and starved the service thread (stalls of 0.5–0.9 s waiting for a CPU
 * while queries and commands queued).
 */
export const LAUNCHED_NICENESS = 10;

/** What a run tells its caller. */
export interface LaunchHandlers {
  onData(fd: 1 | 2, data: string): void;
  /** The program never ran, or the launcher died under it. */
  onError(error: NodeJS.ErrnoException): void;
  onClose(code: number | null): void;
}

export interface LaunchedProcess {
  /** Signal the program's whole process group. */
  kill(signal: NodeJS.Signals): void;
}

/** The launcher's entry: the built `.js` next to this file, or the `.ts` source through tsx. */
function entry(): { path: string; execArgv: string[] } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const tsx = createRequire(here).resolve('tsx');
    return { path: fileURLToPath(new URL('./launcherProcess.ts', here)), execArgv: ['--import', pathToFileURL(tsx).href] };
  }
  return { path: fileURLToPath(new URL('./launcherProcess.js', here)), execArgv: [] };
}

class ProcessLauncher {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly runs = new Map<number, LaunchHandlers>();

  launch(file: string, args: readonly string[], options: { cwd?: string; env: NodeJS.ProcessEnv }, handlers: LaunchHandlers): LaunchedProcess {
    const child = this.ensure();
    const id = this.nextId++;
    this.runs.set(id, handlers);
    this.hold();
    this.send(child, { t: 'run', id, file, args: [...args], ...(options.cwd !== undefined ? { cwd: options.cwd } : {}), env: { ...options.env } });
    return {
      kill: (signal) => {
        if (this.runs.has(id) && this.child === child) this.send(child, { t: 'kill', id, signal });
      },
    };
  }

  /** Start the launcher now, so the first run does not wait for it. */
  warm(): void {
    this.ensure();
  }

  private ensure(): ChildProcess {
    if (this.child) return this.child;
    const { path, execArgv } = entry();
    // Its own process group: a Ctrl-C in the terminal is the service's to handle.
    const child = fork(path, [], { execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], detached: true });
    try {
      if (child.pid !== undefined) setPriority(child.pid, Math.min(19, getPriority() + LAUNCHED_NICENESS));
    } catch {
      // Not allowed here (a sandbox without setpriority): the programs run at our priority.
    }
    child.on('message', (m: LauncherReport) => this.onReport(m));
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    child.on('error', () => undefined); // an exit follows
    this.child = child;
    this.release();
    return child;
  }

  private send(child: ChildProcess, message: LauncherRequest): void {
    child.send(message, (err) => {
      if (err && message.t === 'run') this.fail(message.id, err);
    });
  }

  private onReport(m: LauncherReport): void {
    const handlers = this.runs.get(m.id);
    if (!handlers) return;
    if (m.t === 'out') return handlers.onData(m.fd, m.data);
    this.runs.delete(m.id);
    this.release();
    if (m.t === 'close') handlers.onClose(m.code);
    else handlers.onError(Object.assign(new Error(m.message), m.code !== undefined ? { code: m.code } : {}));
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    for (const id of [...this.runs.keys()]) {
      this.fail(id, Object.assign(new Error(`the process launcher exited (${signal ?? `code ${code}`})`), { code: 'ELAUNCHER' }));
    }
  }

  private fail(id: number, error: NodeJS.ErrnoException): void {
    const handlers = this.runs.get(id);
    if (!handlers) return;
    this.runs.delete(id);
    this.release();
    handlers.onError(error);
  }

  /** Keep the service alive while a run is in flight (the channel is unref'd when idle). */
  private hold(): void {
    this.child?.channel?.ref();
  }

  private release(): void {
    if (this.runs.size === 0) {
      this.child?.channel?.unref();
      this.child?.unref();
    }
  }
}

const shared = new ProcessLauncher();

/** Run `file args` through the shared launcher. */
export function launch(file: string, args: readonly string[], options: { cwd?: string; env: NodeJS.ProcessEnv }, handlers: LaunchHandlers): LaunchedProcess {
  return shared.launch(file, args, options, handlers);
}

/** Start the shared launcher ahead of the first run (at service start, while the heap is small). */
export function warmLauncher(): void {
  shared.warm();
}
