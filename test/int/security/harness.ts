/**
 * The running service over NATS as a hostile client sees it, plus the checks every refusal
 * must pass: the reply's code, a message naming the field, an error-topic record with the
 * original payload, and nothing stored in the event stream.
 */
import { spawnSync } from 'node:child_process';
import { jetstreamManager } from '@nats-io/jetstream';
import { expect } from 'vitest';
import { subjectsFor } from '../../../src/domain/subjects.js';
import { collect, request, type Collector } from '../../support/collect.js';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { nonce, shellFlake, write } from '../../support/nix/workspace.js';
import { startTestService, type TestService } from '../../support/service.js';

export const ATTR = 'packages.x86_64-linux.default';

export interface Harness {
  server: NatsServer;
  svc: TestService;
  errors: Collector;
  /** Send a command; the decoded reply. */
  cmd(command: string, body: unknown, timeout?: number): Promise<Record<string, unknown>>;
  /** Events stored in the prefix's stream. */
  stored(): Promise<number>;
  stop(): Promise<void>;
}

/** A nats-server, the service on it (with `env` settings) and a collector of its error topic. */
export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const server = await startNatsServer();
  const svc = await startTestService(server, { env });
  const errors = await collect(svc.client, `${svc.prefix}.error.>`);
  const jsm = await jetstreamManager(svc.client);
  const stream = subjectsFor(svc.prefix).eventStream;
  return {
    server,
    svc,
    errors,
    cmd: async (command, body, timeout = 120_000) => (await request(svc.client, `${svc.prefix}.cmd.${command}`, body, { timeout })).data,
    stored: async () => (await jsm.streams.info(stream)).state.messages,
    stop: async () => {
      errors.stop();
      await svc.stop();
      await server.dispose();
    },
  };
}

/**
 * Sends `body` to `command` and asserts the refusal: `code`, a message that matches `names`
 * (the field), an error-topic record on `P.error.cmd.<agg>.<action>` carrying this very
 * payload, and no event stored.
 */
export async function expectRefused(
  h: Harness,
  command: string,
  body: Record<string, unknown>,
  code: string,
  names: RegExp,
): Promise<string> {
  const [agg, action] = command.split('.') as [string, string];
  const storedBefore = await h.stored();
  const errorsBefore = h.errors.messages.length;
  const sent = JSON.stringify(body);
  const reply = await h.cmd(command, body);
  expect(reply, `${command} ${sent}`).toMatchObject({ status: 'error', code });
  const message = String(reply['message']);
  expect(message, `${command} ${sent}`).toMatch(names);
  const subject = `${h.svc.prefix}.error.cmd.${agg}.${action}`;
  const recorded = () =>
    h.errors.messages
      .slice(errorsBefore)
      .find((m) => m.subject === subject && Buffer.from(String(m.data['payload_base64']), 'base64').toString('utf8') === sent);
  await expect.poll(recorded, { message: `an error-topic record of ${command} ${sent}` }).toBeDefined();
  expect(recorded()?.data['code']).toBe(code);
  expect(await h.stored(), `no event stored for ${command} ${sent}`).toBe(storedBefore);
  return message;
}

/** A flake in the workspace written by hand (committed to git), whose package runs `script`. */
export function handFlake(workspace: string, dir: string, script = 'echo ok > $out'): void {
  const path = `${workspace}/${dir}`;
  write(`${path}/flake.nix`, shellFlake(script, nonce()));
  spawnSync('git', ['init', '-q'], { cwd: path });
  spawnSync('git', ['add', 'flake.nix'], { cwd: path });
}
