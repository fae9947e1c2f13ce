import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';

const TOKEN = '0123456789abcdef0123456789abcdef';

describe('inspector settings', () => {
  it('binds the page to loopback with no token by default', () => {
    const r = loadConfig([], {}, '/tmp');
    if (!r.ok) throw new Error(r.message);
    expect(r.config.inspector).toEqual({ enabled: true, port: 8787, host: '127.0.0.1', token: undefined });
  });

  it('refuses a non-loopback address without a token, saying what to set', () => {
    for (const host of ['0.0.0.0', '192.0.2.2', '::', 'inspector.example.org']) {
      const r = loadConfig([], { INSPECTOR_HOST: host }, '/tmp');
      expect(r.ok, host).toBe(false);
      if (r.ok) continue;
      expect(r.issues).toEqual([expect.objectContaining({ setting: 'INSPECTOR_HOST (environment)', source: 'rule' })]);
      expect(r.message).toContain('INSPECTOR_TOKEN');
    }
  });

  it('takes a non-loopback address with a token, and never repeats the token in a message', () => {
    const ok = loadConfig([], { INSPECTOR_HOST: '0.0.0.0', INSPECTOR_TOKEN: TOKEN }, '/tmp');
    if (!ok.ok) throw new Error(ok.message);
    expect(ok.config.inspector).toMatchObject({ host: '0.0.0.0', token: TOKEN });
    const weak = loadConfig([], { INSPECTOR_HOST: '0.0.0.0', INSPECTOR_TOKEN: 'short secret!' }, '/tmp');
    expect(weak.ok).toBe(false);
    if (weak.ok) return;
    expect(weak.message).toContain('INSPECTOR_TOKEN');
    expect(weak.message).not.toContain('short secret!');
  });

  it('needs no token when the inspector is off', () => {
    const r = loadConfig([], { INSPECTOR_HOST: '0.0.0.0', INSPECTOR_PORT: '0' }, '/tmp');
    expect(r.ok).toBe(true);
  });

  it('refuses a host that is neither an address nor a host name', () => {
    for (const host of ['bad host', '-x', 'a/b', 'http://127.0.0.1'])
      expect(loadConfig([], { INSPECTOR_HOST: host }, '/tmp').ok, host).toBe(false);
  });
});
