/**
 * The page's link to the inspection subjects: the stream of batches and the request/reply
 * the page makes (actor list, one actor's context, a history, the watch lease). Two ways,
 * the same interface: through the service's relay (no NATS account in the browser) or
 * straight to a NATS websocket listener.
 */
import type { Transport } from '../../../src/inspection/wire.js';

/** The page's link; `unauthorized`: the relay refused the token (the page asks for it again). */
export type LinkState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'failed' | 'unauthorized';

export interface SessionHandlers {
  /** One message of the inspection stream (a JSON batch). */
  onBatch(text: string): void;
  onState(state: LinkState, detail?: string): void;
  /** The link came back after a break: what arrived meanwhile is lost, reload. */
  onReconnected(): void;
}

export interface Session {
  readonly transport: Transport;
  /** Where the page is linked to, in words (the status badge's tooltip). */
  readonly target: string;
  /** Connect and start delivering the stream; resolves once linked (or failed for good). */
  start(handlers: SessionHandlers): Promise<void>;
  /** A request on one of the inspector's subjects; resolves with the parsed JSON reply. */
  request(subject: string, body: unknown, timeoutMs?: number): Promise<unknown>;
  close(): void;
}
