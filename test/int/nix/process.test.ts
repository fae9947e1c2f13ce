import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { getPriority } from 'node:os';
import { LAUNCHED_NICENESS } from '../../../src/nix/launcher/launcher.js';
import { LOG_TAIL_LINES, runProcess } from '../../../src/nix/process.js';
import { nonce } from '../../support/nix/workspace.js';

function running(marker: string): boolean {
  return spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .stdout.split('\n')
    .some((l) => l.includes(marker) && !l.startsWith('ps '));
}

describe('runProcess', () => {
  it('streams stderr lines, keeps stdout, and keeps only the last lines as the tail', async () => {
    const seen: string[] = [];
    const script =
      'i=1; while [ $i -le 40 ]; do echo "err $i" >&2; i=$((i+1)); done; printf "out\\r\\n\\033[31mred\\033[0m\\n" ; echo partial-no-newline >&2; printf x';
    const run = await runProcess('/bin/sh', ['-c', script], { env: process.env, onLine: (l) => seen.push(l) });
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe('out\r\n\u001b[31mred\u001b[0m\nx');
    expect(seen).toHaveLength(41);
    expect(seen[0]).toBe('err 1');
    expect(seen[40]).toBe('partial-no-newline');
    expect(run.tail).toHaveLength(LOG_TAIL_LINES);
    expect(run.tail[LOG_TAIL_LINES - 1]).toBe('partial-no-newline');
  });

  it('strips ANSI codes from streamed stdout lines', async () => {
    const seen: string[] = [];
    await runProcess('/bin/sh', ['-c', 'printf "\\033[1mbold\\033[0m\\n"'], {
      env: process.env,
      onLine: (l) => seen.push(l),
      streamStdout: true,
    });
    expect(seen).toEqual(['bold']);
  });

  it('reports the exit code of a failing program', async () => {
    const run = await runProcess('/bin/sh', ['-c', 'echo boom >&2; exit 7'], { env: process.env });
    expect(run).toMatchObject({ exitCode: 7, aborted: false, tail: ['boom'] });
  });

  it('reports a missing program as a spawn error, not an exception', async () => {
    const run = await runProcess('/nonexistent/program', [], { env: process.env });
    expect(run.spawnError?.code).toBe('ENOENT');
    expect(run.exitCode).toBeNull();
  });

  it('kills the whole process group on abort, grandchildren included', async () => {
    const marker = `grandchild-${nonce()}`;
    const controller = new AbortController();
    const lines: string[] = [];
    let ready!: () => void;
    const started = new Promise<void>((r) => (ready = r));
    const pending = runProcess('/bin/sh', ['-c', `/bin/sh -c "echo up >&2; /bin/sleep 30; : ${marker}" & wait`], {
      env: process.env,
      signal: controller.signal,
      onLine: (l) => {
        lines.push(l);
        if (l === 'up') ready();
      },
    });
    await started;
    await expect.poll(() => running(marker)).toBe(true);
    controller.abort();
    const run = await pending;
    expect(run.aborted).toBe(true);
    expect(run.durationMs).toBeLessThan(30_000);
    await expect.poll(() => running(marker)).toBe(false);
  });

  it('does not start when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const run = await runProcess('/bin/sh', ['-c', 'exit 0'], { env: process.env, signal: controller.signal });
    expect(run).toMatchObject({ aborted: true, exitCode: null });
  });

  it('starts programs from the launcher process, never by forking the caller', async () => {
    const run = await runProcess('/bin/sh', ['-c', 'echo $PPID'], { env: process.env });
    expect(run.exitCode).toBe(0);
    const parent = Number(run.stdout.trim());
    expect(parent).toBeGreaterThan(1);
    expect(parent).not.toBe(process.pid);
  });

  it('runs programs at a lower priority than the service (they yield the CPU to commands and queries)', async () => {
    // Field 19 of /proc/<pid>/stat is the niceness; `nice` alone would print it too.
    const run = await runProcess('/bin/sh', ['-c', 'cut -d" " -f19 /proc/$$/stat'], { env: process.env });
    expect(run.exitCode).toBe(0);
    expect(Number(run.stdout.trim())).toBe(Math.min(19, getPriority() + LAUNCHED_NICENESS));
  });

  it('stops the programs of a service process that dies without stopping them', async () => {
    const marker = `orphan-${nonce()}`;
    const processModule = pathToFileURL(fileURLToPath(new URL('../../../src/nix/process.ts', import.meta.url))).href;
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const script = `const { runProcess } = await import(${JSON.stringify(processModule)});
      void runProcess('/bin/sh', ['-c', 'echo up >&2; /bin/sleep 60; : ${marker}'], { env: process.env, onLine: (l) => l === 'up' && console.log('started') });`;
    const service = spawn(process.execPath, ['--import', tsx, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        service.stdout.on('data', (d: Buffer) => d.toString().includes('started') && resolve());
        service.on('exit', (code) => reject(new Error(`the script exited early (${code})`)));
      });
      expect(running(marker)).toBe(true);
      service.kill('SIGKILL');
      await expect.poll(() => running(marker), { timeout: 10_000 }).toBe(false);
    } finally {
      service.kill('SIGKILL');
    }
  });
});
