import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EffectRequest } from '../../../machines/_shared/protocol.js';
import { fail, succeed, tempWorkspace, type TempWorkspace } from '../../support/nix/workspace.js';

describe('nix port: nix is not installed', () => {
  let ws: TempWorkspace;
  beforeAll(() => {
    ws = tempWorkspace({ nixBin: '/nonexistent/bin/nix' });
  });
  afterAll(() => ws.cleanup());

  it('probes as unavailable with the install command', async () => {
    const probe = await ws.port.probe();
    expect(probe.available).toBe(false);
    expect(probe.hint).toContain('apt-get install -y nix-bin');
    expect(probe.version).toBeUndefined();
  });

  const requests: EffectRequest[] = [
    { kind: 'flake.write', path: 'a', description: '', template: 'minimal', inputs: {} },
    { kind: 'flake.add_input', path: 'a', name: 'x', url: 'path:../x' },
    { kind: 'flake.update', path: 'a' },
    { kind: 'flake.check', path: 'a' },
    { kind: 'package.build', flake_ref: 'a', attribute: 'default' },
    { kind: 'package.cache', flake_ref: 'a', attribute: 'default', store_paths: [] },
    { kind: 'module.write', name: 'm', module: {} },
  ];

  it.each(requests.map((r) => [r.kind, r] as const))('answers %s with nix_failed and the install hint', async (_kind, request) => {
    const failure = await fail(ws.port, request);
    expect(failure.code).toBe('nix_failed');
    expect(failure.message).toContain('apt-get install -y nix-bin');
    expect(existsSync(join(ws.dir, 'a'))).toBe(false);
  });

  it('still records activations, which need no nix here', async () => {
    const result = await succeed(ws.port, {
      kind: 'config.activate',
      name: 'box',
      activation_type: 'switch',
      generation: 1,
    });
    expect(result.executed).toBe(false);
  });
});
