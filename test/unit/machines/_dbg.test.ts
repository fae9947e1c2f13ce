import { it } from 'vitest';
import { getShortestPaths } from 'xstate/graph';
import { configMachine } from '../../../machines/index.js';
import { ID, succeed, fail } from './harness.js';
it('dbg', () => {
  const configuration = { system: 'x86_64-linux', hostname: 'host', modules: [], overlays: [], packages: [], specialisations: {} };
  const cmds = [{ type: 'config.create', name: 'host', configuration }, { type: 'config.activate', name: 'host', activation_type: 'boot' }];
  const paths = getShortestPaths(configMachine, { input: { aggregate_id: ID }, events: (s: any) => s.context.pending_effect ? [...cmds, succeed(s.context.pending_effect), fail(s.context.pending_effect)] : cmds, serializeState: (s: any) => String(s.value) + '|' + (s.context.pending_effect?.kind ?? '') } as any);
  for (const p of paths) console.log(p.state.value, p.steps.map((x: any) => x.event.type).join(' '));
});
