/**
 * Workspace file writes and deletes as one batch: each request's file operation (from the
 * kind that owns the effect: machines' `workspaceFileOfRequest`) is applied together with the
 * others (applyWorkspaceOps), and comes back as one outcome per request. Runs in the
 * workspace thread (workspaceThread.ts).
 */
import { workspaceFileOfRequest, type EffectOutcome, type EffectRequest } from '../../machines/index.js';
import type { EffectEnv } from './effectEnv.js';
import { toFailedOutcome } from './failure.js';
import { applyWorkspaceOps } from './workspaceEffects.js';

/** Apply workspace requests (each one writes or removes a workspace file) together; never throws. */
export async function performWorkspaceBatch(env: EffectEnv, requests: readonly EffectRequest[]): Promise<EffectOutcome[]> {
  try {
    const ops = requests.map((r) => {
      const op = workspaceFileOfRequest(r);
      if (op === undefined) throw new Error(`${r.kind} writes no workspace file`);
      return op;
    });
    await env.cli.requireNix();
    const results = await applyWorkspaceOps(env, ops);
    return results.map((result, i) => {
      const kind = (requests[i] as EffectRequest).kind;
      return result.ok ? { type: 'effect.succeeded', kind, result: { file: result.file } } : toFailedOutcome(kind, result.error);
    });
  } catch (e) {
    return requests.map((r) => toFailedOutcome(r.kind, e));
  }
}
