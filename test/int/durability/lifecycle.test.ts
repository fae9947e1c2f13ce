/**
 * Durable aggregates: a restarted service resumes with the same state; retries stay
 * exactly-once across restarts; snapshots are used, and ignored when taken with another
 * machine version; idle and surplus actors are passivated and rebuilt; two instances on
 * one stream never lose an update; events a crashed run stored but did not publish are
 * published on restart.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namedId } from '../../../src/domain/ids.js';
import { subjectsFor } from '../../../src/domain/subjects.js';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { startTestService, uniquePrefix, type TestService } from '../../support/service.js';
import { collect, request } from '../../support/collect.js';

let server: NatsServer;
let workspace: string;
const running: TestService[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  workspace = await mkdtemp(join(tmpdir(), 'cim-dur-'));
});

afterAll(async () => {
  for (const s of running) await s.stop().catch(() => undefined);
  await server?.dispose();
  await rm(workspace, { recursive: true, force: true });
});

async function start(prefix: string, env: Record<string, string> = {}): Promise<TestService> {
  const svc = await startTestService(server, { prefix, env, workspace });
  running.push(svc);
  return svc;
}

async function stop(svc: TestService): Promise<void> {
  running.splice(running.indexOf(svc), 1);
  await svc.stop();
}

const body = (n: number) => ({ options: {}, config: { port: n }, imports: [] });
const cmd = (svc: TestService, action: string, payload: Record<string, unknown>) =>
  request(svc.client, `${svc.prefix}.cmd.module.${action}`, payload);
const live = async (svc: TestService) =>
  ((await request(svc.client, 'health.cim-domain-nix', {})).data['aggregates'] as { live: number }).live;

describe('durable aggregates', () => {
  it('resumes after a restart with the same state, and answers an old retry from the store', async () => {
    const prefix = uniquePrefix('dur');
    const name = 'resume';
    let svc = await start(prefix);
    const first = { message_id: randomUUID() };
    const created = await cmd(svc, 'create', { name, module: body(0), identity: first });
    for (let i = 1; i <= 5; i++) expect((await cmd(svc, 'update', { name, module: body(i) })).data['version']).toBe(i + 1);
    await stop(svc);

    svc = await start(prefix);
    const events = await collect(svc.client, `${prefix}.event.>`);
    const retried = await cmd(svc, 'create', { name, module: body(0), identity: first });
    expect(retried.data).toEqual(created.data);
    const next = await cmd(svc, 'update', { name, module: body(6) });
    expect(next.data).toMatchObject({ status: 'ok', version: 7 });
    await expect.poll(() => events.messages.filter((m) => m.data['aggregate_id'] === namedId('module', name)).length).toBe(1);
    events.stop();
    await stop(svc);
  });

  it('rebuilds from a snapshot plus later events, and ignores a snapshot of another machine version', async () => {
    const prefix = uniquePrefix('snap');
    const name = 'snapped';
    let svc = await start(prefix, { NIX_SNAPSHOT_EVERY: '10' });
    await cmd(svc, 'create', { name, module: body(0) });
    for (let i = 1; i < 25; i++) await cmd(svc, 'update', { name, module: body(i) });
    const observer = await connect({ servers: server.url });
    const kv = await new Kvm(observer).open(subjectsFor(prefix).stateBucket);
    const key = `snap.module.${namedId('module', name)}`;
    await expect.poll(async () => (await kv.get(key))?.json<{ version: number }>().version).toBe(20);
    await stop(svc);

    svc = await start(prefix, { NIX_SNAPSHOT_EVERY: '10' });
    expect((await cmd(svc, 'update', { name, module: body(25) })).data).toMatchObject({ status: 'ok', version: 26 });
    await stop(svc);

    // A snapshot from another machine version must never be read as this one.
    const stale = (await kv.get(key))!.json<Record<string, unknown>>();
    await kv.put(key, JSON.stringify({ ...stale, machine_version: 999, version: 999, persisted: { value: 'bogus', context: {} } }));
    svc = await start(prefix, { NIX_SNAPSHOT_EVERY: '10' });
    expect((await cmd(svc, 'update', { name, module: body(26) })).data).toMatchObject({ status: 'ok', version: 27 });
    await stop(svc);
    await observer.close();
  });

  it('passivates idle actors and rebuilds them on the next command', async () => {
    const svc = await start(uniquePrefix('idle'), { NIX_PASSIVATION_IDLE_MS: '300' });
    const before = await live(svc);
    await cmd(svc, 'create', { name: 'sleepy', module: body(0) });
    await cmd(svc, 'update', { name: 'sleepy', module: body(1) });
    expect(await live(svc)).toBeGreaterThan(before);
    await expect.poll(() => live(svc), { timeout: 10_000 }).toBe(0);
    expect((await cmd(svc, 'update', { name: 'sleepy', module: body(2) })).data).toMatchObject({ status: 'ok', version: 3 });
    await stop(svc);
  });

  it('passivates 10,000 aggregates and rebuilds each with the same state and version', async () => {
    const svc = await start(uniquePrefix('tenk'), { NIX_PASSIVATION_IDLE_MS: '1000', NIX_SNAPSHOT_EVERY: '2' });
    const names = Array.from({ length: 10_000 }, (_, i) => `k${i}`);
    const inBatches = async (fn: (name: string, i: number) => Promise<{ data: Record<string, unknown> }>) => {
      const out: Array<Record<string, unknown>> = [];
      for (let i = 0; i < names.length; i += 1000) out.push(...(await Promise.all(names.slice(i, i + 1000).map((n, j) => fn(n, i + j)))).map((r) => r.data));
      return out;
    };
    const created = await inBatches((name, i) => cmd(svc, 'create', { name, module: body(i) }));
    expect(created.filter((r) => r['status'] !== 'ok')).toEqual([]);
    const updated = await inBatches((name, i) => cmd(svc, 'update', { name, module: body(i + 1) }));
    expect(updated.filter((r) => r['version'] !== 2)).toEqual([]);
    await expect.poll(() => live(svc), { timeout: 30_000 }).toBe(0);
    // Rebuilt from snapshot (taken at version 2) or events: same state (active, accepts delete), same version.
    const again = await inBatches((name) => cmd(svc, 'create', { name, module: body(0) }));
    expect(again.filter((r) => r['code'] !== 'already_exists')).toEqual([]);
    const deleted = await inBatches((name) => cmd(svc, 'delete', { name }));
    expect(deleted.filter((r) => r['version'] !== 3)).toEqual([]);
    await stop(svc);
  });

  it('keeps at most the resident cap of actors, least recently used passivated first', async () => {
    const svc = await start(uniquePrefix('cap'), { NIX_RESIDENT_CAP: '10' });
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => cmd(svc, 'create', { name: `m${i}`, module: body(i) })));
    expect(replies.every((r) => r.data['status'] === 'ok')).toBe(true);
    await expect.poll(() => live(svc), { timeout: 20_000 }).toBeLessThanOrEqual(10);
    expect((await cmd(svc, 'update', { name: 'm0', module: body(100) })).data).toMatchObject({ status: 'ok', version: 2 });
    await stop(svc);
  });

  it('keeps idle aggregates beyond the awake cap asleep in memory, and wakes them with the same state and ledger', async () => {
    const svc = await start(uniquePrefix('asleep'), { NIX_AWAKE_CAP: '5' });
    const health = async () => (await request(svc.client, 'health.cim-domain-nix', {})).data['aggregates'] as { live: number; awake: number };
    const ids = Array.from({ length: 20 }, () => ({ message_id: randomUUID() }));
    const created = await Promise.all(ids.map((identity, i) => cmd(svc, 'create', { name: `z${i}`, module: body(i), identity })));
    expect(created.every((r) => r.data['status'] === 'ok')).toBe(true);
    await expect.poll(health).toEqual({ live: 20, awake: 5 });
    // Asleep, yet resident: a retry is answered from the ledger, a new command continues the version.
    const retried = await Promise.all(ids.map((identity, i) => cmd(svc, 'create', { name: `z${i}`, module: body(i), identity })));
    expect(retried.map((r) => r.data)).toEqual(created.map((r) => r.data));
    const again = await cmd(svc, 'create', { name: 'z3', module: body(3) });
    expect(again.data).toMatchObject({ status: 'error', code: 'already_exists' });
    const updated = await Promise.all(ids.map((_, i) => cmd(svc, 'update', { name: `z${i}`, module: body(i + 100) })));
    expect(updated.map((r) => r.data['version'])).toEqual(ids.map(() => 2));
    await expect.poll(health).toEqual({ live: 20, awake: 5 });
    await stop(svc);
  });

  it('loses no update when two instances write to the same aggregates', async () => {
    const prefix = uniquePrefix('two');
    const a = await start(prefix);
    const b = await start(prefix);
    const names = Array.from({ length: 100 }, (_, i) => `shared${i}`);
    await Promise.all(names.map((name, i) => cmd(i % 2 ? a : b, 'create', { name, module: body(0) })));
    const replies = await Promise.all(
      names.flatMap((name) => [1, 2, 3, 4].map((n) => cmd(n % 2 ? a : b, 'update', { name, module: body(n) }))),
    );
    expect(replies.filter((r) => r.data['status'] !== 'ok').map((r) => r.data)).toEqual([]);
    for (const name of names.slice(0, 10)) {
      const reply = await cmd(a, 'update', { name, module: body(99) });
      expect(reply.data).toMatchObject({ status: 'ok', version: 6 });
    }
    await stop(a);
    await stop(b);
  });

  it('publishes on restart the events a crashed run stored but did not publish', async () => {
    const prefix = uniquePrefix('relay');
    let svc = await start(prefix);
    await cmd(svc, 'create', { name: 'before', module: body(0) });
    await stop(svc);
    // What a crash between storing and publishing leaves behind: a stored, unpublished event.
    const subjects = subjectsFor(prefix);
    const nc = await connect({ servers: server.url });
    const id = namedId('module', 'orphan');
    const eventId = randomUUID();
    const event = {
      identity: { message_id: eventId, correlation_id: eventId, causation_id: eventId },
      event_type: 'ModuleCreated',
      aggregate_type: 'module',
      aggregate_id: id,
      sequence: 1,
      occurred_at: new Date().toISOString(),
      name: 'orphan',
      module: body(0),
      file: 'modules/orphan.nix',
    };
    const h = natsHeaders();
    h.set('X-Fact', 'module.created');
    h.set('X-Command-ID', eventId);
    await jetstream(nc).publish(subjects.store('module', id), JSON.stringify(event), { headers: h });
    const seen = await collect(nc, `${prefix}.event.module.created`);
    svc = await start(prefix);
    await expect.poll(() => seen.messages.find((m) => m.headers['X-Event-ID'] === eventId)).toBeDefined();
    expect((await cmd(svc, 'update', { name: 'orphan', module: body(1) })).data).toMatchObject({ status: 'ok', version: 2 });
    seen.stop();
    await nc.close();
    await stop(svc);
  });
});
