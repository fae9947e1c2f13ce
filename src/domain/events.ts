/**
 * The domain event envelope of SPEC §3, as stored in JetStream and published on the seed
 * subjects, and the headers that go with it.
 */
import type { Identity } from './identity.js';

/** The header naming an event's own id (its `identity.message_id`). */
export const EVENT_ID_HEADER = 'X-Event-ID';

/** A domain event on the wire: envelope fields plus the fact's payload fields. */
export interface DomainEvent {
  identity: Identity;
  event_type: string;
  aggregate_type: string;
  aggregate_id: string;
  sequence: number;
  occurred_at: string;
  [field: string]: unknown;
}

/** Envelope field names; a fact's payload never uses them. */
export const ENVELOPE_FIELDS = ['identity', 'event_type', 'aggregate_type', 'aggregate_id', 'sequence', 'occurred_at'] as const;

/** Seed headers of an event (SPEC §3), as name → value. */
export function eventHeaders(event: DomainEvent, domain: string): Record<string, string> {
  return {
    [EVENT_ID_HEADER]: event.identity.message_id,
    'X-Correlation-ID': event.identity.correlation_id,
    'X-Causation-ID': event.identity.causation_id,
    'X-Event-Type': event.event_type,
    'X-Aggregate-ID': event.aggregate_id,
    'X-Aggregate-Type': event.aggregate_type,
    'X-Sequence': String(event.sequence),
    'X-Timestamp': event.occurred_at,
    'X-Domain': domain,
  };
}

/** The fact name (`<agg>.<past>`) of an event, derived from the store header. */
export const FACT_HEADER = 'X-Fact';
export const COMMAND_HEADER = 'X-Command-ID';
