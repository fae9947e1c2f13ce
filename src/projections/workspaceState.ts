/**
 * The workspace as the event stream describes it: for every aggregate of a kind that owns a
 * workspace file, the file its record says should exist (or, once deleted, be gone), with the
 * aggregate version it reflects. The materializer catches the workspace up to this on start
 * (SPEC §11: the files are a projection of the stream, also after a crash).
 */
import { registry, requestOfFileOp, type EffectRequest, type WorkspaceFileOp } from '../../machines/index.js';
import type { ReadModels } from './readModels.js';

/** One file the stream says should be written (or removed), as of `version`. */
export interface DesiredFile {
  /** `<kind>:<id>`: the key the materializer coalesces writes of one aggregate under. */
  key: string;
  version: number;
  /** The effect that writes (or removes) it. */
  request: EffectRequest;
}

/** Every file the read models say the workspace holds (or no longer holds); `only` keeps some aggregates (by id). */
export function desiredWorkspace(models: ReadModels, only?: (id: string) => boolean): DesiredFile[] {
  const out: DesiredFile[] = [];
  for (const { projection, model } of models.kinds()) {
    const files = registry[projection.kind].files;
    if (!files || !projection.files) continue;
    for (const f of projection.files(model)) {
      if (only && !only(f.id)) continue;
      const op: WorkspaceFileOp = f.body === undefined ? { type: files.type, name: f.name } : { type: files.type, name: f.name, body: f.body };
      const request = requestOfFileOp(files, op);
      if (request) out.push({ key: `${projection.kind}:${f.id}`, version: f.version, request });
    }
  }
  return out;
}
