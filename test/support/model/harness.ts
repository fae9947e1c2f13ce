/**
 * The system under test for the model suite: a real nats-server, the real service in
 * process (its own prefix and workspace, the world's fixtures in it), a client connection
 * that rides out server restarts, a log of every event published on the seed subjects, and
 * a reader of the event store. Its `expect…` methods hold the service to the model's
 * predictions: replies, live events with their identity chain and headers, stored histories.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { connect, headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { pino } from 'pino';
import { expect } from 'vitest';
import { registry } from '../../../machines/index.js';
import { ENVELOPE_FIELDS } from '../../../src/domain/events.js';
import type { Identity } from '../../../src/domain/identity.js';
import { subjectsFor } from '../../../src/domain/subjects.js';
import { JetStreamEventLog, type StoredEvent } from '../../../src/store/index.js';
import { deferred, type Deferred } from '../deferred.js';
import { startNatsServer, type NatsServer } from '../natsServer.js';
import { startTestService, uniquePrefix, type TestService } from '../service.js';
import { startServiceProcess } from '../serviceProcess.js';
import { loadConfig } from '../../../src/config.js';
import { renderResource, resourceFile } from '../../../src/nix/workspaceEffects.js';
import { comparableContext, type Address, type WireCommand } from './catalogue.js';
import { replay, type ModelAggregate, type PredictedEvent, type Prediction } from './modelAggregate.js';
import { comparableFact, prepareWorkspace, type World } from './world.js';

/** A fresh identity whose three ids differ, so the chain is visible. */
export function newIdentity(): Identity {
  return { message_id: randomUUID(), correlation_id: randomUUID(), causation_id: randomUUID() };
}

/** A reply as received. */
export interface ActualReply {
  data: Record<string, unknown>;
  headers: Record<string, string>;
  /** Requests sent for it (1 without retries). */
  attempts: number;
}

/** An event as received on its seed subject. */
export interface ReceivedEvent {
  subject: string;
  event: Record<string, unknown>;
  headers: Record<string, string>;
}

const envelope = new Set<string>(ENVELOPE_FIELDS);

/** The comparable shape of a received reply. */
export function actualShape(actual: ActualReply): Record<string, unknown> {
  const got = actual.data;
  return got['status'] === 'ok'
    ? {
        status: 'ok',
        command_id: got['command_id'],
        aggregate_id: got['aggregate_id'],
        version: got['version'],
        events: ((got['events'] ?? []) as Array<Record<string, unknown>>).map((r) => ({
          event_type: r['event_type'],
          sequence: r['sequence'],
          subject: r['subject'],
        })),
      }
    : { status: got['status'], code: got['code'] };
}

/** The comparable shape of a predicted reply. */
export function predictedShape(prefix: string, address: Address, prediction: Prediction): Record<string, unknown> {
  const { reply } = prediction;
  return reply.status === 'ok'
    ? {
        status: 'ok',
        command_id: prediction.identity.message_id,
        aggregate_id: address.id,
        version: reply.version,
        events: reply.events.map((e) => ({ event_type: e.event_type, sequence: e.sequence, subject: `${prefix}.event.${e.fact}` })),
      }
    : { status: 'error', code: reply.code };
}

/** The payload fields of a domain event (envelope stripped). */
export function payloadOf(event: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(event)) if (!envelope.has(k)) out[k] = v;
  return out;
}

/** Every event published under `P.event.>`, by aggregate and sequence, duplicates (same event id) folded. */
class EventLog {
  private readonly byAggregate = new Map<string, Map<number, ReceivedEvent[]>>();
  private readonly waiters = new Map<string, Deferred<ReceivedEvent>>();
  private sub: Subscription | undefined;

  async start(nc: NatsConnection, subject: string): Promise<void> {
    this.sub = nc.subscribe(subject, { callback: (_e, m) => this.receive(m) });
    await nc.flush();
  }

  stop(): void {
    this.sub?.unsubscribe();
  }

  private receive(msg: Msg): void {
    let event: Record<string, unknown>;
    try {
      event = msg.json<Record<string, unknown>>();
    } catch {
      return;
    }
    const headers: Record<string, string> = {};
    if (msg.headers) for (const [k, v] of msg.headers) headers[k] = v[0] ?? '';
    const id = String(event['aggregate_id']);
    const seq = Number(event['sequence']);
    let bySeq = this.byAggregate.get(id);
    if (!bySeq) this.byAggregate.set(id, (bySeq = new Map()));
    const list = bySeq.get(seq) ?? [];
    const eventId = (event['identity'] as Identity | undefined)?.message_id;
    if (!list.some((r) => (r.event['identity'] as Identity | undefined)?.message_id === eventId))
      list.push({ subject: msg.subject, event, headers });
    bySeq.set(seq, list);
    const key = `${id}#${seq}`;
    const w = this.waiters.get(key);
    if (w) {
      this.waiters.delete(key);
      w.resolve(list[0]!);
    }
  }

  /** The events received with this aggregate and sequence (more than one is a defect: two events, one sequence). */
  at(id: string, seq: number): ReceivedEvent[] {
    return this.byAggregate.get(id)?.get(seq) ?? [];
  }

  /** Every sequence received for an aggregate. */
  sequences(id: string): number[] {
    return [...(this.byAggregate.get(id)?.keys() ?? [])].sort((a, b) => a - b);
  }

  /** Waits (bounded) for the event of this aggregate and sequence. */
  async wait(id: string, seq: number, timeoutMs: number): Promise<ReceivedEvent | undefined> {
    const seen = this.at(id, seq)[0];
    if (seen) return seen;
    const key = `${id}#${seq}`;
    const d = this.waiters.get(key) ?? deferred<ReceivedEvent>();
    this.waiters.set(key, d);
    const timer = delay(timeoutMs, undefined, { ref: false });
    return Promise.race([d.promise, timer]);
  }
}

/** The fake nixos-rebuild of the Nix port's tests: records its arguments, exits with $FAKE_REBUILD_EXIT. */
const FAKE_REBUILD = fileURLToPath(new URL('../nix/fake-nixos-rebuild.sh', import.meta.url));

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A stand-in NixOS host for one service: a marker file of its own (`NIX_NIXOS_MARKER`) and,
 * as `NIX_NIXOS_REBUILD`, a wrapper that runs the fake nixos-rebuild with its log in this
 * directory and the exit code the world last wrote to `exit`. The service copies its
 * environment when it starts, so the outcome is a file, not a variable; and since
 * `nixos-rebuild switch --rollback` does not name the configuration, the calls that reach
 * the host run one at a time ({@link NixosHost.run}), each with its own outcome.
 */
export class NixosHost {
  readonly marker: string;
  readonly rebuild: string;
  private readonly log: string;
  private readonly exitFile: string;
  private queue: Promise<unknown> = Promise.resolve();
  /** nixos-rebuild calls made, and how many of them failed. */
  calls = 0;
  failures = 0;

  private constructor(readonly dir: string) {
    this.marker = join(dir, 'NIXOS');
    this.rebuild = join(dir, 'nixos-rebuild');
    this.log = join(dir, 'rebuild.log');
    this.exitFile = join(dir, 'exit');
    writeFileSync(this.marker, '');
    writeFileSync(this.log, '');
    writeFileSync(this.exitFile, '0\n');
    writeFileSync(
      this.rebuild,
      `#!/bin/sh\nFAKE_REBUILD_LOG=${shellQuote(this.log)} FAKE_REBUILD_EXIT="$(cat ${shellQuote(this.exitFile)})" exec ${shellQuote(FAKE_REBUILD)} "$@"\n`,
    );
    chmodSync(this.rebuild, 0o755);
  }

  static create(): NixosHost {
    return new NixosHost(mkdtempSync(join(tmpdir(), 'cim-model-host-')));
  }

  /** The service settings that make it treat this directory as its NixOS host. */
  get env(): Record<string, string> {
    return { NIX_ACTIVATION_ENABLED: 'true', NIX_NIXOS_MARKER: this.marker, NIX_NIXOS_REBUILD: this.rebuild };
  }

  private lines(): string[] {
    return readFileSync(this.log, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0);
  }

  /**
   * Runs `send` (a command whose effect calls nixos-rebuild) with nixos-rebuild exiting
   * `exit`, after every earlier call finished; resolves with its result and the arguments of
   * the nixos-rebuild calls made meanwhile.
   */
  run<T>(exit: number, send: () => Promise<T>): Promise<{ result: T; calls: string[] }> {
    const turn = this.queue.then(async () => {
      writeFileSync(this.exitFile, `${exit}\n`);
      const before = this.lines().length;
      const result = await send();
      const calls = this.lines().slice(before);
      this.calls += calls.length;
      if (exit !== 0) this.failures += calls.length;
      return { result, calls };
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface StartOptions {
  /** Extra service environment (NIX_RESIDENT_CAP, …). */
  env?: Record<string, string>;
  /** Run the service as its own process (as `npm start` does), so it can crash for real ({@link ServiceUnderTest.crash}). */
  process?: boolean;
  /** Run on a stand-in NixOS host ({@link NixosHost}) with activation enabled. */
  nixosHost?: boolean;
  /** Label of the prefix, for logs. */
  label?: string;
}

export interface SendOptions {
  /** Send over this connection instead of the suite's client (concurrency). */
  via?: NatsConnection;
  /** Retry with the same message_id on timeouts, lost connections and `unavailable` replies, until this many ms passed. */
  retryForMs?: number;
  /** Timeout of one attempt. */
  attemptTimeoutMs?: number;
}

/** The service as the suite runs it: in this process, or as a child process that can be SIGKILLed. */
interface RunningService {
  readonly prefix: string;
  readonly workspace: string;
  readonly binaryCacheUrl: string;
  stop(): Promise<void>;
  /** SIGKILL, then start again on the same prefix, workspace and stream (process mode only). */
  crash?(): Promise<void>;
}

function inProcess(svc: TestService): RunningService {
  return { prefix: svc.prefix, workspace: svc.workspace, binaryCacheUrl: svc.config.nix.binaryCacheUrl, stop: () => svc.stop() };
}

const ready = (l: { msg?: string }) => typeof l.msg === 'string' && l.msg.startsWith('cim-domain-nix ready');

/** The service as a child process (src/main.ts, as `npm start` runs it), SIGKILLed by {@link RunningService.crash}. */
async function asProcess(server: NatsServer, env: Record<string, string>): Promise<RunningService> {
  const cwd = mkdtempSync(join(tmpdir(), 'cim-model-proc-'));
  const prefix = uniquePrefix('mp');
  const all = { NATS_URL: server.url, NIX_DOMAIN_PREFIX: prefix, NIX_WORKSPACE: join(cwd, 'workspace'), LOG_LEVEL: 'info', ...env };
  const loaded = loadConfig([], all, cwd);
  if (!loaded.ok) throw new Error(loaded.message);
  let proc = await startServiceProcess({ env: all, cwd });
  await proc.waitForLog(ready, 60_000);
  return {
    prefix,
    workspace: loaded.config.workspace,
    binaryCacheUrl: loaded.config.nix.binaryCacheUrl,
    stop: async () => {
      await proc.stop();
      rmSync(cwd, { recursive: true, force: true });
    },
    crash: async () => {
      proc.signal('SIGKILL');
      await proc.waitForExit(10_000);
      proc = await startServiceProcess({ env: all, cwd });
      await proc.waitForLog(ready, 60_000);
    },
  };
}

/** The running system under test. */
export class ServiceUnderTest {
  private constructor(
    readonly server: NatsServer,
    readonly svc: RunningService,
    readonly client: NatsConnection,
    readonly world: World,
    readonly events: EventLog,
    private readonly store: JetStreamEventLog,
    /** The stand-in NixOS host, when the service runs on one. */
    readonly host: NixosHost | undefined,
  ) {}

  /** Retries that a reply needed, over all commands (fault variant). */
  retries = 0;
  /** Commands sent. */
  commands = 0;

  static async start(options: StartOptions = {}): Promise<ServiceUnderTest> {
    const server = await startNatsServer();
    const host = options.nixosHost ? NixosHost.create() : undefined;
    const env = { ...options.env, ...host?.env };
    const svc = options.process ? await asProcess(server, env) : inProcess(await startTestService(server, { env }));
    const client = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 50, name: 'model-suite' });
    const events = new EventLog();
    await events.start(client, `${svc.prefix}.event.>`);
    const world = prepareWorkspace(svc.workspace, svc.binaryCacheUrl, host ? 'nixos' : 'plain');
    const store = await JetStreamEventLog.open(client, subjectsFor(svc.prefix), pino({ level: 'silent' }));
    return new ServiceUnderTest(server, svc, client, world, events, store, host);
  }

  get prefix(): string {
    return this.svc.prefix;
  }

  /** SIGKILL the service and start it again (a service started with `process: true`). */
  async crash(): Promise<void> {
    if (!this.svc.crash) throw new Error('this service runs in the test process: start it with { process: true } to crash it');
    this.crashes++;
    await this.svc.crash();
  }

  /** Crashes so far. */
  crashes = 0;

  /**
   * SPEC §11, "ok is a promise": every event an `ok` reply names is in the aggregate's stored
   * history, with that sequence.
   */
  async expectOkStored(address: Address, okEvents: ReadonlyArray<{ event_id: string; sequence: number; where: string }>): Promise<void> {
    if (okEvents.length === 0) return;
    const stored = new Map((await this.history(address)).map((s) => [s.event.identity.message_id, s.event.sequence]));
    for (const e of okEvents) {
      expect(stored.get(e.event_id), `${e.where}: event ${e.event_id} named by an ok reply is stored for ${address.key} as #${e.sequence}`).toBe(e.sequence);
    }
  }

  /**
   * SPEC §11: the workspace is the projection of the stream. The file of a module, overlay or
   * configuration holds what its last stored fact renders to (none once deleted), and the
   * workspace flake lists it exactly while it exists. Files are written after the reply, so
   * this waits for them (up to 30 s).
   */
  async expectWorkspaceFile(address: Address, where: string): Promise<void> {
    if (address.kind !== 'module' && address.kind !== 'overlay' && address.kind !== 'config') return;
    const kind = address.kind;
    const stored = await this.history(address);
    const field = kind === 'config' ? 'configuration' : kind;
    let body: Record<string, unknown> | undefined;
    for (const s of stored) {
      if (s.fact.endsWith('.created') || s.fact.endsWith('.updated')) body = s.event[field] as Record<string, unknown>;
      if (s.fact.endsWith('.deleted')) body = undefined;
    }
    const files = registry[kind].files;
    if (!files) return;
    const file = resourceFile(files.type, address.key);
    const expected = body === undefined ? null : renderResource(files.type, address.key, body);
    const attr = kind === 'module' ? `${address.key} = ./modules/` : kind === 'overlay' ? `${address.key} = import ./overlays/` : `${address.key} = nixpkgs.lib.nixosSystem`;
    const read = (f: string) => {
      try {
        return readFileSync(join(this.svc.workspace, f), 'utf8');
      } catch {
        return null;
      }
    };
    await expect
      .poll(() => ({ file: read(file), listed: (read('flake.nix') ?? '').includes(attr) }), {
        timeout: 30_000,
        message: `${where}: ${file} is what the stored events of ${address.key} render to, and flake.nix lists it while it exists`,
      })
      .toEqual({ file: expected, listed: expected !== null });
  }

  async stop(): Promise<void> {
    this.events.stop();
    await this.client.close().catch(() => undefined);
    await this.svc.stop();
    await this.server.dispose();
    this.host?.dispose();
  }

  /**
   * Sends a command (its identity in the payload) and resolves with the reply. The request is
   * published before this returns, so two calls in a row reach the service in that order.
   */
  send(command: WireCommand, identity: Identity, options: SendOptions = {}): Promise<ActualReply> {
    this.commands++;
    const subject = `${this.prefix}.cmd.${command.kind}.${command.action}`;
    const body = JSON.stringify({ ...command.payload, identity });
    const attemptTimeout = options.attemptTimeoutMs ?? 60_000;
    const nc = options.via ?? this.client;
    const once = () => nc.request(subject, body, { timeout: attemptTimeout, headers: natsHeaders() });
    const first = once();
    return (async () => {
      const deadline = Date.now() + (options.retryForMs ?? 0);
      let attempts = 1;
      let pending = first;
      for (;;) {
        try {
          const msg = await pending;
          const data = msg.json<Record<string, unknown>>();
          const headers: Record<string, string> = {};
          if (msg.headers) for (const [k, v] of msg.headers) headers[k] = v[0] ?? '';
          const transient = data['status'] === 'error' && data['code'] === 'unavailable';
          if (!transient || Date.now() >= deadline) return { data, headers, attempts };
        } catch (e) {
          if (Date.now() >= deadline) {
            throw new Error(
              `${command.kind}.${command.action} (${command.label}) got no reply after ${attempts} attempt(s): ${String(e)}`,
              { cause: e },
            );
          }
        }
        // A client's backoff before sending the same command (same message_id) again.
        await delay(100);
        attempts++;
        this.retries++;
        pending = once();
      }
    })();
  }

  /** Asserts that a reply is the predicted one. */
  expectReply(address: Address, prediction: Prediction, actual: ActualReply, where: string): void {
    expect(
      actualShape(actual),
      `${where}: the reply to ${prediction.label} (message ${JSON.stringify(actual.data['message'] ?? '-')})`,
    ).toEqual(predictedShape(this.prefix, address, prediction));
    expect(
      { correlation: actual.headers['X-Correlation-ID'], causation: actual.headers['X-Causation-ID'] },
      `${where}: the reply headers of ${prediction.label}`,
    ).toEqual({ correlation: prediction.identity.correlation_id, causation: prediction.identity.message_id });
  }

  /**
   * Asserts that the events a reply names arrived on their seed subjects as predicted: type,
   * sequence, payload, identity chain (correlation = the causing command's, causation = its
   * message_id, a fresh message_id = the reply's event_id) and the seed headers.
   */
  async expectEvents(address: Address, prediction: Prediction, actual: ActualReply, where: string): Promise<void> {
    if (prediction.reply.status !== 'ok') return;
    const refs = (actual.data['events'] ?? []) as Array<Record<string, unknown>>;
    for (const [i, predicted] of prediction.reply.events.entries()) {
      const received = await this.events.wait(address.id, predicted.sequence, 10_000);
      expect(
        received,
        `${where}: ${predicted.event_type} #${predicted.sequence} of ${address.key} arrives on ${this.prefix}.event.${predicted.fact}`,
      ).toBeDefined();
      const all = this.events.at(address.id, predicted.sequence);
      expect(all.length, `${where}: one event with sequence ${predicted.sequence} (no two different events)`).toBe(1);
      this.expectEvent(address, predicted, received!, where);
      expect(refs[i]?.['event_id'], `${where}: the reply names the event it stored`).toBe(
        (received!.event['identity'] as Identity).message_id,
      );
    }
  }

  private expectEvent(address: Address, predicted: PredictedEvent, received: ReceivedEvent, where: string): void {
    const e = received.event;
    const identity = e['identity'] as Identity;
    const payload = payloadOf(e);
    const schema = registry[address.kind].facts[predicted.fact]?.schema;
    const parsed = schema?.safeParse(payload);
    expect(parsed?.success, `${where}: ${predicted.event_type} matches its schema: ${JSON.stringify(parsed?.error?.issues)}`).toBe(true);
    expect(
      {
        subject: received.subject,
        event_type: e['event_type'],
        aggregate_type: e['aggregate_type'],
        aggregate_id: e['aggregate_id'],
        sequence: e['sequence'],
        correlation_id: identity.correlation_id,
        causation_id: identity.causation_id,
        fresh_id: identity.message_id !== predicted.cause.message_id && identity.message_id !== identity.correlation_id,
        data: comparableFact(predicted.fact, payload),
        headers: {
          id: received.headers['X-Event-ID'],
          correlation: received.headers['X-Correlation-ID'],
          causation: received.headers['X-Causation-ID'],
          type: received.headers['X-Event-Type'],
          aggregate: received.headers['X-Aggregate-ID'],
          domain: received.headers['X-Domain'],
        },
      },
      `${where}: event #${predicted.sequence} of ${address.key}`,
    ).toEqual({
      subject: `${this.prefix}.event.${predicted.fact}`,
      event_type: predicted.event_type,
      aggregate_type: address.kind,
      aggregate_id: address.id,
      sequence: predicted.sequence,
      correlation_id: predicted.cause.correlation_id,
      causation_id: predicted.cause.message_id,
      fresh_id: true,
      data: comparableFact(predicted.fact, predicted.data),
      headers: {
        id: identity.message_id,
        correlation: predicted.cause.correlation_id,
        causation: predicted.cause.message_id,
        type: predicted.event_type,
        aggregate: address.id,
        domain: this.prefix,
      },
    });
  }

  /**
   * The aggregate's stored history, read from the event store. Right after a server restart
   * JetStream may not answer yet: the read is tried again for up to 20 s.
   */
  async history(address: Address): Promise<StoredEvent[]> {
    const started = Date.now();
    for (;;) {
      try {
        return await this.store.read(address.kind, address.id);
      } catch (e) {
        if (Date.now() - started > 20_000)
          throw new Error(`reading the history of ${address.key} from the event store failed for 20 s: ${String(e)}`, { cause: e });
        await delay(200);
      }
    }
  }

  /**
   * Asserts that the stored history is the model's (gapless sequences 1..n, facts, causing
   * commands, payloads) and that replaying it gives the model's state.
   */
  async expectHistory(model: ModelAggregate, where: string): Promise<StoredEvent[]> {
    const { address } = model;
    const stored = await this.history(address);
    const shape = (fact: string, seq: number, command: string, correlation: string, data: Record<string, unknown>) => ({
      fact,
      seq,
      command,
      correlation,
      data: comparableFact(fact, data),
    });
    expect(
      stored.map((s) =>
        shape(s.fact, s.event.sequence, s.command_id, s.event.identity.correlation_id, payloadOf(s.event as Record<string, unknown>)),
      ),
      `${where}: the stored history of ${address.key}`,
    ).toEqual(model.history.map((e) => shape(e.fact, e.sequence, e.cause.message_id, e.cause.correlation_id, e.data)));
    expect(
      stored.map((s) => s.event.sequence),
      `${where}: gapless sequences`,
    ).toEqual(stored.map((_, i) => i + 1));
    if (!model.pending) {
      const rebuilt = replay(
        address,
        stored.map((s) => ({ fact: s.fact, data: payloadOf(s.event as Record<string, unknown>) })),
        'service',
      );
      const now = model.snapshot();
      expect(
        { value: rebuilt.value, context: comparableContext(address.kind, rebuilt.context) },
        `${where}: replaying the stored history of ${address.key} gives the model's state`,
      ).toEqual({ value: now.value, context: comparableContext(address.kind, now.context) });
    }
    return stored;
  }

  /** Queries checked (0 while `P.query.*` does not answer). */
  queryChecks = 0;
  /** Set once `P.query.*` is known to answer: the runners then check a query after every step. */
  queries = false;

  /** Whether `P.query.*` answers (read models exist); `false` while it answers `unavailable`. */
  async queriesAnswer(): Promise<boolean> {
    const msg = await this.client.request(`${this.prefix}.query.module.list`, '{}', { timeout: 5_000 });
    const data = msg.json<Record<string, unknown>>();
    return !(data['status'] === 'error' && (data['code'] === 'unavailable' || data['code'] === 'unknown_subject'));
  }

  /**
   * Asserts that `P.query.<kind>.get` (read-your-writes: `min_sequence` = the model's version)
   * answers with the record the model's state implies; `not_found` before the first fact.
   * While the service reconnects after a restart a request may find no responder or be
   * lost, and the read model may still be behind: a client asks again after a short
   * backoff (queries are idempotent) until `withinMs` passed, each time letting the service
   * wait `waitMs` for the version.
   */
  async expectQuery(model: ModelAggregate, where: string, options: { waitMs?: number; withinMs?: number } = {}): Promise<void> {
    if (!this.queries || model.pending) return;
    const { address } = model;
    const snapshot = model.snapshot();
    const version = snapshot.context['version'] as number;
    const waitMs = options.waitMs ?? 10_000;
    const withinMs = options.withinMs ?? 10_000;
    const payload = JSON.stringify({ [`${address.kind}_id`]: address.id, min_sequence: version, timeout_ms: waitMs });
    const started = Date.now();
    let answer: Record<string, unknown> | undefined;
    let last = '';
    for (let attempt = 1; ; attempt++) {
      try {
        const msg = await this.client.request(`${this.prefix}.query.${address.kind}.get`, payload, { timeout: waitMs + 1_000 });
        answer = msg.json<Record<string, unknown>>();
        if (answer['code'] !== 'timeout') break;
        last = String(answer['message']);
      } catch (e) {
        last = String(e);
      }
      if (Date.now() - started >= withinMs) {
        throw new Error(
          `${where}: ${address.kind}.get of ${address.key} (min_sequence ${version}) did not answer the model's version within ${withinMs} ms (${attempt} attempts; last: ${last})`,
        );
      }
      await delay(100);
    }
    this.queryChecks++;
    if (version === 0) {
      expect(
        { status: answer['status'], code: answer['code'] },
        `${where}: ${address.kind}.get of ${address.key}, which has no event`,
      ).toEqual({ status: 'error', code: 'not_found' });
      return;
    }
    expect(answer['status'], `${where}: ${address.kind}.get of ${address.key} (${String(answer['message'])})`).toBe('ok');
    const record = answer[address.kind] as Record<string, unknown>;
    const { expected, keys } = expectedRecord(address, snapshot);
    expect(record, `${where}: ${address.kind}.get of ${address.key} answers the state the model is in`).toMatchObject(expected);
    for (const [field, names] of Object.entries(keys)) {
      expect(Object.keys(record[field] ?? {}).sort(), `${where}: ${address.kind}.get of ${address.key}: the keys of ${field}`).toEqual(
        names,
      );
    }
  }
}

/** The part of a query record the model predicts, and the fields whose key sets it predicts. */
function expectedRecord(
  address: Address,
  snapshot: { value: string; context: Record<string, unknown> },
): { expected: Record<string, unknown>; keys: Record<string, string[]> } {
  const c = snapshot.context;
  const version = c['version'];
  switch (address.kind) {
    case 'flake': {
      const inputs = c['inputs'] as Record<string, { url: string }>;
      const outcome = (o: unknown) =>
        o === null ? null : { ok: (o as { ok: boolean }).ok, sequence: (o as { sequence: number }).sequence };
      return {
        expected: {
          flake_id: address.id,
          path: c['path'],
          description: c['description'],
          template: c['template'],
          inputs: Object.fromEntries(Object.entries(inputs).map(([n, i]) => [n, { url: i.url }])),
          last_check: outcome(c['last_check']),
          last_update: outcome(c['last_update']),
          version,
        },
        keys: { inputs: Object.keys(inputs).sort() },
      };
    }
    case 'package':
      return {
        expected: {
          package_id: address.id,
          flake_ref: c['flake_ref'],
          attribute: c['attribute'],
          state: snapshot.value,
          output_path: c['output_path'],
          builds: c['builds'],
          failures: c['failures'],
          version,
        },
        keys: { store_paths: Object.keys(c['store_paths'] as object).sort() },
      };
    case 'module':
    case 'overlay':
      return {
        expected: {
          [`${address.kind}_id`]: address.id,
          name: c['name'],
          state: snapshot.value,
          [address.kind]: c[address.kind],
          file: c['file'],
          incarnation: c['incarnation'],
          version,
        },
        keys: {},
      };
    case 'config':
      return {
        expected: {
          config_id: address.id,
          name: c['name'],
          state: snapshot.value,
          configuration: c['configuration'],
          current_generation: c['current_generation'],
          last_generation: c['last_generation'],
          activations: (c['generations'] as unknown[]).length,
          version,
        },
        keys: {},
      };
  }
}
