/**
 * Discovery through the NATS service protocol (`$SRV.PING|INFO|STATS`, service name
 * `cim-domain-nix`): one endpoint per command and query subject plus health, so
 * `nats micro ls` lists the service. The endpoints are the real intake: each hands its
 * messages to the command intake, the query handler or the health responder. A plain
 * catch-all subscription answers subjects under the prefix that no endpoint knows.
 */
import { Svcm, type Service, type ServiceMsg } from '@nats-io/services';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { commandSpecs } from '../domain/commands.js';
import { allQueries } from '../domain/queries.js';
import { HEALTH_SUBJECT, SERVICE_NAME, type Subjects } from '../domain/subjects.js';
import { ensureError } from '../errors.js';

export interface DiscoveryHandlers {
  command(msg: Msg): void;
  query(msg: Msg): void;
  health(msg: Msg): void;
}

export interface Discovery {
  readonly service: Service;
  stop(): Promise<void>;
}

export const SERVICE_QUEUE = 'cim-domain-nix';

export async function startDiscovery(
  nc: NatsConnection,
  subjects: Subjects,
  logger: Logger,
  info: { version: string; instanceId: string },
  handlers: DiscoveryHandlers,
): Promise<Discovery> {
  const svcm = new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]);
  const service = await svcm.add({
    name: SERVICE_NAME,
    version: info.version,
    description: 'Nix domain of the CIM: flakes, packages, modules, overlays and NixOS configurations',
    queue: SERVICE_QUEUE,
    metadata: { prefix: subjects.prefix, instance_id: info.instanceId },
  });
  const guard = (fn: (m: Msg) => void) => (err: Error | null, msg: ServiceMsg) => {
    if (err) {
      logger.error({ err: ensureError(err) }, 'service endpoint failed');
      return;
    }
    fn(msg as unknown as Msg);
  };
  const known = new Set<string>();
  for (const spec of commandSpecs.values()) {
    const subject = subjects.command(spec.aggregate, spec.action);
    known.add(subject);
    service.addEndpoint(`cmd_${spec.aggregate}_${spec.action}`, {
      subject,
      handler: guard((m) => handlers.command(m)),
      metadata: { kind: 'command', aggregate: spec.aggregate, action: spec.action },
    });
  }
  for (const q of allQueries()) {
    const subject = subjects.query(q.aggregate, q.action);
    known.add(subject);
    service.addEndpoint(`query_${q.aggregate}_${q.action}`, {
      subject,
      handler: guard((m) => handlers.query(m)),
      metadata: { kind: 'query', aggregate: q.aggregate, action: q.action },
    });
  }
  service.addEndpoint('health', { subject: HEALTH_SUBJECT, handler: guard((m) => handlers.health(m)), metadata: { kind: 'health' } });

  // Subjects under the prefix that no endpoint serves: answered unknown_subject.
  const catchAll: Subscription[] = [subjects.commands, subjects.queries].map((wildcard) =>
    nc.subscribe(wildcard, {
      queue: `${SERVICE_QUEUE}-unknown`,
      callback: (err, msg) => {
        if (err || known.has(msg.subject)) return;
        if (msg.subject.startsWith(`${subjects.prefix}.cmd.`)) handlers.command(msg);
        else handlers.query(msg);
      },
    }),
  );

  return {
    service,
    stop: async () => {
      for (const s of catchAll) await s.drain().catch(() => undefined);
      await service.stop().catch(() => undefined);
    },
  };
}
