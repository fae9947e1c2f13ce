/** Live progress lines of long effects (build output) on `P.progress.<agg>.<id>`. */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Subjects } from '../domain/subjects.js';

/** One progress message. */
export interface ProgressLine {
  aggregate_type: string;
  aggregate_id: string;
  effect: string;
  line: string;
  seq: number;
  at: string;
}

/** A publisher of progress lines for one effect run. */
export function progressPublisher(nc: NatsConnection, subjects: Subjects, aggregate: string, id: string, effect: string): (line: string) => void {
  let seq = 0;
  const subject = subjects.progress(aggregate, id);
  return (line) => {
    seq++;
    const msg: ProgressLine = { aggregate_type: aggregate, aggregate_id: id, effect, line, seq, at: new Date().toISOString() };
    try {
      nc.publish(subject, JSON.stringify(msg));
    } catch {
      // progress is best effort: a closed connection must not fail the build
    }
  };
}
