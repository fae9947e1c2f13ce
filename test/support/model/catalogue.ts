/**
 * The commands the model suite sends, per aggregate kind: named samples (valid and invalid
 * ones for every state), how an aggregate is addressed on the wire, how a wire payload
 * becomes the machine event (the model's own reading of SPEC §3, independent of
 * src/domain/commands.ts), and the abstraction of a snapshot that bounds graph walks.
 */
import { flakeId, namedId, packageId } from '../../../src/domain/ids.js';
import { registry, type AggregateKind } from '../../../machines/index.js';
import { ATTRIBUTE, packageFixtures, type World } from './world.js';

/** A machine event: type plus fields. */
export type MachineEvent = { type: string } & Record<string, unknown>;

/** One aggregate instance as the suite addresses it. */
export interface Address {
  kind: AggregateKind;
  id: string;
  /** Human-readable natural key, for messages. */
  key: string;
  /** Fields every wire payload of this aggregate carries (path, name, flake_ref + attribute). */
  wire: Record<string, unknown>;
}

/** A named command sample. */
export interface Sample {
  label: string;
  action: string;
  /** The wire payload (without identity), given the aggregate and the world. */
  payload(address: Address, world: World): Record<string, unknown>;
}

/** One wire command, ready to send: subject action, payload and the machine event it is. */
export interface WireCommand {
  kind: AggregateKind;
  action: string;
  label: string;
  payload: Record<string, unknown>;
  event: MachineEvent;
  /** Set when the payload fails its schema: the service answers `validation` and the machine never sees it. */
  invalid?: string;
}

const body = (n: number) => ({ options: { port: { default: 8000 + n } }, config: { 'services.model.enable': n % 2 === 0 }, imports: [] });
const overlayBody = (n: number) => ({ overrides: { hello: { version: `2.${n}` } }, additions: { [`tool${n}`]: { src: 'x' } } });
const configuration = (n: number) => ({ hostname: `model-host-${n}`, packages: n === 0 ? [] : ['hello'] });

const sample = (label: string, action: string, payload: Sample['payload'] = () => ({})): Sample => ({ label, action, payload });

/** Every sample per kind. Labels are unique per kind; the first sample of each action is its plain form. */
export const samples: Record<AggregateKind, readonly Sample[]> = {
  flake: [
    sample('create', 'create', () => ({ description: 'a model flake', template: 'minimal' })),
    sample('create with a missing input', 'create', (_, w) => ({
      description: 'a model flake',
      template: 'minimal',
      inputs: { bad: w.urls.missing },
    })),
    // An input URL outside the workspace is refused at intake (issue 12): this input passes
    // intake and fails in the effect (the template cannot name an input `self`).
    sample('create with an input named self', 'create', (_, w) => ({
      description: 'a model flake',
      template: 'minimal',
      inputs: { self: w.urls.ok },
    })),
    sample('add_input dep', 'add_input', (_, w) => ({ name: 'dep', url: w.urls.ok })),
    sample('add_input gone (missing)', 'add_input', (_, w) => ({ name: 'gone', url: w.urls.missing })),
    sample('remove_input dep', 'remove_input', () => ({ name: 'dep' })),
    sample('remove_input bad', 'remove_input', () => ({ name: 'bad' })),
    sample('update', 'update'),
    sample('update dep', 'update', () => ({ inputs: ['dep'] })),
    sample('check', 'check'),
  ],
  package: [
    sample('build', 'build'),
    sample('build with out-link', 'build', (a) => ({ output_path: `links/${a.id}` })),
    sample('cache', 'cache'),
    // A cache outside the workspace is refused at intake (issue 12): this one is inside and nix refuses it.
    sample('cache to a broken cache', 'cache', (_, w) => ({ cache_url: w.brokenCache })),
  ],
  module: [
    sample('create', 'create', () => ({ module: body(0) })),
    sample('update', 'update', () => ({ module: body(1) })),
    sample('delete', 'delete'),
  ],
  overlay: [
    sample('create', 'create', () => ({ overlay: overlayBody(0) })),
    sample('update', 'update', () => ({ overlay: overlayBody(1) })),
    sample('delete', 'delete'),
  ],
  config: [
    sample('create', 'create', () => ({ configuration: configuration(0) })),
    sample('update', 'update', () => ({ configuration: configuration(1) })),
    sample('activate switch', 'activate', () => ({ activation_type: 'switch' })),
    sample('activate Boot (Rust spelling)', 'activate', () => ({ activation_type: 'Boot' })),
    sample('activate test', 'activate', () => ({ activation_type: 'test' })),
    sample('rollback', 'rollback'),
    sample('rollback to 1', 'rollback', () => ({ to_generation: 1 })),
  ],
};

/**
 * Payloads that fail their schema (the random sequences mix them in): the service answers
 * `validation` before any aggregate sees them, so nothing changes.
 */
export const malformed: Record<AggregateKind, readonly Sample[]> = {
  flake: [
    sample('add_input with an empty name (malformed)', 'add_input', (_, w) => ({ name: '', url: w.urls.ok })),
    sample('create with an unknown template (malformed)', 'create', () => ({ description: 'x', template: 'cobol' })),
  ],
  package: [sample('build with an extra field (malformed)', 'build', () => ({ priority: 'high' }))],
  module: [sample('create without a body (malformed)', 'create')],
  overlay: [sample('update with a list body (malformed)', 'update', () => ({ overlay: [] }))],
  config: [sample('activate reboot (malformed)', 'activate', () => ({ activation_type: 'reboot' }))],
};

/** The sample of `kind` called `label`. */
export function sampleOf(kind: AggregateKind, label: string): Sample {
  const s = samples[kind].find((x) => x.label === label) ?? malformed[kind].find((x) => x.label === label);
  if (!s) throw new Error(`no ${kind} sample '${label}'`);
  return s;
}

/** A flake at workspace path `path`. */
export function flakeAddress(path: string): Address {
  return { kind: 'flake', id: flakeId(path), key: path, wire: { path } };
}

/** A package: `flake_ref#packages.x86_64-linux.default`. */
export function packageAddress(flakeRef: string): Address {
  return {
    kind: 'package',
    id: packageId(flakeRef, ATTRIBUTE),
    key: `${flakeRef}#${ATTRIBUTE}`,
    wire: { flake_ref: flakeRef, attribute: ATTRIBUTE },
  };
}

/** A module, overlay or config called `name`. */
export function namedAddress(kind: 'module' | 'overlay' | 'config', name: string): Address {
  return { kind, id: namedId(kind, name), key: name, wire: { name } };
}

/**
 * Fresh aggregates of `kind` for scope `scope` (a token unique per run). For packages,
 * `variant` picks the fixture that builds or the one that fails.
 */
export function addressFor(kind: AggregateKind, scope: string, world: World, variant: 'ok' | 'bad' = 'ok', n = 0): Address {
  switch (kind) {
    case 'flake':
      return flakeAddress(`fl/${scope}/f${n}`);
    case 'package':
      return packageAddress(packageFixtures(world, `${scope}-${n}`)[variant]);
    default:
      return namedAddress(kind, `${kind}-${scope}-${n}`);
  }
}

type ObjectSchema = {
  shape: Record<string, unknown>;
  safeParse(
    v: unknown,
  ):
    | { success: true; data: Record<string, unknown> }
    | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } };
};

/**
 * The machine event of a wire payload, as SPEC §3 describes it: addressing and identity
 * stripped, defaults applied; or why the payload fails its schema.
 */
export function machineEventOf(
  kind: AggregateKind,
  action: string,
  wire: Record<string, unknown>,
): { event: MachineEvent; invalid?: string } {
  const schema = registry[kind].commands[action] as unknown as ObjectSchema;
  const own: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(wire)) {
    if (k === 'identity' || k.endsWith('_id')) continue;
    if (k in schema.shape) own[k] = v;
    else rest[k] = v;
  }
  // A flake is addressed by path; only flake.create hands the path to the machine.
  if (kind === 'flake') delete rest['path'];
  // The wire adds only addressing fields to the machine's schema: anything else is unknown.
  const addressing = new Set(['path', 'name', 'flake_ref', 'attribute']);
  const unknown = Object.keys(rest).filter((k) => !addressing.has(k));
  const parsed = schema.safeParse(own);
  const type = `${kind}.${action}`;
  if (!parsed.success) return { event: { type }, invalid: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  if (unknown.length > 0) return { event: { type }, invalid: `unknown fields ${unknown.join(', ')}` };
  return { event: { type, ...rest, ...parsed.data } };
}

/** The wire command of sample `label` for an aggregate. */
export function wireCommand(address: Address, label: string, world: World): WireCommand {
  const s = sampleOf(address.kind, label);
  const payload = { ...address.wire, ...s.payload(address, world) };
  const { event, invalid } = machineEventOf(address.kind, s.action, payload);
  return { kind: address.kind, action: s.action, label, payload, event, ...(invalid !== undefined ? { invalid } : {}) };
}

/**
 * The part of a context the model predicts: effect results it cannot know (lock entries,
 * store paths, durations, nix's messages) are left out, output maps reduced to their keys.
 */
export function comparableContext(kind: AggregateKind, context: Record<string, unknown>): Record<string, unknown> {
  const c = structuredClone(context);
  if (kind === 'flake') {
    for (const input of Object.values(c['inputs'] as Record<string, Record<string, unknown>>)) delete input['locked'];
    for (const k of ['last_check', 'last_update']) {
      const o = c[k] as Record<string, unknown> | null;
      if (o) for (const f of ['duration_ms', 'message', 'exit_code']) delete o[f];
    }
  } else if (kind === 'package') {
    c['store_paths'] = Object.keys(c['store_paths'] as object).sort();
    for (const f of ['drv_path', 'last_duration_ms', 'cached_paths']) delete c[f];
  }
  return c;
}

/**
 * The abstraction of a snapshot that keeps graph walks finite: the state, the pending
 * effect and what decides the next outcomes and rejections (a flake's input names, a
 * configuration's rollback options), never counters that grow.
 */
export function abstractState(kind: AggregateKind, snapshot: { value: unknown; context: Record<string, unknown> }): string {
  const c = snapshot.context;
  // The whole pending effect: its outcome depends on it (a create with an input named self fails).
  const pending = JSON.stringify(c['pending_effect']);
  const base = `${String(snapshot.value)}|${pending}`;
  switch (kind) {
    case 'flake':
      return `${base}|${Object.keys(c['inputs'] as object)
        .sort()
        .join(',')}`;
    case 'package':
      // A build with output_path leaves an out-link in the workspace: the next build meets it.
      return `${base}|${c['output_path'] === null ? 'no-link' : 'link'}`;
    case 'config': {
      const gens = c['generations'] as Array<{ generation: number; activation_type: string }>;
      const current = c['current_generation'] as number | null;
      const earlierSwitch = gens.some((g) => g.activation_type === 'switch' && g.generation < (current ?? 0));
      const first = gens.some((g) => g.generation === 1) && (current ?? 0) > 1;
      return `${base}|${String(c['last_activation_type'])}|${current === null ? 'no-current' : 'current'}|${earlierSwitch}|${first}`;
    }
    default:
      return base;
  }
}
