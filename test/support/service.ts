/**
 * Runs the real service in-process against a real nats-server, with its own prefix and
 * workspace, plus a client connection for the test to talk to it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import { createConnectionSupervisor, type ConnectionSupervisor } from '../../src/messaging/connection.js';
import { startService, type RunningService } from '../../src/service.js';
import type { NatsServer } from './natsServer.js';

export interface TestService {
  config: Config;
  client: NatsConnection;
  connection: ConnectionSupervisor;
  service: RunningService;
  workspace: string;
  prefix: string;
  stop(): Promise<void>;
}

let counter = 0;

/** A unique subject prefix per suite, so suites sharing a server never see each other. */
export function uniquePrefix(label = 't'): string {
  counter++;
  return `${label}${process.pid}x${counter}${Math.floor(Math.random() * 1e6)}`;
}

export async function startTestService(server: NatsServer, options: { prefix?: string; env?: Record<string, string>; workspace?: string } = {}): Promise<TestService> {
  const prefix = options.prefix ?? uniquePrefix();
  const ownWorkspace = options.workspace === undefined;
  const workspace = options.workspace ?? (await mkdtemp(join(tmpdir(), 'cim-ws-')));
  const loaded = loadConfig([], {
    NATS_URL: server.url,
    NIX_DOMAIN_PREFIX: prefix,
    NIX_WORKSPACE: workspace,
    INSPECTOR_PORT: '0',
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    ...options.env,
  }, workspace);
  if (!loaded.ok) throw new Error(loaded.message);
  const config = loaded.config;
  const logger = pino({ level: config.log.level });
  const connection = createConnectionSupervisor(config, logger);
  await connection.ready();
  const service = await startService({ config, logger, connection });
  const client = await connect({ servers: server.url });
  return {
    config,
    client,
    connection,
    service,
    workspace,
    prefix,
    stop: async () => {
      await service.stop();
      await connection.stop();
      await client.close();
      if (ownWorkspace) await rm(workspace, { recursive: true, force: true, maxRetries: 10 });
    },
  };
}
