/**
 * Logs for people and for machines (LOG_FORMAT): the service as a process writes JSON lines
 * when its stdout is not a terminal (here a pipe) and readable lines with LOG_FORMAT=pretty.
 * Each run points at a port where nothing listens and gives up after one attempt, so it
 * logs its start and its failure and exits.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { killAllServiceProcesses, startServiceProcess } from '../../support/serviceProcess.js';

afterAll(killAllServiceProcesses);

const unreachable = { NATS_URL: 'nats://127.0.0.1:1', NATS_RECONNECT_MAX_ATTEMPTS: '1', LOG_LEVEL: 'info' };

describe('log format', () => {
  it('writes JSON lines into a pipe by default (auto)', async () => {
    const p = await startServiceProcess({ env: unreachable });
    expect((await p.waitForExit()).code).toBe(1);
    const lines = p.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    expect(p.lines[0]).toMatchObject({ level: 'info', msg: 'cim-domain-nix starting', service: 'cim-domain-nix' });
  });

  it('writes readable lines with LOG_FORMAT=pretty: time, level, component, message, then the fields', async () => {
    const p = await startServiceProcess({ env: { ...unreachable, LOG_FORMAT: 'pretty' } });
    expect((await p.waitForExit()).code).toBe(1);
    const lines = p.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: cim-domain-nix starting \{.*"prefix":"nix".*\}$/);
    expect(lines.some((l) => /^\[[\d:.]+\] (INFO|WARN|ERROR): \[connection\] /.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith('{'))).toBe(false);
  });
});
