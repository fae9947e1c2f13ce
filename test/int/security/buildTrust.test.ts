/**
 * The build trust model: builds run the code of the flake they build, so by default
 * `package.build` accepts only flakes inside the workspace; every remote ref (a registry
 * name, github:, git+https:, a tarball URL) is refused at intake with `forbidden` and a
 * message naming the setting that allows it. With `NIX_ALLOW_REMOTE_BUILDS=true` the same
 * refs reach nix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR, expectRefused, handFlake, startHarness, type Harness } from './harness.js';

const REMOTE = [
  'github:NixOS/nixpkgs',
  'nixpkgs',
  'flake:nixpkgs',
  'git+https://example.org/repo.git',
  'git+ssh://git@example.org/repo.git',
  'https://127.0.0.1:1/source.tar.gz',
  'sourcehut:~user/repo',
  'gitlab:owner/repo',
];

describe('build trust (issue 12, also decide and document)', () => {
  describe('by default', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness();
      handFlake(h.svc.workspace, 'app');
    });
    afterAll(async () => {
      await h?.stop();
    });

    it.each(REMOTE)('refuses package.build of %s with forbidden naming the setting', async (flake_ref) => {
      const message = await expectRefused(h, 'package.build', { flake_ref, attribute: ATTR }, 'forbidden', /flake_ref/);
      expect(message).toMatch(/NIX_ALLOW_REMOTE_BUILDS/);
      expect(message).toMatch(/nix\.allowRemoteBuilds/);
    });

    it('builds a flake inside the workspace', async () => {
      const built = await h.cmd('package.build', { flake_ref: 'path:app', attribute: ATTR });
      expect(built['status']).toBe('ok');
      expect((built['events'] as { event_type: string }[]).map((e) => e.event_type)).toContain('PackageBuilt');
    });
  });

  describe('with NIX_ALLOW_REMOTE_BUILDS=true', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({ NIX_ALLOW_REMOTE_BUILDS: 'true' });
    });
    afterAll(async () => {
      await h?.stop();
    });

    it('hands a remote ref to nix (which fails offline, recorded as a failed build)', async () => {
      const reply = await h.cmd('package.build', { flake_ref: 'https://127.0.0.1:1/source.tar.gz', attribute: ATTR });
      expect(reply['status']).toBe('ok');
      expect((reply['events'] as { event_type: string }[]).map((e) => e.event_type)).toContain('PackageBuildFailed');
    });

    it('still refuses local refs outside the workspace', async () => {
      await expectRefused(h, 'package.build', { flake_ref: 'git+file:///etc', attribute: ATTR }, 'forbidden', /flake_ref/);
    });
  });
});
