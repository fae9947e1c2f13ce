/**
 * A fresh instance id: the host name reduced to subject-token characters, plus a random
 * suffix, so two processes on one host (or a restart) never share an id.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** `<host>-<8 random hex>`, one subject token (letters, digits, `_`, `-`), at most 64 characters. */
export function newInstanceId(host: string = hostname()): string {
  const clean = host.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 47) || 'instance';
  return `${clean}-${randomBytes(4).toString('hex')}`;
}
