/**
 * TLS material for tests, made with the `openssl` CLI in a temp dir: a CA, a server
 * certificate for 127.0.0.1/localhost, a client certificate (for mutual TLS), and a second,
 * unrelated CA (to prove a wrong CA is refused).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TlsFixtures {
  dir: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here. */
  otherCaFile: string;
  /** nats-server `tls { … }` block; `verify` asks for client certificates. */
  serverBlock(options?: { verify?: boolean }): string;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer };
    if (err.code === 'ENOENT') throw new Error('openssl is not installed; apt-get install -y openssl (scripts/ensure-deps.sh does this)');
    throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr?.toString() ?? String(e)}`);
  }
}

/** Generate the fixtures (≈ 0.3 s). */
export async function makeTlsFixtures(): Promise<TlsFixtures> {
  const dir = await mkdtemp(join(tmpdir(), 'cim-tls-'));
  const days = '2';
  const ca = (name: string): void =>
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.pem`,
        '-days',
        days,
        '-subj',
        `/CN=${name}`,
      ],
      dir,
    );
  ca('ca');
  ca('other-ca');
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, ext] of [
    ['server', 'server.ext'],
    ['client', 'client.ext'],
  ] as const) {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.pem`,
        '-days',
        days,
        '-extfile',
        ext,
      ],
      dir,
    );
  }
  const f = (n: string): string => join(dir, n);
  return {
    dir,
    caFile: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    otherCaFile: f('other-ca.pem'),
    serverBlock: (options = {}) =>
      `tls { cert_file: "${f('server.pem')}", key_file: "${f('server.key')}", ca_file: "${f('ca.pem')}"${
        options.verify ? ', verify: true' : ''
      }, timeout: 2 }`,
  };
}
