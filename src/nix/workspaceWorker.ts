/**
 * The workspace thread's entry (see workspaceThread.ts): applies batches of module, overlay
 * and configuration file operations, away from the service's event loop. The service holds
 * the workspace lock while a batch runs here.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { EffectEnv } from './effectEnv.js';
import { KeyedRwLock } from './locks.js';
import { NixCli } from './nixCli.js';
import { performWorkspaceBatch } from './workspaceBatch.js';
import type { WorkspaceThreadData, WorkspaceThreadReply, WorkspaceThreadRequest } from './workspaceThread.js';

const data = workerData as WorkspaceThreadData;
const env: EffectEnv = {
  workspace: data.workspace,
  cli: new NixCli(data.nixBin, data.env),
  locks: new KeyedRwLock(),
  // Not used by workspace operations.
  defaultCacheUrl: '',
  activationEnabled: false,
  nixosMarker: '',
  nixosRebuildBin: '',
  policy: { workspace: data.workspace, defaultCacheUrl: '', allowRemoteBuilds: false },
};

parentPort?.on('message', (request: WorkspaceThreadRequest) => {
  void performWorkspaceBatch(env, request.requests).then((outcomes) => {
    const reply: WorkspaceThreadReply = { id: request.id, outcomes };
    parentPort?.postMessage(reply);
  });
});
