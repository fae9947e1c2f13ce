/**
 * Discovery through the NATS service protocol (`$SRV.PING|INFO|STATS`, service name
 * `cim-domain-nix`): one endpoint per command and query subject plus health, so
 * `nats micro ls` lists the service. The endpoints are the real intake: each hands its
 * messages to the command intake, the query handler or the health responder. A plain
 * catch-all subscription answers subjects under the prefix that no endpoint knows.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { commandSpecs } from '../domain/commands.js';
import { allQueries } from '../domain/queries.js';
import { HEALTH_SUBJECT, SERVICE_NAME, type Subjects } from '../domain/subjects.js';
import { ensureError } from '../errors.js';
import { MicroService } from './microService.js';

export interface DiscoveryHandlers {
  command(msg: Msg): void;
  query(msg: Msg): void;
  health(msg: Msg): void;
}

export interface Discovery {
  readonly service: MicroService;
  stop(): Promise<void>;
}

export const SERVICE_QUEUE = 'cim-domain-nix';

/**
 * Start the endpoints and the `$SRV` answers. The service id is the instance id (the one
 * health reports), so `$SRV.INFO.cim-domain-nix.<instance_id>` addresses one instance.
 */
export function startDiscovery(
  nc: NatsConnection,
  subjects: Subjects,
  logger: Logger,
  info: { version: string; instanceId: string },
  handlers: DiscoveryHandlers,
): Promise<Discovery> {
  const service = new MicroService(nc, {
    name: SERVICE_NAME,
    version: info.version,
    id: info.instanceId,
    description: 'Nix domain of the CIM: flakes, packages, modules, overlays and NixOS configurations',
    queue: SERVICE_QUEUE,
    metadata: { prefix: subjects.prefix, instance_id: info.instanceId },
  });
  const known = new Set<string>();
  for (const spec of commandSpecs.values()) {
    const subject = subjects.command(spec.aggregate, spec.action);
    known.add(subject);
    service.addEndpoint({
      name: `cmd_${spec.aggregate}_${spec.action}`,
      subject,
      handler: (m) => handlers.command(m),
      metadata: { kind: 'command', aggregate: spec.aggregate, action: spec.action },
    });
  }
  for (const q of allQueries()) {
    const subject = subjects.query(q.aggregate, q.action);
    known.add(subject);
    service.addEndpoint({
      name: `query_${q.aggregate}_${q.action}`,
      subject,
      handler: (m) => handlers.query(m),
      metadata: { kind: 'query', aggregate: q.aggregate, action: q.action },
    });
  }
  service.addEndpoint({ name: 'health', subject: HEALTH_SUBJECT, handler: (m) => handlers.health(m), metadata: { kind: 'health' } });
  service.start();

  // Subjects under the prefix that no endpoint serves: answered unknown_subject.
  const catchAll: Subscription[] = [subjects.commands, subjects.queries].map((wildcard) =>
    nc.subscribe(wildcard, {
      queue: `${SERVICE_QUEUE}-unknown`,
      callback: (err, msg) => {
        if (err) {
          logger.error({ err: ensureError(err), subject: wildcard }, 'the catch-all subscription failed');
          return;
        }
        if (known.has(msg.subject)) return;
        if (subjects.parse(msg.subject)?.kind === 'cmd') handlers.command(msg);
        else handlers.query(msg);
      },
    }),
  );

  return Promise.resolve({
    service,
    stop: async () => {
      for (const s of catchAll) await s.drain().catch(() => undefined);
      await service.stop();
    },
  });
}
