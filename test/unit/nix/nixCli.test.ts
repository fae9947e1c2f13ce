import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnvironment } from '../../../src/nix/nixCli.js';

describe('the environment of nix', () => {
  let empty: string;
  let sandboxed: string;
  beforeAll(() => {
    empty = mkdtempSync(join(tmpdir(), 'cim-nix-conf-'));
    sandboxed = mkdtempSync(join(tmpdir(), 'cim-nix-conf-'));
    writeFileSync(join(sandboxed, 'nix.conf'), 'sandbox = relaxed\n');
  });
  afterAll(() => {
    rmSync(empty, { recursive: true, force: true });
    rmSync(sandboxed, { recursive: true, force: true });
  });

  const config = (base: NodeJS.ProcessEnv, sandboxByDefault: boolean): string =>
    childEnvironment(base, { sandboxByDefault }).NIX_CONFIG ?? '';

  it('builds without the sandbox by default when only workspace flakes are built (the /bin/sh builders need it)', () => {
    expect(config({ NIX_CONF_DIR: empty }, false)).toMatch(/^sandbox = false$/m);
  });

  it('turns the sandbox on, with fallback, when remote builds are allowed', () => {
    const text = config({ NIX_CONF_DIR: empty }, true);
    expect(text).toMatch(/^sandbox = true$/m);
    expect(text).toMatch(/^sandbox-fallback = true$/m);
  });

  it("never overrides the operator's nix.conf or NIX_CONFIG", () => {
    for (const remote of [false, true]) {
      expect(config({ NIX_CONF_DIR: sandboxed }, remote)).not.toMatch(/^sandbox\s*=/m);
      expect(config({ NIX_CONF_DIR: empty, NIX_CONFIG: 'sandbox = false' }, remote).match(/^sandbox\s*=.*$/gm)).toEqual([
        'sandbox = false',
      ]);
    }
  });
});
