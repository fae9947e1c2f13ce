/**
 * Resume after the NATS server returns: the server is restarted (same ports, same data),
 * and a client that reconnects quickly sends a command again and again until one answers
 * `ok`. The figure is the time from the server listening again to that first `ok`.
 */
import { connect } from '@nats-io/transport-node';
import { commandFleet, createFleet } from './commands.js';
import { removePrefixState, startBenchService, stopBenchService, type BenchContext } from './context.js';
import { judge, type Figure } from './figures.js';
import { benchName, moduleUpdatePayload } from './payloads.js';
import { TARGETS } from './options.js';
import { median } from './stats.js';

export interface ResumeRound {
  /** Server stop → listening again (ms). */
  outageMs: number;
  /** Listening again → first `ok` reply (ms; the first reply like the one before the restart when that was not ok); null when none came before the deadline. */
  resumeMs: number | null;
  attempts: number;
  /** What the attempts before the first `ok` got, by code. */
  failures: Record<string, number>;
}

export interface ResumeResults {
  rounds: ResumeRound[];
  figures: Figure[];
}

const ATTEMPT_TIMEOUT_MS = 250;
const ATTEMPT_PAUSE_MS = 10;

export async function measureResume(ctx: BenchContext): Promise<ResumeResults> {
  const s = ctx.settings.resume;
  const svc = await startBenchService(ctx, 'resume');
  // Reconnects within tens of ms, so the figure is the service's, not this client's.
  const client = await connect({
    servers: ctx.server.url,
    name: 'cim-bench-resume',
    reconnectTimeWait: 20,
    reconnectJitter: 0,
    maxReconnectAttempts: -1,
  });
  const fleet = commandFleet(svc, 'resume', 1);
  const name = benchName(fleet.names, 0);
  const subject = `${svc.prefix}.cmd.module.update`;
  const rounds: ResumeRound[] = [];
  let counter = 0;
  const attempt = async (): Promise<{ ok: true } | { ok: false; code: string }> => {
    try {
      const m = await client.request(subject, moduleUpdatePayload(name, ++counter), { timeout: ATTEMPT_TIMEOUT_MS });
      const r = m.json<{ status?: string; code?: string }>();
      return r.status === 'ok' ? { ok: true } : { ok: false, code: r.code ?? 'malformed_reply' };
    } catch (e) {
      const n = e instanceof Error ? `${e.name} ${e.message}` : String(e);
      return {
        ok: false,
        code: /timeout/i.test(n)
          ? 'timeout'
          : /no responders/i.test(n)
            ? 'no_responders'
            : `client_${e instanceof Error ? e.name : 'error'}`,
      };
    }
  };
  try {
    const created = await createFleet(ctx, fleet, 1);
    for (let i = 0; i < s.restarts; i++) {
      ctx.log(`resume: NATS server restart ${i + 1} of ${s.restarts}`);
      const before = await attempt();
      const failures: Record<string, number> = {};
      if (!before.ok) failures[`before restart: ${before.code}`] = 1;
      const tDown = ctx.now();
      await ctx.server.restart();
      const tUp = ctx.now();
      let resumeMs: number | null = null;
      let attempts = 0;
      const deadline = tUp + s.deadlineMs;
      // The service answers as before the restart: `ok`, or (while commands fail) the same code.
      const same = (r: Awaited<ReturnType<typeof attempt>>): boolean => {
        if (before.ok || r.ok) return before.ok === r.ok;
        return r.code === before.code;
      };
      while (ctx.now() < deadline) {
        attempts++;
        const r = await attempt();
        if (same(r)) {
          resumeMs = ctx.now() - tUp;
          break;
        }
        const code = r.ok ? 'ok' : r.code;
        failures[code] = (failures[code] ?? 0) + 1;
        await new Promise((res) => setTimeout(res, ATTEMPT_PAUSE_MS));
      }
      rounds.push({ outageMs: tUp - tDown, resumeMs, attempts, failures });
    }
    const smoke = ctx.settings.mode === 'smoke';
    const resumed = rounds.map((r) => r.resumeMs).filter((x): x is number => x !== null);
    const missing = rounds.length - resumed.length;
    const value = missing > 0 ? NaN : median(resumed);
    const figures: Figure[] = [
      judge({
        section: 'NATS server restart',
        name: 'first ok reply after the server listens again',
        value,
        unit: 'ms',
        target: { op: '<=', value: TARGETS.resumeMs },
        failures: { ...created.errors, ...(missing ? { [`no ok within ${s.deadlineMs} ms`]: missing } : {}) },
        smoke,
        note: `median of ${rounds.length}; per round ${rounds.map((r) => (r.resumeMs === null ? 'none' : `${r.resumeMs.toFixed(0)} ms`)).join(', ')}; outage ${rounds.map((r) => `${r.outageMs.toFixed(0)} ms`).join(', ')}`,
      }),
    ];
    return { rounds, figures };
  } finally {
    await client.close();
    await stopBenchService(svc);
    await removePrefixState(ctx.admin, svc.prefix);
  }
}
