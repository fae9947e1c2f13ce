/**
 * Operator-mode (decentralised JWT) auth for tests: an operator, an account with JetStream
 * and a user, signed with @nats-io/jwt; the server trusts the operator and has the account
 * preloaded (memory resolver). The user's `.creds` file is what NATS_CREDS points at.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt';

export interface OperatorSetup {
  /** Config text for the test launcher (`operator`, `resolver`, `resolver_preload`). */
  serverConfig: string;
  /** A valid user's creds file. */
  credsFile: string;
  /** Creds of a user signed by an account the server does not know. */
  strangerCredsFile: string;
  /** A file that is not a creds file at all. */
  garbageCredsFile: string;
}

export async function makeOperatorSetup(): Promise<OperatorSetup> {
  const dir = await mkdtemp(join(tmpdir(), 'cim-operator-'));
  const operator = createOperator();
  const operatorJwt = await encodeOperator('cim-test-operator', operator);

  const account = createAccount();
  const accountJwt = await encodeAccount(
    'cim-test-account',
    account,
    {
      // Every limit spelled out: a partial set leaves the others at 0 (no connections at all).
      limits: {
        conn: -1,
        subs: -1,
        data: -1,
        payload: -1,
        imports: -1,
        exports: -1,
        wildcards: true,
        leaf: -1,
        mem_storage: -1,
        disk_storage: -1,
        streams: -1,
        consumer: -1,
      },
    },
    { signer: operator },
  );
  const user = createUser();
  const userJwt = await encodeUser('cim-test-user', user, account);
  const credsFile = join(dir, 'user.creds');
  await writeFile(credsFile, fmtCreds(userJwt, user), { mode: 0o600 });

  // Signed by an account the server never heard of: a refusal, not a retry.
  const stranger = createAccount();
  const strangerUser = createUser();
  const strangerJwt = await encodeUser('stranger', strangerUser, stranger);
  const strangerCredsFile = join(dir, 'stranger.creds');
  await writeFile(strangerCredsFile, fmtCreds(strangerJwt, strangerUser), { mode: 0o600 });

  const garbageCredsFile = join(dir, 'garbage.creds');
  await writeFile(garbageCredsFile, 'this is not a creds file\n');

  const serverConfig = [
    `operator: ${operatorJwt}`,
    'resolver: MEMORY',
    `resolver_preload: { ${account.getPublicKey()}: ${accountJwt} }`,
  ].join('\n');
  return { serverConfig, credsFile, strangerCredsFile, garbageCredsFile };
}
