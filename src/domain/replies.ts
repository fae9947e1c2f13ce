/** Reply bodies of SPEC §3. */
export type { ErrorReply } from '../errors.js';

/** One event named in a success reply. */
export interface EventRef {
  event_type: string;
  event_id: string;
  subject: string;
  sequence: number;
}

/** `{ status: 'ok', command_id, aggregate_id, version, events }` */
export interface OkReply {
  status: 'ok';
  command_id: string;
  aggregate_id: string;
  aggregate_type: string;
  version: number;
  events: EventRef[];
}
