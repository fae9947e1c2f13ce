/**
 * The CLI's connection to NATS, with the service's own configuration: the file
 * (`cim-domain-nix.json` or `--config`), the environment (`NATS_URL`, `NATS_USER`, …,
 * `NIX_DOMAIN_PREFIX`) and command-line overrides (`--server`, `--prefix`, `--user`,
 * `--password`, `--token`, `--creds`), with the same TLS and auth handling.
 */
import { connect, errors, type NatsConnection } from '@nats-io/transport-node';
import { loadConfig, type Config } from '../config.js';
import { subjectsFor, type Subjects } from '../domain/subjects.js';
import { CliError, ensureError } from '../errors.js';
import { buildConnectionOptions } from '../messaging/connectionOptions.js';
import type { GlobalOptions } from './args.js';

/** Exit codes of every subcommand. */
export const ExitCode = {
  ok: 0,
  /** The service answered with an error (or a build failed, or health is degraded). */
  failed: 1,
  /** A usage mistake: unknown subcommand or flag, a payload that fails validation, a bad configuration. */
  usage: 2,
  /** The service cannot be reached: no NATS connection, nobody answers, or no answer in time. */
  unreachable: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The configuration the CLI connects with (the service's, plus command-line overrides). */
export function cliConfig(global: GlobalOptions, env: NodeJS.ProcessEnv): Config {
  const overrides: Record<string, string> = {};
  if (global.server !== undefined) overrides['NATS_URL'] = global.server;
  if (global.prefix !== undefined) overrides['NIX_DOMAIN_PREFIX'] = global.prefix;
  if (global.user !== undefined) overrides['NATS_USER'] = global.user;
  if (global.password !== undefined) overrides['NATS_PASSWORD'] = global.password;
  if (global.token !== undefined) overrides['NATS_TOKEN'] = global.token;
  if (global.creds !== undefined) overrides['NATS_CREDS'] = global.creds;
  const loaded = loadConfig(global.config !== undefined ? ['--config', global.config] : [], { ...env, ...overrides });
  if (!loaded.ok) throw new CliError(loaded.message, ExitCode.usage);
  return loaded.config;
}

export interface Client {
  nc: NatsConnection;
  subjects: Subjects;
  config: Config;
  close(): Promise<void>;
}

/** Connect once (no retry loop: a CLI reports and exits). */
export async function openClient(global: GlobalOptions, env: NodeJS.ProcessEnv): Promise<Client> {
  const config = cliConfig(global, env);
  let nc: NatsConnection;
  try {
    const options = await buildConnectionOptions(config.nats);
    nc = await connect({ ...options, name: 'cim-domain-nix-cli', reconnect: false, timeout: config.nats.connectTimeoutMs });
  } catch (e) {
    const err = ensureError(e);
    throw new CliError(
      `cannot connect to NATS at ${config.nats.servers.join(', ')}: ${err.message}. ` +
        'Start the service (and its embedded server) with `cim-domain-nix serve`, or point --server / NATS_URL at your NATS server.',
      ExitCode.unreachable,
    );
  }
  return {
    nc,
    subjects: subjectsFor(config.prefix),
    config,
    close: async () => {
      await nc.drain().catch(() => undefined);
    },
  };
}

/** Run `work` with a connected client and close it afterwards, whatever `work` does. */
export async function withClient<T>(global: GlobalOptions, env: NodeJS.ProcessEnv, work: (client: Client) => Promise<T>): Promise<T> {
  const client = await openClient(global, env);
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

/** Send a JSON request and decode the JSON reply; unreachable services become {@link CliError}s. */
export async function requestJson(client: Client, subject: string, body: unknown, timeoutMs: number): Promise<Record<string, unknown>> {
  try {
    const m = await client.nc.request(subject, body === undefined ? '' : JSON.stringify(body), { timeout: timeoutMs });
    return m.json<Record<string, unknown>>();
  } catch (e) {
    if (e instanceof errors.NoRespondersError) {
      throw new CliError(
        `nobody answers on ${subject}: is the service running with prefix '${client.subjects.prefix}'? Start it with \`cim-domain-nix serve\`.`,
        ExitCode.unreachable,
      );
    }
    if (e instanceof errors.TimeoutError) {
      throw new CliError(
        `no answer on ${subject} within ${timeoutMs} ms; the service may be busy or stopped (raise --timeout to wait longer)`,
        ExitCode.unreachable,
      );
    }
    if (e instanceof errors.RequestError && e.isNoResponders()) {
      throw new CliError(
        `nobody answers on ${subject}: is the service running with prefix '${client.subjects.prefix}'? Start it with \`cim-domain-nix serve\`.`,
        ExitCode.unreachable,
      );
    }
    throw new CliError(`${subject}: ${ensureError(e).message}`, ExitCode.unreachable);
  }
}

export { CliError } from '../errors.js';
