import { describe, expect, it } from 'vitest';
import { attrsToUrl, lockedRootInputs } from '../../../src/nix/flakeLock.js';

const LOCK = JSON.stringify({
  nodes: {
    nixpkgs: {
      locked: {
        lastModified: 1700000000,
        narHash: 'sha256-AAA=',
        owner: 'NixOS',
        repo: 'nixpkgs',
        rev: 'abc123',
        type: 'github',
      },
      original: { owner: 'NixOS', ref: 'nixos-unstable', repo: 'nixpkgs', type: 'github' },
    },
    lib: {
      locked: { lastModified: 1795715402, narHash: 'sha256-BBB=', path: '/w/lib', type: 'path' },
      original: { path: '/w/lib', type: 'path' },
    },
    repo: {
      flake: false,
      locked: {
        lastModified: 1,
        narHash: 'sha256-CCC=',
        ref: 'main',
        rev: 'def',
        revCount: 3,
        type: 'git',
        url: 'file:///w/repo',
      },
      original: { type: 'git', url: 'file:///w/repo' },
    },
    tools: {
      inputs: { nixpkgs: ['nixpkgs'] },
      locked: { narHash: 'sha256-DDD=', type: 'path', path: '/t' },
      original: { type: 'path', path: '/t' },
    },
    root: { inputs: { nixpkgs: 'nixpkgs', lib: 'lib', repo: 'repo', tools: 'tools', alias: ['tools', 'nixpkgs'] } },
  },
  root: 'root',
  version: 7,
});

describe('flake.lock reader', () => {
  it('formats lock attributes as flake URLs the way nix prints them', () => {
    expect(attrsToUrl({ type: 'github', owner: 'NixOS', repo: 'nixpkgs', ref: 'nixos-unstable' })).toBe(
      'github:NixOS/nixpkgs/nixos-unstable',
    );
    expect(attrsToUrl({ type: 'path', path: '/w/lib', narHash: 'sha256-x=', lastModified: 5 })).toBe(
      'path:/w/lib?lastModified=5&narHash=sha256-x%3D',
    );
    expect(attrsToUrl({ type: 'git', url: 'file:///w/repo', ref: 'main' })).toBe('git+file:///w/repo?ref=main');
    expect(attrsToUrl({ type: 'indirect', id: 'nixpkgs' })).toBe('flake:nixpkgs');
    expect(attrsToUrl({ type: 'tarball', url: 'https://x/y.tar.gz' })).toBe('https://x/y.tar.gz');
  });

  it('reads rev, narHash and lastModified of every root input, following follows paths', () => {
    expect(lockedRootInputs(LOCK)).toEqual({
      nixpkgs: {
        url: 'github:NixOS/nixpkgs/nixos-unstable',
        locked_url: 'github:NixOS/nixpkgs/abc123?lastModified=1700000000&narHash=sha256-AAA%3D',
        rev: 'abc123',
        nar_hash: 'sha256-AAA=',
        last_modified: 1700000000,
      },
      lib: {
        url: 'path:/w/lib',
        locked_url: 'path:/w/lib?lastModified=1795715402&narHash=sha256-BBB%3D',
        nar_hash: 'sha256-BBB=',
        last_modified: 1795715402,
      },
      repo: {
        url: 'git+file:///w/repo',
        locked_url: 'git+file:///w/repo?lastModified=1&narHash=sha256-CCC%3D&ref=main&rev=def&revCount=3',
        rev: 'def',
        nar_hash: 'sha256-CCC=',
        last_modified: 1,
      },
      tools: { url: 'path:/t', locked_url: 'path:/t?narHash=sha256-DDD%3D', nar_hash: 'sha256-DDD=' },
      alias: expect.objectContaining({ rev: 'abc123' }),
    });
  });

  it('rejects text that is not a lock file', () => {
    expect(() => lockedRootInputs('{"version":7}')).toThrow(/nodes/);
    expect(() => lockedRootInputs('not json')).toThrow();
  });
});
