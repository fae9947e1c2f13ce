import { describe, expect, it } from 'vitest';
import { aggregateKinds, registry } from '../../../machines/index.js';
import { compileFactCheck } from '../../../src/projections/factCheck.js';

const facts = aggregateKinds.flatMap((kind) => Object.entries(registry[kind].facts).map(([fact, info]) => ({ fact, schema: info.schema })));

describe('fact check', () => {
  it('agrees with the zod schema of every fact on an empty payload (required fields are required)', () => {
    for (const { fact, schema } of facts) expect(compileFactCheck(schema)({}), fact).toBe(schema.safeParse({}).success);
  });

  it('accepts a valid payload with envelope fields beside it, and refuses wrong types and enum values', () => {
    const check = compileFactCheck(registry.config.facts['config.activated']!.schema);
    const valid = { activation_type: 'switch', generation: 2, executed: false, reason: 'not NixOS', aggregate_id: 'x', sequence: 3 };
    expect(check(valid)).toBe(true);
    expect(check({ ...valid, reason: undefined })).toBe(true);
    expect(check({ ...valid, activation_type: 'reboot' })).toBe(false);
    expect(check({ ...valid, generation: '2' })).toBe(false);
    expect(check({ ...valid, executed: 'no' })).toBe(false);
    const module = compileFactCheck(registry.module.facts['module.created']!.schema);
    expect(module({ name: 'web', module: { options: {}, config: {}, imports: [] }, file: 'modules/web.nix' })).toBe(true);
    expect(module({ name: 'web', module: [], file: 'modules/web.nix' })).toBe(false);
    expect(module({ name: 'web', module: null, file: 'modules/web.nix' })).toBe(false);
    const built = compileFactCheck(registry.package.facts['package.built']!.schema);
    expect(built({ store_paths: { out: '/nix/store/x' }, drv_path: '/nix/store/x.drv', duration_ms: 12 })).toBe(true);
    expect(built({ store_paths: { out: '/nix/store/x' }, drv_path: '/nix/store/x.drv', duration_ms: Number.NaN })).toBe(false);
  });
});
