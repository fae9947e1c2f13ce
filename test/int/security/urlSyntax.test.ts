/**
 * Issue 12, class 7: a flake path is a path, never a URL. `?`, `#`, `%`, white space, control
 * characters and anything else nix would read as URL syntax are refused with `validation`,
 * and `flake.update` of `victim?dir=.` can no longer relock the flake `victim`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flakeId } from '../../../src/domain/ids.js';
import { expectRefused, startHarness, type Harness } from './harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.stop();
});

const HOSTILE = [
  'victim?dir=.',
  'victim?ref=main',
  'victim#x',
  'a%3Fdir=.',
  'a%2e%2e',
  'a b',
  'a\tb',
  'a\nb',
  'a\rb',
  'a:b',
  'a@b',
  'a;b',
  'a&b',
  "a'b",
  'a"b',
  'a\\b',
  'café',
  'a\u200bb',
];

describe('URL syntax in flake paths (issue 12, class 7)', () => {
  it.each(HOSTILE)('refuses the flake path %j with validation naming path', async (path) => {
    await expectRefused(h, 'flake.create', { path, description: 'x', template: 'minimal' }, 'validation', /path/);
    for (const command of ['flake.update', 'flake.check', 'flake.remove_input']) {
      const body: Record<string, unknown> = command === 'flake.remove_input' ? { path, name: 'dep' } : { path };
      await expectRefused(h, command, body, 'validation', /path/);
    }
    await expectRefused(h, 'flake.add_input', { path, name: 'dep', url: 'path:../dep' }, 'validation', /path/);
  });

  it('flake.update of victim?dir=. leaves the lock file of victim alone', async () => {
    expect(await h.cmd('flake.create', { path: 'dep', description: 'dep', template: 'minimal' })).toMatchObject({ status: 'ok' });
    expect(await h.cmd('flake.create', { path: 'victim', description: 'victim', template: 'minimal' })).toMatchObject({ status: 'ok' });
    expect(await h.cmd('flake.add_input', { path: 'victim', name: 'dep', url: 'path:../dep' })).toMatchObject({ status: 'ok' });
    const lock = join(h.svc.workspace, 'victim/flake.lock');
    const before = readFileSync(lock, 'utf8');
    // dep changes: a relock of victim would now record a new narHash.
    writeFileSync(join(h.svc.workspace, 'dep/extra.txt'), 'changed');
    const victimEvents = await h.stored();

    await expectRefused(h, 'flake.create', { path: 'victim?dir=.', description: 'x', template: 'minimal' }, 'validation', /path/);
    await expectRefused(h, 'flake.update', { path: 'victim?dir=.' }, 'validation', /path/);
    await expectRefused(h, 'flake.update', { path: 'victim/?dir=.' }, 'validation', /path/);
    await expectRefused(h, 'flake.check', { path: 'victim#' }, 'validation', /path/);

    expect(readFileSync(lock, 'utf8')).toBe(before);
    expect(await h.stored()).toBe(victimEvents);
    // The real victim still updates when asked by its own name.
    expect(await h.cmd('flake.update', { flake_id: flakeId('victim') })).toMatchObject({
      status: 'ok',
      events: [{ event_type: 'FlakeUpdated' }],
    });
    expect(readFileSync(lock, 'utf8')).not.toBe(before);
  });
});
