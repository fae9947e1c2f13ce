/**
 * The roles of deploy/nats-server.example.conf for the e2e tests: its `authorization` block as
 * it is, the passwords in the environment as the file documents, and a connection per role.
 */
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../support/serviceProcess.js';

export const PASSWORDS = {
  NIX_ADMIN_PASSWORD: 'admin-pw-e2e-1',
  NIX_DEVELOPER_PASSWORD: 'developer-pw-e2e-2',
  NIX_READER_PASSWORD: 'reader-pw-e2e-3',
  NIX_SERVICE_PASSWORD: 'service-pw-e2e-4',
} as const;

/** The `authorization { … }` block of the example file, braces matched. */
export async function exampleAuthorization(): Promise<string> {
  const text = await readFile(join(ROOT, 'deploy', 'nats-server.example.conf'), 'utf8');
  const body = text
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n');
  const start = body.indexOf('authorization {');
  if (start < 0) throw new Error('the example has no authorization block');
  let depth = 0;
  for (let i = body.indexOf('{', start); i < body.length; i++) {
    if (body[i] === '{') depth++;
    else if (body[i] === '}' && --depth === 0) return body.slice(start, i + 1);
  }
  throw new Error('unbalanced braces in the example authorization block');
}

/**
 * An address of this machine that is not loopback (the first non-internal IPv4, as
 * `hostname -I` lists it), to bind the inspector to; `0.0.0.0` when the machine has none
 * (also not loopback, and then reached as 127.0.0.1).
 */
export function nonLoopbackAddress(): { bind: string; reach: string } {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('127.')) return { bind: a.address, reach: a.address };
    }
  }
  return { bind: '0.0.0.0', reach: '127.0.0.1' };
}
