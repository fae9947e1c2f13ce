/**
 * The CLI behind a reader that goes away, as in `cim-domain-nix health | head -5`: it stops
 * quietly (exit code of the command, 0 here; no stack trace, no EPIPE on stderr) instead of
 * crashing on the closed pipe.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { startTestService, type TestService } from '../../support/service.js';
import { spawnCli } from './cliProcess.js';

let server: NatsServer;
let svc: TestService;
let conn: Record<string, string>;

beforeAll(async () => {
  server = await startNatsServer();
  svc = await startTestService(server);
  conn = { NATS_URL: server.url, NIX_DOMAIN_PREFIX: svc.prefix };
});

afterAll(async () => {
  await svc?.stop();
  await server?.dispose();
});

function expectQuiet(stderr: string): void {
  expect(stderr).not.toMatch(/EPIPE|Error:|\n\s+at /);
}

describe('cli: a reader that closes early', () => {
  it('health into a pipe closed before it writes: exit 0, no stack trace', async () => {
    const cli = spawnCli(['health'], conn);
    // The reader is gone before the CLI has connected, let alone written.
    cli.child.stdout!.destroy();
    const r = await cli.done;
    expectQuiet(r.stderr);
    expect(r.code).toBe(0);
  });

  it('watch into a reader that takes one line and closes: exit 0 at the next line, no stack trace', async () => {
    const cli = spawnCli(['watch', '--json'], conn);
    await cli.waitFor(/watching /);
    const publish = (n: number): void =>
      svc.client.publish(`${svc.prefix}.event.module.created`, JSON.stringify({ event_type: 'ModuleCreated', n }));
    publish(1);
    await cli.waitFor(/"n":1/, 'stdout');
    const out = cli.child.stdout!;
    out.destroy();
    if (!out.closed) await once(out, 'close');
    // The next line meets the closed pipe.
    publish(2);
    const r = await cli.done;
    expectQuiet(r.stderr);
    expect(r.code).toBe(0);
  });
});
