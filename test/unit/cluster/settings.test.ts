/**
 * The cluster settings of src/config.ts: defaults, and refusals that say what to set.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';

const load = (env: Record<string, string>) => loadConfig([], env, '/nonexistent-dir-for-config-test');

describe('cluster settings', () => {
  it('default to one replica, 64 partitions and a 3 s lease', () => {
    const r = load({});
    expect(r.ok && r.config.cluster).toEqual({ replicas: 1, partitions: 64, leaseMs: 3000 });
  });

  it('read NIX_REPLICAS, NIX_PARTITIONS and NIX_LEASE_MS', () => {
    const r = load({ NIX_REPLICAS: '3', NIX_PARTITIONS: '128', NIX_LEASE_MS: '5000' });
    expect(r.ok && r.config.cluster).toEqual({ replicas: 3, partitions: 128, leaseMs: 5000 });
  });

  it('refuse a lease shorter than 300 ms, saying the heartbeat runs three times per lease', () => {
    const r = load({ NIX_LEASE_MS: '200' });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toMatch(
      /NIX_LEASE_MS \[environment\]: got "200"; expected a whole number of milliseconds from 300 .*three times per lease/,
    );
  });

  it('refuse replicas above 5 and a partition count of 0 or above 1024', () => {
    for (const [name, value] of [
      ['NIX_REPLICAS', '7'],
      ['NIX_REPLICAS', '0'],
      ['NIX_PARTITIONS', '0'],
      ['NIX_PARTITIONS', '4096'],
      ['NIX_PARTITIONS', 'many'],
    ] as const) {
      const r = load({ [name]: value });
      expect(!r.ok && r.message, `${name}=${value}`).toContain(`${name} [environment]: got "${value}"`);
    }
  });
});
