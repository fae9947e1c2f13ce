import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EffectRequest } from '../../../machines/_shared/protocol.js';
import { gitFiles, nixParse, tempWorkspace, type TempWorkspace } from '../../support/nix/workspace.js';

const COUNTER = fileURLToPath(new URL('../../support/nix/counting-nix-instantiate.sh', import.meta.url));

describe('nix port: performBatch of workspace files', () => {
  let bin: string;
  let log: string;
  let ws: TempWorkspace;
  beforeAll(() => {
    // A nix next to a counting nix-instantiate, so the test sees how many parse runs a batch costs.
    bin = mkdtempSync(join(tmpdir(), 'cim-nix-bin-'));
    symlinkSync('/usr/bin/nix', join(bin, 'nix'));
    copyFileSync(COUNTER, join(bin, 'nix-instantiate'));
    log = join(bin, 'runs.log');
    writeFileSync(log, '');
    ws = tempWorkspace({ nixBin: join(bin, 'nix'), env: { ...process.env, COUNT_INSTANTIATE_LOG: log } });
  });
  afterAll(() => {
    ws.cleanup();
    rmSync(bin, { recursive: true, force: true });
  });

  function runs(): number[] {
    return readFileSync(log, 'utf8').split('\n').filter(Boolean).map(Number);
  }

  it('writes many files with one parse run for them and one for the workspace flake', async () => {
    const requests: EffectRequest[] = Array.from({ length: 40 }, (_, i) => ({
      kind: 'module.write',
      name: `mod${i}`,
      module: { options: {}, config: { [`services.s${i}.enable`]: true }, imports: [] },
    }));
    requests.push({ kind: 'overlay.write', name: 'ov', overlay: { overrides: {}, additions: { x: 1 } } });
    requests.push({
      kind: 'config.write',
      name: 'host',
      configuration: {
        system: 'x86_64-linux',
        hostname: 'host',
        modules: ['mod0'],
        overlays: ['ov'],
        packages: [],
        specialisations: {},
      },
    });
    const outcomes = await ws.port.performBatch(requests, new AbortController().signal);
    expect(outcomes.map((o) => o.type)).toEqual(requests.map(() => 'effect.succeeded'));
    expect(outcomes[41]).toEqual({
      type: 'effect.succeeded',
      kind: 'config.write',
      result: { file: 'hosts/host/configuration.nix' },
    });
    // `nix-instantiate --parse` with 42 files, then with the workspace flake.
    expect(runs()).toEqual([43, 2]);
    const flake = readFileSync(join(ws.dir, 'flake.nix'), 'utf8');
    expect(flake.match(/= \.\/modules\/mod\d+\.nix;/g)).toHaveLength(40);
    expect(nixParse(join(ws.dir, 'flake.nix')).status).toBe(0);
    expect(gitFiles(ws.dir)).toHaveLength(43);
  });

  it('fails only the file that does not parse, restores it, and keeps order', async () => {
    writeFileSync(log, '');
    const before = readFileSync(join(ws.dir, 'modules/mod1.nix'), 'utf8');
    const requests: EffectRequest[] = [
      { kind: 'module.write', name: 'fresh', module: { config: { a: 1 } } },
      { kind: 'module.write', name: 'mod1', module: { config: { a: { $nix: 'x y = z' } } } },
      { kind: 'module.delete', name: 'mod2' },
      { kind: 'module.write', name: 'bad name!', module: {} },
      { kind: 'flake.check', path: '../outside' },
    ];
    const outcomes = await ws.port.performBatch(requests, new AbortController().signal);
    expect(outcomes.map((o) => (o.type === 'effect.failed' ? o.code : 'ok'))).toEqual([
      'ok',
      'nix_failed',
      'ok',
      'nix_failed',
      'forbidden',
    ]);
    expect(outcomes[1]).toMatchObject({ kind: 'module.write', message: expect.stringContaining('modules/mod1.nix') });
    expect(readFileSync(join(ws.dir, 'modules/mod1.nix'), 'utf8')).toBe(before);
    expect(existsSync(join(ws.dir, 'modules/mod2.nix'))).toBe(false);
    const flake = readFileSync(join(ws.dir, 'flake.nix'), 'utf8');
    expect(flake).toContain('fresh = ./modules/fresh.nix;');
    expect(flake).toContain('mod1 = ./modules/mod1.nix;');
    expect(flake).not.toContain('mod2 =');
    expect(gitFiles(ws.dir)).not.toContain('modules/mod2.nix');
  });

  it('gives several requests for one file the outcome of the last one', async () => {
    const outcomes = await ws.port.performBatch(
      [
        { kind: 'overlay.write', name: 'twice', overlay: { additions: { v: 1 } } },
        { kind: 'overlay.write', name: 'twice', overlay: { additions: { v: 2 } } },
      ],
      new AbortController().signal,
    );
    expect(outcomes).toEqual([
      { type: 'effect.succeeded', kind: 'overlay.write', result: { file: 'overlays/twice.nix' } },
      { type: 'effect.succeeded', kind: 'overlay.write', result: { file: 'overlays/twice.nix' } },
    ]);
    expect(readFileSync(join(ws.dir, 'overlays/twice.nix'), 'utf8')).toContain('v = 2;');
  });

  it('closes the workspace thread only after the batch in flight is written, and starts a new thread for the next batch', async () => {
    const pending = ws.port.performBatch(
      Array.from({ length: 50 }, (_, i) => ({ kind: 'module.write', name: `late${i}`, module: { options: {}, config: { n: i }, imports: [] } })),
      new AbortController().signal,
    );
    await new Promise((r) => setImmediate(r)); // the batch has reached the thread
    await ws.port.close();
    const outcomes = await pending;
    expect(outcomes.filter((o) => o.type !== 'effect.succeeded')).toEqual([]);
    for (let i = 0; i < 50; i++) expect(existsSync(join(ws.dir, `modules/late${i}.nix`))).toBe(true);
    const next = await ws.port.performBatch([{ kind: 'module.write', name: 'after', module: { options: {}, config: {}, imports: [] } }], new AbortController().signal);
    expect(next).toEqual([{ type: 'effect.succeeded', kind: 'module.write', result: { file: 'modules/after.nix' } }]);
    await ws.port.close();
  });

});

