/**
 * Publishing stored events on their seed subjects (`P.event.<fact>`, with the seed headers
 * of SPEC §3): the NATS publisher, at most once per call, and its in-memory twin that keeps
 * what it was given.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { eventHeaders, type DomainEvent } from '../domain/events.js';
import type { Subjects } from '../domain/subjects.js';
import { ensureError } from '../errors.js';
import { WireHeaders } from '../messaging/wireHeaders.js';
import type { SeedPublisher } from './ports.js';

/** Core NATS publish of seed events. */
export class NatsSeedPublisher implements SeedPublisher {
  published = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly logger: Logger,
  ) {}

  publish(event: DomainEvent, fact: string, body: string | Uint8Array = JSON.stringify(event)): void {
    try {
      this.nc.publish(this.subjects.event(fact), body, { headers: new WireHeaders(eventHeaders(event, this.subjects.prefix)) });
      this.published++;
    } catch (e) {
      // Core publish only fails when the connection is closed; the seed relay makes it up later.
      this.logger.warn({ err: ensureError(e).message, event_id: event.identity.message_id }, 'seed publish failed');
    }
  }
}

/** One publication the twin kept. */
export interface SeedPublication {
  subject: string;
  event: DomainEvent;
  headers: Record<string, string>;
}

/** The in-memory twin: keeps every publication, in order. */
export class MemorySeedPublisher implements SeedPublisher {
  readonly publications: SeedPublication[] = [];

  constructor(private readonly subjects: Subjects) {}

  get published(): number {
    return this.publications.length;
  }

  publish(event: DomainEvent, fact: string): void {
    this.publications.push({ subject: this.subjects.event(fact), event, headers: eventHeaders(event, this.subjects.prefix) });
  }
}
