/**
 * The process launcher: a small child process of the service that starts every external
 * program (nix, nix-instantiate, git, nixos-rebuild) on the service's behalf.
 *
 * Why: starting a process forks the caller, and fork copies the caller's page tables while
 * its event loop waits. Measured on this machine, a spawn from a Node process blocks it for
 * ~1 ms at 44 MiB RSS, ~18 ms at 316 MiB and ~56 ms at 1 GiB; the service with a million
 * resident aggregates is several GiB. This process stays small, so its forks are cheap and
 * the service's event loop never waits for one.
 *
 * Each program runs in its own process group (signals reach everything nix starts). When
 * the service goes away (the IPC channel closes), every group still running is stopped:
 * SIGTERM, then SIGKILL after a grace period, then this process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { LauncherReport, LauncherRequest } from './protocol.js';

const KILL_GRACE_MS = 3_000;

const running = new Map<number, ChildProcess>();
/** Runs the service signalled: their groups are killed outright once the program ends. */
const signalled = new Set<number>();

function report(message: LauncherReport): void {
  if (process.connected) process.send?.(message);
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}

function run(request: Extract<LauncherRequest, { t: 'run' }>): void {
  const { id } = request;
  let child: ChildProcess;
  try {
    child = spawn(request.file, request.args, {
      cwd: request.cwd,
      env: request.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    report({ t: 'error', id, ...(err.code ? { code: err.code } : {}), message: err.message });
    return;
  }
  running.set(id, child);
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (data: string) => report({ t: 'out', id, fd: 1, data }));
  child.stderr?.on('data', (data: string) => report({ t: 'out', id, fd: 2, data }));
  let ended = false;
  child.on('error', (err: NodeJS.ErrnoException) => {
    if (ended) return;
    ended = true;
    running.delete(id);
    signalled.delete(id);
    report({ t: 'error', id, ...(err.code ? { code: err.code } : {}), message: err.message });
  });
  child.on('close', (code) => {
    if (ended) return;
    ended = true;
    running.delete(id);
    // A builder that outlived nix keeps the group alive; make sure it goes too.
    if (signalled.delete(id)) signalGroup(child, 'SIGKILL');
    report({ t: 'close', id, code });
    if (!process.connected && running.size === 0) process.exit(0);
  });
}

process.on('message', (message: LauncherRequest) => {
  if (message.t === 'run') run(message);
  else if (message.t === 'kill') {
    const child = running.get(message.id);
    if (child) {
      signalled.add(message.id);
      signalGroup(child, message.signal);
    }
  }
});

// Terminal signals are for the service, which stops its runs itself; this process follows
// the service, not the terminal.
process.on('SIGINT', () => undefined);

process.on('disconnect', () => {
  if (running.size === 0) process.exit(0);
  for (const child of running.values()) signalGroup(child, 'SIGTERM');
  setTimeout(() => {
    for (const child of running.values()) signalGroup(child, 'SIGKILL');
    process.exit(0);
  }, KILL_GRACE_MS);
});
