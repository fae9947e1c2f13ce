/**
 * Service-error headers (ADR-32, SPEC §10): every reply code has its number, and the
 * message becomes one header value whatever it holds (a nix log tail has line breaks).
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, SERVICE_ERROR_STATUS, serviceErrorStatus } from '../../../src/errors.js';
import { replyHeaders } from '../../../src/intake/errorTopic.js';

const utf8 = new TextDecoder();

describe('service errors', () => {
  it('gives every reply code the number of SPEC §10, and 500 to a code outside the catalogue', () => {
    expect(SERVICE_ERROR_STATUS).toEqual({
      invalid_json: 400,
      validation: 400,
      unknown_subject: 404,
      not_found: 404,
      already_exists: 409,
      invalid_transition: 409,
      conflict: 409,
      forbidden: 403,
      unavailable: 503,
      timeout: 504,
      nix_failed: 500,
      internal: 500,
    });
    expect(Object.keys(SERVICE_ERROR_STATUS).sort()).toEqual(Object.values(ErrorCode).sort());
    expect(serviceErrorStatus('something_new')).toBe(500);
    expect(serviceErrorStatus('__proto__')).toBe(500);
  });

  it('puts the message on one line, keeps the correlation headers, and writes a valid header block', () => {
    const message = 'nix build failed (exit 1):\r\nerror: builder failed\n\u0000tail';
    const h = replyHeaders({ message_id: 'm', correlation_id: 'c', causation_id: 'x' }, { status: 'error', code: 'nix_failed', message });
    expect(h.get('Nats-Service-Error-Code')).toBe('500');
    expect(h.get('Nats-Service-Error')).toBe('nix build failed (exit 1): error: builder failed tail');
    expect(h.get('X-Correlation-ID')).toBe('c');
    expect(h.get('X-Causation-ID')).toBe('m');
    const block = utf8.decode((h as unknown as { encode(): Uint8Array }).encode());
    expect(block.split('\r\n').filter(Boolean)).toHaveLength(5);
  });

  it('cuts a very long message in the header (the body keeps all of it), and has no service-error headers on success', () => {
    const h = replyHeaders(undefined, { status: 'error', code: 'validation', message: 'x'.repeat(5000) });
    expect(h.get('Nats-Service-Error').length).toBe(1024);
    expect(h.get('X-Correlation-ID')).toBe('');
    const ok = replyHeaders({ message_id: 'm', correlation_id: 'c', causation_id: 'm' });
    expect(ok.has('Nats-Service-Error-Code')).toBe(false);
  });
});
