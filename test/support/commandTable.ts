/** A valid payload for every command subject, for table-driven tests. */
export const validCommands: Record<string, Record<string, unknown>> = {
  'flake.create': { path: 'flakes/a', description: 'a test flake', template: 'minimal' },
  'flake.update': { path: 'flakes/a' },
  'flake.add_input': { path: 'flakes/a', name: 'dep', url: 'path:../dep' },
  'flake.remove_input': { path: 'flakes/a', name: 'dep' },
  'flake.check': { path: 'flakes/a' },
  'package.build': { flake_ref: 'path:flakes/a', attribute: 'packages.x86_64-linux.default' },
  'package.cache': { flake_ref: 'path:flakes/a', attribute: 'packages.x86_64-linux.default' },
  'module.create': { name: 'web', module: { options: {}, config: { 'services.nginx.enable': true }, imports: [] } },
  'module.update': { name: 'web', module: { options: {}, config: {}, imports: [] } },
  'module.delete': { name: 'web' },
  'overlay.create': { name: 'tools', overlay: { overrides: {}, additions: {} } },
  'overlay.update': { name: 'tools', overlay: { overrides: {}, additions: {} } },
  'overlay.delete': { name: 'tools' },
  'config.create': {
    name: 'host1',
    configuration: { system: 'x86_64-linux', hostname: 'host1', modules: [], overlays: [], packages: [], specialisations: {} },
  },
  'config.update': {
    name: 'host1',
    configuration: { system: 'x86_64-linux', hostname: 'host1', modules: [], overlays: [], packages: ['hello'], specialisations: {} },
  },
  'config.activate': { name: 'host1', activation_type: 'switch' },
  'config.rollback': { name: 'host1' },
};

/** The field each command cannot do without (dropping it must fail validation). */
export function requiredField(command: string): string {
  return Object.keys(validCommands[command]!)[0]!;
}
