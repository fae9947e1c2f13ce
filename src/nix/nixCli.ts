/**
 * The nix, nix-instantiate and git command lines as the port runs them: the environment
 * (flakes on, no substituters, no network waits), the cached availability probe, and the
 * mapping of a failed run to an {@link EffectError} with the exit code and log tail.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { forbidden, nixFailed } from './failure.js';
import { runProcess, type RunResult } from './process.js';
import { EffectError } from '../errors.js';

/** The command that installs nix on Debian/Ubuntu, quoted in every "nix missing" message. */
export const INSTALL_HINT =
  'Install nix with `apt-get install -y nix-bin` (Debian/Ubuntu) and run the service as root, ' +
  'or start nix-daemon and add the service user to the nix-users group';

export interface ProbeResult {
  available: boolean;
  version?: string;
  hint?: string;
}

export interface RunNix {
  cwd?: string;
  signal?: AbortSignal;
  onProgress?: (line: string) => void;
  /** Words for the failure message: "nix flake lock failed …". */
  what: string;
  /** What the person should do when it fails. */
  advice?: string;
}

/** A probe failure is re-checked after this long (nix may get installed meanwhile). */
const NEGATIVE_PROBE_TTL_MS = 30_000;

function groupExists(name: string): boolean {
  try {
    return readFileSync('/etc/group', 'utf8')
      .split('\n')
      .some((line) => line.startsWith(`${name}:`));
  } catch {
    return false;
  }
}

/** The system nix.conf as nix would read it ('' when there is none). */
function readConf(base: NodeJS.ProcessEnv): string {
  try {
    return readFileSync(join(base.NIX_CONF_DIR ?? '/etc/nix', 'nix.conf'), 'utf8');
  } catch {
    return '';
  }
}

/**
 * A command line whose positional arguments can never be read as options: `options`, then
 * `--`, then `positionals`. nix 2.8 (every `nix` subcommand) and git stop reading options at
 * `--` (test/int/nix/dashDash.test.ts).
 */
export function commandLine(options: readonly string[], positionals: readonly string[]): string[] {
  return [...options, '--', ...positionals];
}

/**
 * For the programs that do not take `--` (nix-instantiate, nix-env, nixos-rebuild, which read
 * an argument after `--` starting with `-` as an option all the same): every positional must
 * be an absolute path or otherwise not start with `-`. Throws `forbidden` when one does.
 */
export function legacyCommandLine(options: readonly string[], positionals: readonly string[]): string[] {
  const bad = positionals.find((p) => p.startsWith('-'));
  if (bad !== undefined)
    throw forbidden(`refusing to run a program with the argument ${JSON.stringify(bad)}, which it would read as an option.`);
  return [...options, ...positionals];
}

/** The environment every child gets: NIX_CONFIG extended, git identity for commit-less adds. */
export function childEnvironment(base: NodeJS.ProcessEnv, options: { sandboxByDefault?: boolean } = {}): NodeJS.ProcessEnv {
  const extra = [
    'experimental-features = nix-command flakes',
    // Never wait on a binary cache: everything is built locally.
    'substituters =',
    'warn-dirty = false',
  ];
  const inherited = base.NIX_CONFIG?.trim();
  // As root without a daemon nix builds as the nixbld users; without that group, build as root.
  if (process.getuid?.() === 0 && !groupExists('nixbld')) extra.push('build-users-group =');
  // The operator's nix.conf or NIX_CONFIG decides the sandbox. When neither does: with remote
  // builds allowed, sandbox where the host can (nix falls back where it cannot); otherwise
  // (only workspace flakes are built) no sandbox, as Debian's nix.conf has it — the `/bin/sh`
  // builders of the `minimal` template fail inside one. See docs/security.md.
  const sandboxSet = /^\s*sandbox\s*=/m;
  if (!sandboxSet.test(inherited ?? '') && !sandboxSet.test(readConf(base))) {
    extra.push(options.sandboxByDefault === true ? 'sandbox = true\nsandbox-fallback = true' : 'sandbox = false');
  }
  return {
    ...base,
    NIX_CONFIG: [...(inherited ? [inherited] : []), ...extra].join('\n'),
    GIT_AUTHOR_NAME: base.GIT_AUTHOR_NAME ?? 'cim-domain-nix',
    GIT_AUTHOR_EMAIL: base.GIT_AUTHOR_EMAIL ?? 'cim-domain-nix@localhost',
    GIT_COMMITTER_NAME: base.GIT_COMMITTER_NAME ?? 'cim-domain-nix',
    GIT_COMMITTER_EMAIL: base.GIT_COMMITTER_EMAIL ?? 'cim-domain-nix@localhost',
    GIT_TERMINAL_PROMPT: '0',
    TERM: 'dumb',
  };
}

export class NixCli {
  readonly env: NodeJS.ProcessEnv;
  readonly instantiateBin: string;
  private probed: { at: number; result: Promise<ProbeResult> } | undefined;

  constructor(
    readonly nixBin: string,
    env: NodeJS.ProcessEnv,
    options: { sandboxByDefault?: boolean } = {},
  ) {
    this.env = childEnvironment(env, options);
    // nix-instantiate lives next to nix when nix is given as a path.
    this.instantiateBin = nixBin.includes('/') ? join(dirname(nixBin), 'nix-instantiate') : 'nix-instantiate';
  }

  /** Is nix runnable? Cached; a negative answer is re-checked after a while. */
  probe(): Promise<ProbeResult> {
    const now = Date.now();
    if (this.probed !== undefined) return this.probed.result;
    const result = this.runProbe().then((r) => {
      if (!r.available) setTimeout(() => this.forgetProbe(now), NEGATIVE_PROBE_TTL_MS).unref();
      return r;
    });
    this.probed = { at: now, result };
    return result;
  }

  private forgetProbe(at: number): void {
    if (this.probed?.at === at) this.probed = undefined;
  }

  private async runProbe(): Promise<ProbeResult> {
    const run = await runProcess(this.nixBin, ['--version'], { env: this.env });
    if (run.spawnError !== undefined || run.exitCode !== 0) {
      const why = run.spawnError !== undefined ? `${run.spawnError.code ?? run.spawnError.message}` : run.tail.join(' ');
      return { available: false, hint: `nix is not usable (${basename(this.nixBin)}: ${why}). ${INSTALL_HINT}.` };
    }
    const version = /(\d+\.\d+(?:\.\d+)?)/.exec(run.stdout)?.[1];
    return version === undefined ? { available: true } : { available: true, version };
  }

  /** Throws nix_failed with the install hint when nix cannot run. */
  async requireNix(): Promise<void> {
    const probe = await this.probe();
    if (!probe.available) throw nixFailed(probe.hint ?? INSTALL_HINT);
  }

  /** Turns a finished run into an error, or returns it when it succeeded. */
  private check(file: string, run: RunResult, options: RunNix): RunResult {
    if (run.spawnError !== undefined) {
      const code = run.spawnError.code === 'ENOENT' ? `${file} was not found` : run.spawnError.message;
      throw nixFailed(`${options.what} could not start: ${code}. ${INSTALL_HINT}.`);
    }
    if (run.aborted) {
      throw nixFailed(`${options.what} was cancelled before it finished; run the command again.`, {
        log_tail: run.tail,
        duration_ms: run.durationMs,
      });
    }
    if (run.exitCode !== 0) {
      const last = [...run.tail].reverse().find((l) => l.startsWith('error:')) ?? run.tail[run.tail.length - 1] ?? '';
      const advice = options.advice ?? 'see the log tail for the cause';
      throw new EffectError('nix_failed', `${options.what} failed (exit ${run.exitCode ?? 'signal'}): ${last} — ${advice}.`, {
        ...(run.exitCode !== null ? { exit_code: run.exitCode } : {}),
        log_tail: run.tail,
        duration_ms: run.durationMs,
      });
    }
    return run;
  }

  /**
   * Runs `nix <options> -- <positionals>` (installables, flake refs, store paths: never read
   * as options); throws nix_failed with the exit code and log tail on failure.
   */
  async nix(options: string[], positionals: string[], how: RunNix): Promise<RunResult> {
    const run = await runProcess(this.nixBin, commandLine(options, positionals), {
      env: this.env,
      ...(how.cwd !== undefined ? { cwd: how.cwd } : {}),
      ...(how.signal !== undefined ? { signal: how.signal } : {}),
      ...(how.onProgress !== undefined ? { onLine: how.onProgress } : {}),
    });
    return this.check(this.nixBin, run, how);
  }

  /**
   * Checks that files parse as Nix (one `nix-instantiate --parse` run); throws nix_failed with
   * the parser's words. nix-instantiate reads an argument starting with `-` as an option even
   * after `--`, so only absolute paths are passed.
   */
  async parseCheck(files: string | string[], shownAs: string): Promise<void> {
    const list = typeof files === 'string' ? [files] : files;
    if (list.length === 0) return;
    const relative = list.find((f) => !isAbsolute(f));
    if (relative !== undefined) throw new Error(`parseCheck needs absolute paths, got ${JSON.stringify(relative)}`);
    const run = await runProcess(this.instantiateBin, legacyCommandLine(['--parse'], list), { env: this.env });
    this.check(this.instantiateBin, run, {
      what: `nix-instantiate --parse ${shownAs}`,
      advice: `${shownAs} is not valid Nix; nothing was kept`,
    });
  }

  /**
   * Runs `git <options> -- <paths>` in `cwd` (paths after `--` are never options); throws
   * nix_failed (git is part of what nix needs to see a flake).
   */
  async git(cwd: string, options: string[], paths: string[] = []): Promise<RunResult> {
    // gc.auto=0: no detached `git gc` left running in the workspace after we return.
    const args = ['-c', 'init.defaultBranch=main', '-c', 'gc.auto=0', ...(paths.length > 0 ? commandLine(options, paths) : options)];
    const run = await runProcess('git', args, { cwd, env: this.env });
    if (run.spawnError !== undefined) {
      throw nixFailed(
        `git could not start (${run.spawnError.code ?? run.spawnError.message}); install it with \`apt-get install -y git\`.`,
      );
    }
    return this.check('git', run, {
      what: `git ${options[0] ?? ''}`,
      advice: 'check that the directory is a usable git repository',
    });
  }
}
