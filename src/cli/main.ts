/**
 * The command-line client `cim-domain-nix`: `serve` runs the service; `health`, `send`,
 * `query`, `watch`, `build` and `cluster` talk to a running one over NATS with the service's own
 * connection settings. Exit codes: 0 ok, 1 the service answered with an error, 2 usage or
 * invalid payload (nothing sent), 3 the service cannot be reached.
 */
import { ensureError } from '../errors.js';
import { UsageError, parseArgs } from './args.js';
import { CliError, ExitCode } from './client.js';
import { build } from './commands/build.js';
import { cluster } from './commands/cluster.js';
import { health } from './commands/health.js';
import { query } from './commands/query.js';
import { send } from './commands/send.js';
import { watch } from './commands/watch.js';
import { EXIT_HELP, GLOBAL_HELP, type CliIo, type Subcommand } from './io.js';

const serve: Subcommand = {
  summary: 'run the service (same as npm start; --help lists its settings)',
  help: () => 'Usage: cim-domain-nix serve [--config <file>]   (settings: cim-domain-nix serve --help)',
  run: () => Promise.resolve(ExitCode.ok), // handled in runCli: the service owns the process
};

const subcommands: Record<string, Subcommand> = { serve, health, send, query, watch, build, cluster };

export function usage(): string {
  return [
    'Usage: cim-domain-nix <command> [options]',
    '',
    'The Nix domain service of a CIM, and a client for it over NATS.',
    '',
    'Commands:',
    ...Object.entries(subcommands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`),
    '',
    'Every command has --help. Quick start:',
    '  cim-domain-nix serve &                                    # the service (embedded NATS if none runs)',
    '  cim-domain-nix send flake.create --path hello --description "Hello" --template minimal',
    '  cim-domain-nix build path:hello                           # live progress until built',
    '  cim-domain-nix query package.status --flake_ref path:hello --attribute packages.x86_64-linux.default',
    '',
    GLOBAL_HELP,
    '',
    EXIT_HELP,
  ].join('\n');
}

/** Run one CLI invocation; resolves with the exit code, or `undefined` when the service now owns the process. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number | undefined> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  if (name === 'serve') {
    // The service reads process.argv itself and handles its signals and exit code.
    process.argv = [process.argv[0]!, 'cim-domain-nix', ...rest];
    await import('../main.js');
    return undefined;
  }
  const command = subcommands[name];
  if (!command) {
    io.err(`cim-domain-nix: unknown command '${name}'; commands: ${Object.keys(subcommands).join(', ')} (see --help)`);
    return ExitCode.usage;
  }
  try {
    return await command.run(parseArgs(rest, command.switches ?? []), io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`cim-domain-nix ${name}: ${e.message}`);
      return ExitCode.usage;
    }
    if (e instanceof CliError) {
      io.err(`cim-domain-nix ${name}: ${e.message}`);
      return e.exitCode;
    }
    io.err(`cim-domain-nix ${name}: ${ensureError(e).stack ?? String(e)}`);
    return ExitCode.failed;
  }
}

/**
 * The process's streams for a subcommand. A reader that goes away (`cim-domain-nix watch |
 * head -5`) is not a failure: on EPIPE the CLI stops writing, ends the command as on
 * Ctrl-C and exits with the command's own code, without a stack trace.
 */
function processIo(): { io: CliIo; dispose: () => void } {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const closed = { stdout: false, stderr: false };
  const onStreamError = (which: 'stdout' | 'stderr') => (e: NodeJS.ErrnoException) => {
    closed[which] = true;
    controller.abort();
    if (e.code !== 'EPIPE' && !closed.stderr) {
      // Not a closed pipe (a full disk, a revoked terminal): say so once, and fail.
      process.stderr.write(`cim-domain-nix: cannot write to ${which}: ${e.message}\n`);
      process.exitCode = ExitCode.failed;
    }
  };
  const onStdout = onStreamError('stdout');
  const onStderr = onStreamError('stderr');
  process.stdout.on('error', onStdout);
  process.stderr.on('error', onStderr);
  return {
    io: {
      out: (line) => {
        if (!closed.stdout) process.stdout.write(`${line}\n`);
      },
      err: (line) => {
        if (!closed.stderr) process.stderr.write(`${line}\n`);
      },
      env: process.env,
      stdin: async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks).toString('utf8');
      },
      signal: controller.signal,
    },
    // The stream listeners stay: a write still in flight may report EPIPE after the command ended.
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

/** The entry point: `bin/cim-domain-nix.js` imports this module and calls it. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  if (argv[0] === 'serve') {
    // The service installs its own signal handlers and sets the exit code.
    await runCli(argv, {
      out: () => undefined,
      err: () => undefined,
      env: process.env,
      stdin: () => Promise.resolve(''),
      signal: new AbortController().signal,
    });
    return;
  }
  const { io, dispose } = processIo();
  const code = await runCli(argv, io);
  dispose();
  // A write error other than a closed pipe has set a failing code already.
  process.exitCode = Math.max(Number(process.exitCode ?? 0), code ?? ExitCode.ok);
}
