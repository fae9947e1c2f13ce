/**
 * Module, overlay and configuration file writes and deletes as one batch: the requests
 * become workspace operations, applied together (applyWorkspaceOps), and come back as one
 * outcome per request. Runs in the workspace thread (workspaceThread.ts).
 */
import type { EffectOutcome, EffectRequest } from '../../machines/index.js';
import type { EffectEnv } from './effectEnv.js';
import { toFailedOutcome } from './failure.js';
import { applyWorkspaceOps, type WorkspaceOp } from './workspaceEffects.js';

/** The workspace file operation of a request, when it is one. */
export function workspaceOp(request: EffectRequest): WorkspaceOp | undefined {
  switch (request.kind) {
    case 'module.write':
      return { kind: 'module', name: request.name, body: request.module };
    case 'module.delete':
      return { kind: 'module', name: request.name };
    case 'overlay.write':
      return { kind: 'overlay', name: request.name, body: request.overlay };
    case 'overlay.delete':
      return { kind: 'overlay', name: request.name };
    case 'config.write':
      return { kind: 'config', name: request.name, body: request.configuration };
    default:
      return undefined;
  }
}

/** Apply workspace requests (each one has a {@link workspaceOp}) together; never throws. */
export async function performWorkspaceBatch(env: EffectEnv, requests: readonly EffectRequest[]): Promise<EffectOutcome[]> {
  const ops = requests.map((r) => workspaceOp(r) as WorkspaceOp);
  try {
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
