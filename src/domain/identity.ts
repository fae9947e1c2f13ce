/**
 * The identity triple of SPEC §3: `message_id`, `correlation_id`, `causation_id`.
 * Taken from the payload, else from the request headers, else minted as a root.
 */
import { z } from 'zod';
import { isUuid, newMessageId } from './ids.js';

/** The identity every command and event carries. */
export interface Identity {
  message_id: string;
  correlation_id: string;
  causation_id: string;
}

const UuidField = z.string().refine(isUuid, 'must be a UUID');

/** `identity` as a command may send it: message_id required, the others default to it. */
export const IdentityInput = z.strictObject({
  message_id: UuidField,
  correlation_id: UuidField.optional(),
  causation_id: UuidField.optional(),
});

/** Header names, as the Rust services of the CIM ecosystem send them. */
export const IdentityHeaders = {
  messageId: 'X-Message-ID',
  natsMsgId: 'Nats-Msg-Id',
  correlationId: 'X-Correlation-ID',
  causationId: 'X-Causation-ID',
} as const;

export type HeaderLookup = (name: string) => string | undefined;

/**
 * Resolve a command's identity. Returns an error message naming the header when a header
 * holds something that is not a UUID.
 */
export function resolveIdentity(
  fromPayload: z.output<typeof IdentityInput> | undefined,
  header: HeaderLookup,
): { ok: true; identity: Identity } | { ok: false; message: string } {
  if (fromPayload) {
    const message_id = fromPayload.message_id;
    return {
      ok: true,
      identity: {
        message_id,
        correlation_id: fromPayload.correlation_id ?? message_id,
        causation_id: fromPayload.causation_id ?? message_id,
      },
    };
  }
  const values: Partial<Record<'message' | 'correlation' | 'causation', string>> = {};
  const pairs: Array<[keyof typeof values, string]> = [
    ['message', IdentityHeaders.messageId],
    ['message', IdentityHeaders.natsMsgId],
    ['correlation', IdentityHeaders.correlationId],
    ['causation', IdentityHeaders.causationId],
  ];
  for (const [slot, name] of pairs) {
    if (values[slot] !== undefined) continue;
    const v = header(name)?.trim();
    if (v === undefined || v === '') continue;
    if (!isUuid(v)) return { ok: false, message: `header ${name}: must be a UUID, got ${JSON.stringify(v.slice(0, 80))}` };
    values[slot] = v.toLowerCase();
  }
  const message_id = values.message ?? newMessageId();
  return {
    ok: true,
    identity: {
      message_id,
      correlation_id: values.correlation ?? message_id,
      causation_id: values.causation ?? message_id,
    },
  };
}

/** Identity of an event caused by the command with `cause`. */
export function eventIdentity(cause: Identity): Identity {
  return { message_id: newMessageId(), correlation_id: cause.correlation_id, causation_id: cause.message_id };
}
