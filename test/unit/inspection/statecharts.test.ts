import { describe, expect, it } from 'vitest';
import { machinesDocument } from '../../../src/inspection/statecharts.js';
import { MachinesDocument } from '../../../src/inspection/wire.js';
import { aggregateKinds, registry } from '../../../machines/index.js';

describe('statecharts', () => {
  const doc = machinesDocument();

  it('describes every aggregate machine and the three system machines in the wire schema', () => {
    expect(MachinesDocument.safeParse(doc).success).toBe(true);
    expect(doc.aggregates.map((c) => c.type)).toEqual([...aggregateKinds]);
    expect(doc.system.map((c) => c.id)).toEqual(['reconnection', 'publisher', 'supervisor']);
  });

  it('lists each machine state with its transitions, roles and targets', () => {
    const module = doc.aggregates.find((c) => c.type === 'module')!;
    expect(module.initial).toBe('none');
    expect(module.states.map((s) => s.key)).toEqual(Object.keys(registry.module.machine.root.states));
    const active = module.states.find((s) => s.key === 'active')!;
    expect(active.transitions).toContainEqual(
      expect.objectContaining({ event: 'module.delete', target: 'deleted', role: 'command', refuses: false }),
    );
    expect(active.transitions).toContainEqual(expect.objectContaining({ event: 'module.create', role: 'command', refuses: true }));
    expect(active.transitions).toContainEqual(expect.objectContaining({ event: 'module.updated', target: 'active', role: 'fact' }));
  });

  it('names effect outcomes and marks guarded transitions', () => {
    const flake = doc.aggregates.find((c) => c.type === 'flake')!;
    const creating = flake.states.find((s) => s.key === 'creating')!;
    expect(creating.transitions).toContainEqual(
      expect.objectContaining({ event: 'effect.failed', target: 'none', role: 'outcome', guarded: true }),
    );
  });

  it('gives XState generated events readable names in system machines', () => {
    const reconnection = doc.system.find((c) => c.id === 'reconnection')!;
    const events = reconnection.states.flatMap((s) => s.transitions.map((t) => t.event));
    expect(events).toContain('invoke done');
    expect(events).toContain('after backoff');
    expect(reconnection.always).toContainEqual(expect.objectContaining({ event: 'stop', target: 'stopped' }));
  });
});
