/**
 * Model-based tests of the service (issue 8): the aggregate machines are the model, the
 * running service over real NATS is the system under test. In order:
 *
 * 1. paths generated from every machine with xstate/graph, run against the service;
 * 2. random command sequences over several aggregates (fast-check);
 * 3. commands sent in parallel to one aggregate linearise;
 * 4. the random sequences again while the NATS server restarts and the service is SIGKILLed
 *    (every `ok` stored, the workspace the stream's projection, after every run);
 * 5. the coverage table, which fails the suite when a state or transition is not covered.
 *
 * One file, so one process holds the coverage of all of them. See docs/model-tests.md.
 */
import fc from 'fast-check';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateKinds, type AggregateKind } from '../../machines/index.js';
import { setTimeout as delay } from 'node:timers/promises';
import { addressFor, samples, wireCommand } from '../support/model/catalogue.js';
import { checkRunEnd, commandArbitraries, newRun, RUN_AGGREGATES, type RunReal } from '../support/model/commands.js';
import { concurrentCase } from '../support/model/linearize.js';
import { Coverage, coverage } from '../support/model/coverage.js';
import { FAILURE, machinePaths, pathsToRun } from '../support/model/graph.js';
import { newIdentity, ServiceUnderTest } from '../support/model/harness.js';
import type { ModelAggregate } from '../support/model/modelAggregate.js';
import { pool, runPathOnService } from '../support/model/runner.js';
import { fcParameters, LONG, RUNS, SEED, tally } from '../support/model/settings.js';
import { pureWorld } from '../support/model/world.js';

let sut: ServiceUnderTest;
/** Contributions the coverage gate needs (set when they passed). */
const contributed = new Set<string>();
const CONTRIBUTORS = [...aggregateKinds.map((k) => `paths:${k}`), 'paths:package:bad', 'paths:config:nixos host'];
let concurrencyRuns = 0;
/** Long runs outgrow the model project's 120 s test timeout; CI runs keep it. */
const LONG_TIMEOUT = LONG ? 60 * 60_000 : undefined;
/** Where each service path ended, for the query check. */
const ends: ModelAggregate[] = [];
/** Queries checked by services other than `sut`. */
let otherQueryChecks = 0;

beforeAll(async () => {
  console.log(`model suite: seed ${SEED}${LONG ? ' (long run)' : ''}; replay with MODEL_SEED=${SEED}`);
  sut = await ServiceUnderTest.start();
  sut.queries = await sut.queriesAnswer();
});

afterAll(async () => {
  await sut?.stop();
});

const variants: Array<{ kind: AggregateKind; variant: 'ok' | 'bad'; name: string }> = [
  ...aggregateKinds.map((kind) => ({ kind, variant: 'ok' as const, name: kind })),
  { kind: 'package', variant: 'bad', name: 'package:bad' },
];

describe('paths from the machines (xstate/graph)', () => {
  for (const { kind, variant, name } of variants) {
    const label = variant === 'bad' ? `the ${kind} machine, with a package whose build fails,` : `the ${kind} machine`;
    it(
      `runs the edge, shortest and simple paths of ${label} against the service`,
      async () => {
        const graph = machinePaths(kind, addressFor(kind, 'graph', pureWorld(), variant), pureWorld(), RUNS.simplePaths);
        const paths = pathsToRun(graph);
        console.log(
          `${name}: ${graph.stats.states} abstract states, ${graph.stats.edges} edges, ${graph.stats.simpleTotal} simple paths; running ${paths.length} paths, ${paths.reduce((n, p) => n + p.length, 0)} steps`,
        );
        expect(paths.length).toBeGreaterThan(0);
        await pool(paths, 4, async (labels, i) => {
          const address = addressFor(kind, `p${i}`, sut.world, variant, i);
          ends.push(await runPathOnService(sut, address, labels, `${name} path #${i + 1}`));
          tally.sequences++;
          tally.steps += labels.filter((l) => !l.startsWith('⟨')).length;
        });
        contributed.add(`paths:${name}`);
      },
      LONG_TIMEOUT,
    );
  }

  describe('on a NixOS host', () => {
    // A second service that takes a marker file of its own for /etc/NIXOS and the fake
    // nixos-rebuild, with activation enabled: activations and rollbacks run nixos-rebuild,
    // which succeeds or fails as the path says (the graph offers both outcomes). It keeps one
    // aggregate resident while four paths run, so it rebuilds most configurations from their
    // events — a failed activation's ConfigActivationFailed included — before their next command.
    let nixos: ServiceUnderTest;
    beforeAll(async () => {
      nixos = await ServiceUnderTest.start({ nixosHost: true, env: { NIX_RESIDENT_CAP: '1' } });
      nixos.queries = sut.queries;
    });
    afterAll(async () => {
      otherQueryChecks += nixos?.queryChecks ?? 0;
      await nixos?.stop();
    });

    it(
      'runs the edge, shortest and simple paths of the config machine against a service whose nixos-rebuild succeeds or fails as the path says',
      async () => {
        const world = pureWorld('nixos');
        const graph = machinePaths('config', addressFor('config', 'graph', world), world, RUNS.simplePaths);
        const paths = pathsToRun(graph);
        console.log(
          `config on a NixOS host: ${graph.stats.states} abstract states, ${graph.stats.edges} edges (${graph.retries.length} of them a failing nixos-rebuild, each also retried), ${graph.stats.simpleTotal} simple paths; running ${paths.length} paths, ${paths.reduce((n, p) => n + p.length, 0)} steps`,
        );
        expect(graph.retries.length).toBeGreaterThan(0);
        // Every failure is followed by a step: the aggregate must go on as the model after it.
        expect(paths.filter((p) => p.at(-1) === FAILURE)).toEqual([]);
        await pool(paths, 4, async (labels, i) => {
          const address = addressFor('config', `n${i}`, nixos.world, 'ok', i);
          ends.push(await runPathOnService(nixos, address, labels, `config (NixOS host) path #${i + 1}`));
          tally.sequences++;
          tally.steps += labels.filter((l) => !l.startsWith('⟨')).length;
        });
        const host = nixos.host!;
        console.log(`config on a NixOS host: ${host.calls} nixos-rebuild calls, ${host.failures} of them failing`);
        expect(host.failures).toBeGreaterThan(0);
        expect(host.calls).toBeGreaterThan(host.failures);
        contributed.add('paths:config:nixos host');
      },
      LONG_TIMEOUT,
    );
  });

  it('checked nix.query.<aggregate>.get after every step of every path', () => {
    expect(sut.queries).toBe(true);
    expect(sut.queryChecks + otherQueryChecks).toBeGreaterThanOrEqual(ends.length);
  });
});

describe('random command sequences (fast-check)', () => {
  // A second service that keeps at most two aggregates resident and snapshots every three
  // events: most commands find their aggregate passivated and rebuild it from a snapshot and
  // the events after it, so rehydration is held to the model too.
  let passivating: ServiceUnderTest;
  let connections: NatsConnection[] = [];
  beforeAll(async () => {
    passivating = await ServiceUnderTest.start({ env: { NIX_RESIDENT_CAP: '2', NIX_SNAPSHOT_EVERY: '3' } });
    passivating.queries = sut.queries;
    connections = await Promise.all([0, 1, 2].map(() => connect({ servers: passivating.server.url, name: 'model-parallel' })));
  });
  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close()));
    await passivating?.stop();
  });

  it(
    `runs ${RUNS.random} random sequences of up to ${RUNS.randomCommands} commands over ${RUN_AGGREGATES.length} aggregates against the service (two resident, snapshots every 3 events) and the pure machines`,
    async () => {
      const real: RunReal = { sut: passivating, send: {}, liveEvents: true };
      await fc.assert(
        fc.asyncProperty(fc.commands(commandArbitraries(false), { maxCommands: RUNS.randomCommands, size: 'medium' }), async (commands) => {
          const model = newRun(passivating, 'r');
          await fc.asyncModelRun(() => ({ model, real }), commands);
          await checkRunEnd(model, real, 'random');
          tally.sequences++;
        }),
        fcParameters(RUNS.random),
      );
    },
    LONG_TIMEOUT,
  );

  it("answers a retry with the original reply after the aggregate was rebuilt from a snapshot taken on that command's event", async () => {
    // Snapshots every 3 events, two aggregates resident: the third event of the module is
    // snapshotted, then two other aggregates push the module out; the retry rebuilds it.
    const model = newRun(passivating, 's');
    const [flake, , , , module, overlay] = model.aggregates;
    const run = async (m: ModelAggregate, label: string) => {
      const command = wireCommand(m.address, label, passivating.world);
      const identity = newIdentity();
      const prediction = m.commandAndSettle(command, identity);
      passivating.expectReply(m.address, prediction, await passivating.send(command, identity), `${m.address.kind} ${label}`);
      return { command, identity, prediction };
    };
    await run(module!, 'create');
    await run(module!, 'update');
    const third = await run(module!, 'update');
    await run(overlay!, 'create');
    await run(flake!, 'check');
    const retry = await passivating.send(third.command, third.identity);
    passivating.expectReply(module!.address, third.prediction, retry, 'the retried third command of the module');
    await passivating.expectHistory(module!, 'after the retry');
  });

  it(
    `finds, for commands sent in parallel to one aggregate, a sequential order that explains every reply and the gapless history (${RUNS.concurrency} runs)`,
    async () => {
      const kinds = RUN_AGGREGATES.map((a, i) => ({ ...a, i }));
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...kinds).chain((agg) => {
            const label = fc.constantFrom(...samples[agg.kind].map((x) => x.label));
            return fc.record({
              agg: fc.constant(agg),
              prefix: fc.array(label, { maxLength: 4 }),
              parallel: fc.array(label, { minLength: 2, maxLength: 4 }),
            });
          }),
          async ({ agg, prefix, parallel }) => {
            const address = addressFor(agg.kind, `c${++concurrencyRuns}`, passivating.world, agg.variant, agg.n);
            await concurrentCase(passivating, connections, address, prefix, parallel);
            tally.sequences++;
          },
        ),
        fcParameters(RUNS.concurrency),
      );
    },
    LONG_TIMEOUT,
  );
});

describe('random command sequences while the NATS server restarts and the service is SIGKILLed', () => {
  let faulty: ServiceUnderTest;
  beforeAll(async () => {
    // The service runs as its own process here, so a crash is a real SIGKILL.
    faulty = await ServiceUnderTest.start({ process: true });
    // Queries are held to the model after restarts by the test below; here the replies and the stored histories.
    faulty.queries = false;
  });
  afterAll(async () => {
    await faulty?.stop();
  });

  it(
    `runs ${RUNS.faults} random sequences of up to ${RUNS.faultCommands} commands with server restarts and service SIGKILLs at random points, retrying with the same message_id, and ends in the model's state: every ok stored, the workspace the stream's projection`,
    async () => {
      const real: RunReal = { sut: faulty, send: { retryForMs: 60_000, attemptTimeoutMs: 2_000 }, liveEvents: false };
      await fc.assert(
        fc.asyncProperty(fc.commands(commandArbitraries(true, true), { maxCommands: RUNS.faultCommands, size: 'medium' }), async (commands) => {
          const model = newRun(faulty, 'f');
          await fc.asyncModelRun(() => ({ model, real }), commands);
          await checkRunEnd(model, real, 'faults');
          tally.sequences++;
        }),
        fcParameters(RUNS.faults),
      );
      tally.retries += faulty.retries;
      console.log(`fault variant: ${tally.restarts} server restarts, ${tally.crashes} service SIGKILLs, ${faulty.retries} retried requests`);
    },
    LONG_TIMEOUT,
  );

  it('answers read-your-writes queries within 5 s after the NATS server restarted under a command in flight', async () => {
    expect(sut.queries).toBe(true);
    faulty.queries = true;
    try {
      // The scenario the random sequences found: a restart 2 ms after a command went out, then
      // commands to other aggregates, whose reads must see them (the model's state) promptly.
      for (let round = 0; round < 4; round++) {
        const model = newRun(faulty, 'q');
        const [flake, , , , module, , config] = model.aggregates;
        const send = (m: ModelAggregate, label: string) => {
          const command = wireCommand(m.address, label, faulty.world);
          const identity = newIdentity();
          const reply = faulty.send(command, identity, { retryForMs: 30_000, attemptTimeoutMs: 2_000 });
          return { reply, prediction: m.commandAndSettle(command, identity) };
        };
        const inFlight = send(module!, 'create');
        await delay(2);
        await faulty.server.restart();
        tally.restarts++;
        for (const [m, label] of [
          [module!, 'create'],
          [flake!, 'create'],
          [config!, 'create'],
        ] as const) {
          const { reply, prediction } = m === module ? inFlight : send(m, label);
          faulty.expectReply(m.address, prediction, await reply, `round ${round + 1}: ${m.address.kind} ${label}`);
          await faulty.expectQuery(m, `round ${round + 1}: right after ${m.address.kind} ${label}`, { waitMs: 1_000, withinMs: 5_000 });
        }
      }
    } finally {
      faulty.queries = false;
    }
  });
});

describe('coverage', () => {
  it('names every transition nothing exercised (the gate can fail)', () => {
    const fresh = new Coverage();
    const gaps = fresh.gaps();
    const transitions = aggregateKinds.reduce((n, k) => n + fresh.inventory[k].transitions.length, 0);
    expect(gaps.filter((g) => g.startsWith('transition ')).length).toBe(transitions);
    expect(gaps.filter((g) => g.startsWith('state ')).length).toBe(
      aggregateKinds.reduce((n, k) => n + fresh.inventory[k].states.length, 0),
    );
    expect(gaps).toContain(
      'transition flake:none · flake.create → creating was not exercised against the service: add a command sample, a world outcome or a path that takes it',
    );
    expect(gaps).toContain(
      'transition config:activating · config.activation_failed [lastBoot] → boot_ready was not exercised against the service: add a command sample, a world outcome or a path that takes it',
    );
  });

  it('covers every state and every transition of every aggregate machine (skipped when the run is filtered or a path test failed)', (ctx) => {
    const missing = CONTRIBUTORS.filter((c) => !contributed.has(c));
    const t = coverage.totals();
    console.log(
      `\nmodel coverage (${tally.sequences} sequences, ${tally.steps} commands against the service): ${t.serviceStates}/${t.states} states, ${t.serviceTransitions}/${t.transitions} transitions\n${coverage.table()}`,
    );
    if (missing.length > 0) ctx.skip();
    expect(coverage.gaps()).toEqual([]);
  });
});
