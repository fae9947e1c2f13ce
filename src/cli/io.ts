/** What a subcommand needs from its surroundings (the process, or a test). */
import type { ParsedArgs } from './args.js';

export interface CliIo {
  /** A line for stdout. */
  out: (line: string) => void;
  /** A line for stderr. */
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
  /** All of stdin (for a `-` JSON argument). */
  stdin: () => Promise<string>;
  /** Aborted on SIGINT or SIGTERM. */
  signal: AbortSignal;
}

export interface Subcommand {
  /** One line for the command list. */
  summary: string;
  /** Flags of the subcommand that take no value. */
  switches?: readonly string[];
  /** The help text of the subcommand. */
  help(): string;
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

/** The connection and output options every subcommand takes, for help texts. */
export const GLOBAL_HELP = [
  'Connection (as the service: cim-domain-nix.json, then NATS_URL, NATS_USER, NATS_PASSWORD, NATS_TOKEN,',
  'NATS_NKEY_SEED, NATS_CREDS, NATS_TLS_CA/CERT/KEY, NIX_DOMAIN_PREFIX; these flags win):',
  '  --config, -c <file>   configuration file',
  '  --server, -s <url>    NATS URL (default nats://127.0.0.1:4222)',
  '  --prefix <P>          subject prefix (default nix)',
  '  --user <u> --password <p> | --token <t> | --creds <file>',
  '  --timeout <ms>        how long to wait for the answer',
  '  --json                machine-readable output (one JSON document or line per message)',
  '  --help, -h            this help',
].join('\n');

export const EXIT_HELP = [
  'Exit codes: 0 ok; 1 the service answered with an error (or the build failed, or health is degraded);',
  '2 usage error or invalid payload (nothing was sent); 3 the service cannot be reached (no NATS, no answer, timeout).',
].join('\n');
