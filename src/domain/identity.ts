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

/** Header names, as the Rust services of the CIM ecosystem send them (and as the service writes them). */
export const IdentityHeaders = {
  messageId: 'X-Message-ID',
  natsMsgId: 'Nats-Msg-Id',
  correlationId: 'X-Correlation-ID',
  causationId: 'X-Causation-ID',
} as const;

type HeaderSlot = keyof typeof IdentityHeaders;

/** A message's headers as NATS clients hold them: name → values (`MsgHdrs` iterates this way). */
export type HeaderSource = Iterable<[string, string[]]> | undefined;

/** One identity header as it arrived: the name in the sender's spelling, and its value. */
export interface HeaderValue {
  name: string;
  value: string;
}

const SLOT_BY_NAME = new Map<string, HeaderSlot>(
  (Object.entries(IdentityHeaders) as Array<[HeaderSlot, string]>).map(([slot, name]) => [name.toLowerCase(), slot]),
);

/**
 * The identity headers of a message, their names matched without regard to letter case
 * (SPEC §10: Go's client sends `X-Correlation-Id`, others `x-correlation-id`). The first
 * non-empty value of a name wins.
 */
export function identityHeaders(headers: HeaderSource): Partial<Record<HeaderSlot, HeaderValue>> {
  const found: Partial<Record<HeaderSlot, HeaderValue>> = {};
  if (headers === undefined) return found;
  for (const [name, values] of headers) {
    const slot = SLOT_BY_NAME.get(name.toLowerCase());
    if (slot === undefined || found[slot] !== undefined) continue;
    const value = values.find((v) => v.trim() !== '')?.trim();
    if (value !== undefined) found[slot] = { name, value };
  }
  return found;
}

type IdentitySlot = 'message' | 'correlation' | 'causation';

/** Which identity field each header fills, in order of precedence. */
const HEADER_SLOTS: ReadonlyArray<readonly [IdentitySlot, HeaderSlot]> = [
  ['message', 'messageId'],
  ['message', 'natsMsgId'],
  ['correlation', 'correlationId'],
  ['causation', 'causationId'],
];

/**
 * Resolve a command's identity: the payload's `identity`, else the identity headers (any
 * letter case), else a new root. Returns an error message naming the header when a header
 * holds something that is not a UUID.
 */
export function resolveIdentity(
  fromPayload: z.output<typeof IdentityInput> | undefined,
  headers: HeaderSource,
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
  if (headers === undefined) {
    const message_id = newMessageId();
    return { ok: true, identity: { message_id, correlation_id: message_id, causation_id: message_id } };
  }
  const found = identityHeaders(headers);
  const values: Partial<Record<IdentitySlot, string>> = {};
  for (const [slot, header] of HEADER_SLOTS) {
    const h = found[header];
    if (values[slot] !== undefined || h === undefined) continue;
    if (!isUuid(h.value)) return { ok: false, message: `header ${h.name}: must be a UUID, got ${JSON.stringify(h.value.slice(0, 80))}` };
    values[slot] = h.value.toLowerCase();
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
