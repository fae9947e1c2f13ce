/** The error catalogue's reply mapping: what a client is told for each kind of failure. */
import { errors as natsErrors } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { UnavailableError, ValidationError, toErrorReply } from '../../src/errors.js';

describe('toErrorReply', () => {
  it('answers a NATS request that got no answer in time as unavailable (retry), not as a bug', () => {
    const reply = toErrorReply(new natsErrors.TimeoutError());
    expect(reply).toMatchObject({ status: 'error', code: 'unavailable' });
    expect(reply.message).toMatch(/send it again with the same message_id/);
  });

  it('keeps a domain error as it is and anything else as internal', () => {
    expect(toErrorReply(new UnavailableError('gone'))).toEqual({ status: 'error', code: 'unavailable', message: 'gone' });
    expect(toErrorReply(new ValidationError('bad', { fields: ['name'] }))).toMatchObject({ code: 'validation', details: { fields: ['name'] } });
    expect(toErrorReply(new Error('boom'))).toEqual({ status: 'error', code: 'internal', message: 'internal error: boom' });
  });
});
