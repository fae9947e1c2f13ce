/**
 * One directory, one aggregate (SPEC §11): natural keys are normalised before an id is
 * derived from them.
 */
import { describe, expect, it } from 'vitest';
import { normaliseAttribute, normaliseFlakePath, normaliseFlakeRef } from '../../../machines/index.js';
import { flakeId, packageId } from '../../../src/domain/ids.js';

describe('natural keys', () => {
  it('gives every spelling of a workspace directory the same flake id', () => {
    const ws = '/srv/ws';
    const id = flakeId('alias');
    for (const p of ['./alias', 'alias/', 'alias//', './alias/.', 'x/../alias', '/srv/ws/alias', '/srv/ws//alias/', '/srv/ws/./alias']) {
      expect(flakeId(p, ws), p).toBe(id);
    }
    expect(normaliseFlakePath('/srv/ws', ws)).toBe('.');
    expect(normaliseFlakePath('/srv/wsx/alias', ws)).toBe('/srv/wsx/alias'); // outside: kept, the intake refuses it
  });

  it('normalises the path of path: references and keeps their query', () => {
    expect(normaliseFlakeRef('path:./a/b/', '/w')).toBe('path:a/b');
    expect(normaliseFlakeRef('path:/w/a?rev=1', '/w')).toBe('path:a?rev=1');
    expect(normaliseFlakeRef('  github:o/r ')).toBe('github:o/r');
    expect(packageId('path:./hello', 'packages.x86_64-linux.default')).toBe(packageId('path:hello', 'packages."x86_64-linux".default'));
  });

  it('unquotes attribute segments only where the quotes change nothing', () => {
    expect(normaliseAttribute('packages."x86_64-linux".default')).toBe('packages.x86_64-linux.default');
    expect(normaliseAttribute('packages."a.b".x')).toBe('packages."a.b".x');
    expect(normaliseAttribute('a."in".b')).toBe('a."in".b');
    expect(normaliseAttribute('a."9x"')).toBe('a."9x"');
  });
});
