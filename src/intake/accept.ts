/**
 * The accept pipeline every command and query goes through before it reaches an aggregate
 * or a read model: size, JSON, a JSON object, the shape rules (depth, `__proto__`, NUL), the
 * strict schema, the identity. Each step throws the error of the catalogue that names what
 * failed, in words a person can act on.
 */
import type { Msg } from '@nats-io/transport-node';
import type { ZodType } from 'zod';
import { IdentityInput, identityHeaders, resolveIdentity, type Identity } from '../domain/identity.js';
import { checkPayloadShape } from '../domain/payloadShape.js';
import { describeZodError, zodFields } from '../domain/validation.js';
import { InvalidJsonError, ValidationError, ensureError } from '../errors.js';

const utf8 = new TextDecoder();

/** What one kind of request accepts. */
export interface AcceptRule<P> {
  /** How messages name the request (`flake.create`, `module.get`). */
  name: string;
  /** What the limit is stated for (`commands`, `queries`). */
  noun: string;
  /** Largest payload, in bytes. */
  maxBytes: number;
  /** An empty payload is the empty object (queries) rather than an error (commands). */
  emptyIsObject: boolean;
  schema: ZodType<P>;
}

/** A request that passed every step: its validated payload and its identity. */
export interface Accepted<P> {
  payload: P;
  identity: Identity;
}

/** Run the pipeline on one message; throws the first failure. */
export function accept<P extends Record<string, unknown>>(msg: Msg, rule: AcceptRule<P>): Accepted<P> {
  const data = msg.data;
  if (data.length > rule.maxBytes) {
    throw new ValidationError(`the payload is ${data.length} bytes; ${rule.noun} are limited to ${rule.maxBytes} bytes`);
  }
  let body: unknown = {};
  if (data.length === 0) {
    if (!rule.emptyIsObject) throw new InvalidJsonError('the payload is empty: send a JSON object with the command fields');
  } else {
    try {
      body = JSON.parse(utf8.decode(data));
    } catch (e) {
      throw new InvalidJsonError(`the payload is not valid JSON (${ensureError(e).message}); send a JSON object${rule.emptyIsObject ? ' (or nothing)' : ''}`);
    }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError(`the payload must be a JSON object, got ${Array.isArray(body) ? 'an array' : body === null ? 'null' : typeof body}`);
  }
  const shape = checkPayloadShape(body);
  if (shape) throw new ValidationError(`${rule.name}: ${shape.field}: ${shape.message}`, { fields: [shape.field] });
  const result = rule.schema.safeParse(body);
  if (!result.success) throw new ValidationError(`${rule.name}: ${describeZodError(result.error)}`, { fields: zodFields(result.error) });
  const payload = result.data;
  const resolved = resolveIdentity(payload['identity'] as Parameters<typeof resolveIdentity>[0], msg.headers);
  if (!resolved.ok) throw new ValidationError(resolved.message);
  return { payload, identity: resolved.identity };
}

/**
 * The identity a refused message names — its payload's `identity` when that is well formed,
 * else the identity headers — so the error reply carries X-Correlation-ID and X-Causation-ID
 * (SPEC §3) even when another field fails; `undefined` when it names none.
 */
export function identityOf(msg: Msg, maxBytes: number): Identity | undefined {
  let given: unknown;
  if (msg.data.length > 0 && msg.data.length <= maxBytes) {
    try {
      given = (JSON.parse(utf8.decode(msg.data)) as { identity?: unknown } | null)?.identity;
    } catch {
      given = undefined;
    }
  }
  const fromPayload = IdentityInput.safeParse(given);
  if (!fromPayload.success) {
    const found = identityHeaders(msg.headers);
    if (found.messageId === undefined && found.natsMsgId === undefined) return undefined;
  }
  const resolved = resolveIdentity(fromPayload.success ? fromPayload.data : undefined, msg.headers);
  return resolved.ok ? resolved.identity : undefined;
}
