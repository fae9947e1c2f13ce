/**
 * The bench's messages: command payloads (one event each, no subprocess), and the limit's
 * stand-ins of the same sizes (echo request and reply, JetStream event and headers).
 * Built as strings, so the load generator spends next to nothing on them.
 */

/** The aggregate name of index `i` under a per-run name prefix. */
export function benchName(prefix: string, i: number): string {
  return `${prefix}-${i}`;
}

/** `module.create`: the first command of an aggregate (one `ModuleCreated` event). */
export function moduleCreatePayload(name: string): string {
  return `{"name":"${name}","module":{"options":{},"config":{"services.nginx.enable":true,"bench.counter":0},"imports":[]}}`;
}

/**
 * `module.update` with a body that differs per call (`counter`), so every update is a real
 * change (one `ModuleUpdated` event).
 */
export function moduleUpdatePayload(name: string, counter: number): string {
  return `{"name":"${name}","module":{"options":{},"config":{"services.nginx.enable":true,"bench.counter":${counter}},"imports":[]}}`;
}

const UUID = '6f1c2a9e-3b4d-5e6f-8a7b-9c0d1e2f3a4b';

/** A reply of the size the service sends for a one-event command. */
export function okReplyStandIn(prefix: string): string {
  return JSON.stringify({
    status: 'ok',
    command_id: UUID,
    aggregate_id: UUID,
    aggregate_type: 'module',
    version: 123,
    events: [{ event_type: 'ModuleUpdated', event_id: UUID, subject: `${prefix}.event.module.updated`, sequence: 123 }],
  });
}

/** The headers the service puts on a reply (same names, same value sizes). */
export const replyHeadersStandIn: Record<string, string> = {
  'X-Correlation-ID': UUID,
  'X-Causation-ID': UUID,
};

/** A stored event of the size the service stores for a `module.update`. */
export function eventStandIn(name: string): string {
  return JSON.stringify({
    identity: { message_id: UUID, correlation_id: UUID, causation_id: UUID },
    event_type: 'ModuleUpdated',
    aggregate_type: 'module',
    aggregate_id: UUID,
    sequence: 123,
    occurred_at: '2025-01-01T00:00:00.000Z',
    name,
    module: { options: {}, config: { 'services.nginx.enable': true, 'bench.counter': 123456 }, imports: [] },
    file: `modules/${name}.nix`,
  });
}

/** The headers the service puts on a stored event (same names, same value sizes). */
export function eventHeadersStandIn(prefix: string): Record<string, string> {
  return {
    'X-Event-ID': UUID,
    'X-Correlation-ID': UUID,
    'X-Causation-ID': UUID,
    'X-Event-Type': 'ModuleUpdated',
    'X-Aggregate-ID': UUID,
    'X-Timestamp': '2025-01-01T00:00:00.000Z',
    'X-Domain': prefix,
    'X-Fact': 'module.updated',
    'X-Command-ID': UUID,
  };
}
