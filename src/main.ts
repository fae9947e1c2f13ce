/**
 * The composition root: configuration, logging, the embedded default server, the NATS
 * connection supervisor, the service, and an orderly shutdown on SIGINT/SIGTERM.
 *
 * Exit codes: 0 after a clean shutdown, 1 when NATS cannot be reached (attempts exhausted,
 * credentials or TLS refused) or the service fails, 2 for a bad configuration.
 *
 * Stopping: SIGINT or SIGTERM (repeats are ignored while the shutdown runs: under `npm start`
 * a Ctrl-C reaches the service twice, from the terminal and forwarded by npm). Under
 * `npm start` (scripts/start.sh sets CIM_DOMAIN_NIX_STOP_WITH_PARENT=1) the service also
 * stops when the npm process that started it is gone, so a process manager that kills npm
 * never leaves it orphaned. A process manager should run `node dist/src/main.js` (or
 * `cim-domain-nix serve`) directly; see the README.
 */
import { loadConfig, usage, type Config } from './config.js';
import { ensureError } from './errors.js';
import { createLogger, type Logger } from './logging.js';
import { createConnectionSupervisor, type ConnectionSupervisor } from './messaging/connection.js';
import { shouldEmbed, startEmbeddedServer, type EmbeddedServer } from './messaging/embeddedServer.js';
import { startService } from './service.js';

const SHUTDOWN_BOUND_MS = 20_000;
/** How often the service looks whether the `npm start` that ran it is still there. */
const PARENT_CHECK_MS = 1_000;
const STOP_WITH_PARENT_ENV = 'CIM_DOMAIN_NIX_STOP_WITH_PARENT';

/**
 * Call `onGone` once the parent process has exited (the process was re-parented), checked
 * every second; only when `CIM_DOMAIN_NIX_STOP_WITH_PARENT=1` (set by scripts/start.sh).
 */
function watchParent(env: NodeJS.ProcessEnv, onGone: (parentPid: number) => void): void {
  if (env[STOP_WITH_PARENT_ENV] !== '1') return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone(parent);
  }, PARENT_CHECK_MS);
  timer.unref();
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage() + '\n');
    return;
  }

  const loaded = loadConfig(argv, env);
  if (!loaded.ok) {
    process.stderr.write(`cim-domain-nix: ${loaded.message}\n`);
    process.exitCode = 2;
    return;
  }
  const config = loaded.config;
  const logger = createLogger(config.log);
  logger.info(
    {
      config_file: config.configFile,
      servers: config.nats.servers,
      url_explicit: config.natsUrlExplicit,
      prefix: config.prefix,
      workspace: config.workspace,
    },
    'cim-domain-nix starting',
  );

  // Filled in as start-up proceeds; shutdown stops whatever exists by then.
  const parts: {
    embedded?: Promise<EmbeddedServer | undefined>;
    connection?: ConnectionSupervisor;
    service?: { stop(options?: { leave?: boolean }): Promise<void> };
  } = {};
  let shuttingDown: Promise<void> | undefined;

  /** Stop in order: the service (intake, actors, publisher), the connection, the embedded server. */
  const shutdown = (reason: string, code: number): Promise<void> => {
    shuttingDown ??= (async () => {
      logger.info({ reason }, 'cim-domain-nix shutting down');
      const bound = setTimeout(() => {
        logger.error(`shutdown did not finish within ${SHUTDOWN_BOUND_MS} ms; exiting`);
        process.exit(1);
      }, SHUTDOWN_BOUND_MS);
      bound.unref();
      for (const [name, step] of [
        // A graceful stop (SIGTERM, SIGINT: code 0) hands the partitions to the other instances first.
        ['service', () => parts.service?.stop({ leave: code === 0 })],
        ['connection', () => parts.connection?.stop()],
        // Awaited even while it is still starting, so a Ctrl-C then leaves no server behind.
        ['embedded server', async () => (await parts.embedded)?.stop()],
      ] as const) {
        try {
          await step();
        } catch (e) {
          logger.error({ err: ensureError(e) }, `stopping the ${name} failed`);
          code = code || 1;
        }
      }
      clearTimeout(bound);
      logger.info({ exit_code: code }, 'cim-domain-nix stopped');
      process.exit(code);
    })();
    return shuttingDown;
  };

  // `on`, not `once`: a second signal during the shutdown must not kill the process halfway
  // (the embedded server would be left running).
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  watchParent(env, (parentPid) => {
    logger.warn({ parent_pid: parentPid }, 'the npm start process that ran the service is gone; stopping');
    void shutdown('parent process gone', 0);
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    void shutdown('uncaught exception', 1);
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: ensureError(reason) }, 'unhandled promise rejection');
    void shutdown('unhandled rejection', 1);
  });

  parts.embedded = startEmbeddedIfWanted(config, logger, env);
  const embedded = await parts.embedded;
  if (shuttingDown) return;

  const connection = createConnectionSupervisor(config, logger);
  parts.connection = connection;
  connection.onState((state) => {
    // A connection that fails after start-up (attempts exhausted, credentials revoked) ends the process.
    if (state === 'failed' && parts.service) {
      void shutdown('the NATS connection failed', 1);
    }
  });

  try {
    await connection.ready();
  } catch (e) {
    if (shuttingDown) return; // a signal stopped the supervisor while it was connecting
    const err = ensureError(e);
    process.stderr.write(`cim-domain-nix: cannot connect to NATS at ${config.nats.servers.join(', ')}: ${err.message}\n`);
    logger.error({ err }, 'cannot connect to NATS; exiting');
    await shutdown('no NATS connection', 1);
    return;
  }
  if (shuttingDown) return;

  try {
    parts.service = await startService({
      config,
      logger,
      connection,
      ...(embedded ? { embeddedWsUrl: embedded.wsUrl } : {}),
    });
  } catch (e) {
    const err = ensureError(e);
    process.stderr.write(`cim-domain-nix: the service could not start: ${err.message}\n`);
    logger.error({ err }, 'the service could not start; exiting');
    await shutdown('service start failed', 1);
    return;
  }
  logger.info({ server: connection.server, prefix: config.prefix }, 'cim-domain-nix is running');

  // nats.js keeps subscriptions across reconnects; only a connection the supervisor had to
  // replace (the old one closed) needs the service rebuilt on the new one.
  let current = connection.connection;
  let restarting: Promise<void> = Promise.resolve();
  connection.onConnection((nc) => {
    if (nc === current || shuttingDown) return;
    current = nc;
    restarting = restarting.then(async () => {
      logger.warn({ server: connection.server }, 'the NATS connection was replaced; restarting the service on the new one');
      await parts.service?.stop().catch((e: unknown) => logger.warn({ err: ensureError(e) }, 'stopping the old service failed'));
      if (shuttingDown) return;
      try {
        parts.service = await startService({ config, logger, connection, ...(embedded ? { embeddedWsUrl: embedded.wsUrl } : {}) });
      } catch (e) {
        logger.error({ err: ensureError(e) }, 'the service could not restart on the new connection; exiting');
        await shutdown('service restart failed', 1);
      }
    });
  });
}

async function startEmbeddedIfWanted(config: Config, logger: Logger, env: NodeJS.ProcessEnv): Promise<EmbeddedServer | undefined> {
  const decision = await shouldEmbed(config, env);
  if (!decision.start) {
    logger.info({ reason: decision.reason }, 'no embedded nats-server');
    return undefined;
  }
  try {
    const server = await startEmbeddedServer({
      workspace: config.workspace,
      logger,
      ...(decision.bin ? { bin: decision.bin } : {}),
    });
    logger.info(
      { url: server.url, ws_url: server.wsUrl, dir: server.dir, server_pid: server.pid, reason: decision.reason },
      `embedded nats-server running at ${server.url} (JetStream in ${server.dir}, websocket ${server.wsUrl})`,
    );
    return server;
  } catch (e) {
    logger.error({ err: ensureError(e) }, 'the embedded nats-server could not start; connecting to the default URL anyway');
    return undefined;
  }
}

main(process.argv.slice(2), process.env).catch((e: unknown) => {
  process.stderr.write(`cim-domain-nix: ${ensureError(e).stack ?? String(e)}\n`);
  process.exit(1);
});
