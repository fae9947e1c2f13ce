/**
 * Helpers for the Nix port tests: temporary workspaces under os.tmpdir(), a port on them,
 * `perform` that asserts success, flakes written by hand, and a deferred for progress lines.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import type { EffectFailed, EffectOutcome, EffectRequest } from '../../../machines/_shared/protocol.js';
import { kindEffects } from '../../../src/aggregates/index.js';
import { createNixPort, type EffectContext, type NixPort, type NixPortOptions } from '../../../src/nix/index.js';

export interface TempWorkspace {
  dir: string;
  port: NixPort;
  cleanup(): void;
}

/** A fresh workspace directory and a port on it (with the kinds' effect handlers); `cleanup()` removes both. */
export function tempWorkspace(options: Omit<NixPortOptions, 'workspace' | 'handlers'> = {}): TempWorkspace {
  const dir = mkdtempSync(join(tmpdir(), 'cim-nix-'));
  return {
    dir,
    port: createNixPort({ workspace: dir, handlers: kindEffects, ...options }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface ProgressContext extends EffectContext {
  lines: string[];
  controller: AbortController;
  /** Resolves with the first progress line (seen or yet to come) that matches. */
  waitFor(predicate: (line: string) => boolean): Promise<string>;
}

/** A context with a fresh signal that collects progress lines. */
export function progressContext(): ProgressContext {
  const controller = new AbortController();
  const lines: string[] = [];
  const waiters: { predicate: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  return {
    signal: controller.signal,
    lines,
    controller,
    onProgress(line) {
      lines.push(line);
      for (const w of [...waiters]) {
        if (!w.predicate(line)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    },
    waitFor(predicate) {
      const seen = lines.find(predicate);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
  };
}

/** Performs a request and asserts it succeeded; returns the result. */
export async function succeed(
  port: NixPort,
  request: EffectRequest,
  ctx: EffectContext = progressContext(),
): Promise<Record<string, unknown>> {
  const outcome = await port.perform(request, ctx);
  if (outcome.type !== 'effect.succeeded') {
    throw new Error(`${request.kind} failed: ${outcome.code} ${outcome.message}\n${(outcome.log_tail ?? []).join('\n')}`);
  }
  expect(outcome.kind).toBe(request.kind);
  return outcome.result;
}

/** Performs a request and asserts it failed; returns the failure. */
export async function fail(port: NixPort, request: EffectRequest, ctx: EffectContext = progressContext()): Promise<EffectFailed> {
  const outcome: EffectOutcome = await port.perform(request, ctx);
  if (outcome.type !== 'effect.failed') throw new Error(`${request.kind} unexpectedly succeeded: ${JSON.stringify(outcome.result)}`);
  return outcome;
}

/** Writes a file (creating directories). */
export function write(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

/** A flake with one package built by /bin/sh running `script` (unique per `nonce`). */
export function shellFlake(script: string, nonce: string, name = 'pkg'): string {
  return `{
  description = "test flake";

  outputs = { self }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = ${JSON.stringify(name)};
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" ${JSON.stringify(script)} ];
      nonce = ${JSON.stringify(nonce)};
    };
  };
}
`;
}

/** Runs nix-instantiate --parse on a file; returns the exit status and stderr. */
export function nixParse(file: string): { status: number | null; stderr: string } {
  const r = spawnSync('nix-instantiate', ['--parse', file], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

/** Evaluates a Nix expression strictly and returns its JSON value. */
export function nixEvalJson(expression: string): unknown {
  const r = spawnSync('nix-instantiate', ['--eval', '--strict', '--json', '-E', expression], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nix-instantiate --eval failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as unknown;
}

/** `git ls-files` of a repository. */
export function gitFiles(dir: string): string[] {
  const r = spawnSync('git', ['ls-files'], { cwd: dir, encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.length > 0);
}

/** A unique string per call, so derivations are never already built. */
export function nonce(): string {
  return `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
}
