/**
 * Turns the `nats` configuration into nats.js connection options: one authentication
 * method (user/password, token, nkey seed or creds file) plus TLS (CA, client certificate
 * and key) on top of any of them. Key material is read and checked here, before any
 * attempt, so a bad file is reported as what it is and never retried.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { credsAuthenticator, errors, nkeyAuthenticator, type NodeConnectionOptions } from '@nats-io/transport-node';
import type { Config } from '../config.js';
import { ConnectionSetupError, ensureError } from '../errors.js';
import type { ConnectFailure } from '../../machines/index.js';

/** Unusable connection material (a seed, creds or TLS file): terminal, never retried. */
const SEED_RE = /^SU[A-Z2-7]{56}$/;

/** Build the options for one connection attempt (files are read afresh, so rotated credentials are picked up). */
export async function buildConnectionOptions(nats: Config['nats']): Promise<NodeConnectionOptions> {
  const options: NodeConnectionOptions = {
    servers: nats.servers,
    name: 'cim-domain-nix',
    // Every request (each JetStream store is one) would otherwise build two Error objects
    // with stack traces up front, just in case it times out: ~8 % of the CPU under load.
    // Our own logs carry the subject and correlation id of a failed request instead.
    noAsyncTraces: true,
    // Replies (and JetStream's deliveries) come to this prefix: a role may read only its own.
    inboxPrefix: nats.inboxPrefix,
  };

  if (nats.user !== undefined) {
    options.user = nats.user;
    if (nats.password !== undefined) options.pass = nats.password;
  }
  if (nats.token !== undefined) options.token = nats.token;

  if (nats.nkeySeed !== undefined) {
    const seed = SEED_RE.test(nats.nkeySeed) ? nats.nkeySeed : (await readMaterial('auth', nats.nkeySeed, 'NATS_NKEY_SEED')).trim();
    const bytes = new TextEncoder().encode(seed);
    const authenticator = nkeyAuthenticator(bytes);
    try {
      authenticator('probe'); // signs a nonce: fails now if the seed is not a user seed
    } catch (e) {
      throw new ConnectionSetupError(
        'auth',
        `NATS_NKEY_SEED does not hold a valid nkey user seed (${ensureError(e).message}); give the SU… seed or the path of a file that holds it`,
        { cause: e },
      );
    }
    options.authenticator = authenticator;
  }

  if (nats.creds !== undefined) {
    const bytes = new TextEncoder().encode(await readMaterial('auth', nats.creds, 'NATS_CREDS'));
    const authenticator = credsAuthenticator(bytes);
    try {
      authenticator('probe'); // parses the JWT and the seed
    } catch (e) {
      throw new ConnectionSetupError(
        'auth',
        `NATS_CREDS file ${nats.creds} is not a valid .creds file (${ensureError(e).message}); generate one with nsc or @nats-io/jwt`,
        { cause: e },
      );
    }
    options.authenticator = authenticator;
  }

  const { ca, cert, key } = nats.tls;
  const wantsTls = nats.servers.some((s) => s.startsWith('tls://'));
  if (ca !== undefined || cert !== undefined || key !== undefined || wantsTls) {
    const tls: NonNullable<NodeConnectionOptions['tls']> = {};
    if (ca !== undefined) tls.ca = await readMaterial('tls', ca, 'NATS_TLS_CA');
    if (cert !== undefined) tls.cert = await readMaterial('tls', cert, 'NATS_TLS_CERT');
    if (key !== undefined) tls.key = await readMaterial('tls', key, 'NATS_TLS_KEY');
    checkPem('NATS_TLS_CA', ca, tls.ca, 'certificate');
    checkPem('NATS_TLS_CERT', cert, tls.cert, 'certificate');
    checkPem('NATS_TLS_KEY', key, tls.key, 'key');
    try {
      // Checks that the key matches the certificate.
      createSecureContext({
        ...(tls.ca ? { ca: tls.ca } : {}),
        ...(tls.cert ? { cert: tls.cert } : {}),
        ...(tls.key ? { key: tls.key } : {}),
      });
    } catch (e) {
      throw new ConnectionSetupError(
        'tls',
        `the TLS files are not usable (${ensureError(e).message}); check NATS_TLS_CA, NATS_TLS_CERT and NATS_TLS_KEY: PEM files, the key matching the certificate`,
        { cause: e },
      );
    }
    options.tls = tls;
  }
  return options;
}

/** A PEM file that does not parse is reported by its setting, before any attempt. */
function checkPem(setting: string, path: string | undefined, pem: string | undefined, kind: 'certificate' | 'key'): void {
  if (path === undefined || pem === undefined) return;
  try {
    if (kind === 'certificate') new X509Certificate(pem);
    else createPrivateKey(pem);
  } catch (e) {
    throw new ConnectionSetupError(
      'tls',
      `${setting}: ${path} is not a PEM ${kind} (${ensureError(e).message}); the TLS files are not usable`,
      { cause: e },
    );
  }
}

async function readMaterial(code: 'tls' | 'auth', path: string, setting: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new ConnectionSetupError(code, `${setting}: cannot read ${path} (${ensureError(e).message}); point it at a readable file`, {
      cause: e,
    });
  }
}

/** TLS failures that retrying cannot fix. */
const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|CERT_|ERR_OSSL_|HOSTNAME_MISMATCH)/;

/** Describe why an attempt failed or a connection closed, and whether retrying can help. */
export function classifyConnectError(error: unknown): ConnectFailure {
  const chain: Error[] = [];
  let cur: unknown = error;
  while (cur instanceof Error && chain.length < 8) {
    chain.push(cur);
    cur = cur.cause;
  }
  const top = ensureError(error);
  for (const e of chain) {
    if (e instanceof ConnectionSetupError) return { message: e.message, terminal: true, code: e.code };
    if (e instanceof errors.AuthorizationError || e instanceof errors.UserAuthenticationExpiredError) {
      return {
        message: `the NATS server refused the credentials (${e.message}); check NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_NKEY_SEED or NATS_CREDS`,
        terminal: true,
        code: 'auth',
      };
    }
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TLS_CODES.test(code)) {
      return {
        message: `TLS with the NATS server failed (${code}: ${e.message}); check NATS_TLS_CA, NATS_TLS_CERT and NATS_TLS_KEY against the server's certificates`,
        terminal: true,
        code: 'tls',
      };
    }
    if (e instanceof errors.InvalidArgumentError && /tls/i.test(e.message)) {
      return {
        message: `TLS: ${e.message}; use a nats:// URL without TLS settings, or enable TLS on the server`,
        terminal: true,
        code: 'tls',
      };
    }
  }
  const codes = chain.map((e) => (e as { code?: unknown }).code).filter((c): c is string => typeof c === 'string');
  const messages = [...new Set(chain.map((e) => e.message).filter((m) => m))];
  return {
    message: messages.join(': ') || top.message || String(error),
    terminal: false,
    code: codes.includes('ECONNREFUSED') || /refused/i.test(top.message) ? 'refused' : (codes[0] ?? 'connection'),
  };
}
