/**
 * The partition router's bus on NATS (src/runtime/partitionRouter.ts): a forward is a plain
 * publish of the message's own payload and headers with the client's reply subject, so the
 * owner's answer goes straight to the client; an instance listens on `P.route.<its id>.>` (no
 * queue group: the subject names it) and hands each forwarded command to the command intake as
 * a {@link ForwardedMsg}: the original command subject, the hops so far, the message as received.
 */
import type { Msg, MsgHdrs, NatsConnection, Payload, PublishOptions } from '@nats-io/transport-node';
import type { Subjects } from '../domain/subjects.js';
import type { Routable, RouteBus } from '../runtime/partitionRouter.js';

/** A command that another instance forwarded here: its original subject, and how often it was forwarded. */
export class ForwardedMsg implements Msg {
  readonly sid: number;
  readonly data: Uint8Array;
  readonly reply?: string;
  readonly headers?: MsgHdrs;

  constructor(
    readonly received: Msg,
    readonly subject: string,
    readonly hops: number,
  ) {
    this.sid = received.sid;
    this.data = received.data;
    if (received.reply !== undefined) this.reply = received.reply;
    if (received.headers !== undefined) this.headers = received.headers;
  }

  respond(payload?: Payload, opts?: PublishOptions): boolean {
    return this.received.respond(payload, opts);
  }

  json<T>(reviver?: Parameters<Msg['json']>[0]): T {
    return this.received.json<T>(reviver);
  }

  string(): string {
    return this.received.string();
  }
}

/** The bus on the current connection (`connection()` returns the one in use, also after it was replaced). */
export function natsRouteBus(connection: () => NatsConnection, subjects: Subjects): RouteBus<Msg> {
  return {
    forward(subject, routable: Routable) {
      // The router passes on only what this bus or the command intake gave it: NATS messages.
      const msg = routable as Msg;
      connection().publish(subject, msg.data, {
        ...(msg.reply !== undefined ? { reply: msg.reply } : {}),
        ...(msg.headers !== undefined ? { headers: msg.headers } : {}),
      });
    },
    listen(subject, handler) {
      const sub = connection().subscribe(subject, {
        callback: (err, msg: Msg) => {
          if (err) return;
          const routed = subjects.parseRouted(msg.subject);
          // Not one of ours (someone published here by hand): the intake answers it as an unknown subject.
          handler(routed ? new ForwardedMsg(msg, routed.command, routed.hops) : msg);
        },
      });
      return () => sub.drain().catch(() => undefined);
    },
  };
}
