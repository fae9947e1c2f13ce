/**
 * Loading the configuration: a JSON file (`cim-domain-nix.json` in the working directory,
 * or `--config <file>`), overridden by environment variables, every value checked against
 * its row of the settings table. {@link loadConfig} never throws: a bad configuration comes
 * back as one message that names every bad setting, where it came from and the form it
 * should have.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isLoopbackHost, SEED_RE } from './forms.js';
import { DEFAULT_CONFIG_FILE, SETTINGS, type DefaultContext, type Setting, type SettingPath, type SettingsValues } from './settings.js';

/** The validated configuration: the settings table's values, plus where they came from. */
export type Config = SettingsValues & {
  /** The configuration file that was read, if any (absolute). */
  configFile: string | undefined;
  /** True when the NATS URL came from the file or the environment, not the default. */
  natsUrlExplicit: boolean;
};

/** One bad setting. */
export interface ConfigIssue {
  /** The file key (dotted) or environment variable. */
  setting: string;
  /** `environment`, the file's path, or `command line`. */
  source: string;
  /** What was found, secrets redacted. */
  received: string;
  /** The form the value should have. */
  expected: string;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; message: string; issues: ConfigIssue[] };

type Env = Record<string, string | undefined>;

const ROWS = Object.entries(SETTINGS) as Array<[SettingPath, Setting]>;
const fileKeyOf = (path: SettingPath, s: Setting): string => s.fileKey ?? path;

/** Every key the file may hold, as dotted paths, plus their parent objects. */
const FILE_KEYS = new Set(ROWS.map(([path, s]) => fileKeyOf(path, s)));
const FILE_OBJECTS = new Set(
  [...FILE_KEYS].flatMap((key) =>
    key
      .split('.')
      .slice(0, -1)
      .map((_, i, a) => a.slice(0, i + 1).join('.')),
  ),
);

interface Found {
  value: unknown;
  /** `environment`, or the config file's path. */
  source: string;
  /** How the setting is named in that source. */
  name: string;
  /** Directory relative paths resolve against. */
  base: string;
}

/**
 * Load and validate the configuration. Never throws.
 * @param argv the command-line arguments after the script (`process.argv.slice(2)`)
 * @param env the environment (`process.env`)
 * @param cwd the directory the default file and relative paths are taken from
 */
export function loadConfig(argv: readonly string[], env: Env, cwd: string = process.cwd()): ConfigResult {
  const issues: ConfigIssue[] = [];
  const add = (setting: string, source: string, received: string, expected: string): void => {
    issues.push({ setting, source, received, expected });
  };

  const configArg = readArguments(argv, add);
  const { fileData, configFile } = readFile(cwd, configArg, add);

  // Each setting: environment first, then file, then its default.
  const values = new Map<SettingPath, { value: unknown; found: Found }>();
  for (const [path, s] of ROWS) {
    const found = lookUp(path, s, env, fileData, configFile, cwd);
    if (!found) continue;
    const value = check(s, found, add);
    if (value !== INVALID) values.set(path, { value, found });
  }
  const has = (path: SettingPath): boolean => values.has(path);
  const nameOf = (path: SettingPath): string => {
    const f = values.get(path)?.found;
    return f ? `${f.name} (${f.source})` : path;
  };

  // The whole configuration, defaults computed in table order.
  const flat = new Map<SettingPath, unknown>();
  for (const [path, s] of ROWS) {
    const d = s.default;
    flat.set(path, values.has(path) ? values.get(path)!.value : typeof d === 'function' ? (d as (ctx: DefaultContext) => unknown)({ cwd, value: (p: string) => flat.get(p as SettingPath) }) : d);
  }
  checkRules(flat, has, nameOf, add);
  if (issues.length > 0) return { ok: false, issues, message: formatIssues(issues) };

  const nested: Record<string, unknown> = {};
  for (const [path, value] of flat) setPath(nested, path, value);
  const config = nested as SettingsValues;
  // Port 0 turns the inspector off too.
  config.inspector.enabled = config.inspector.enabled && config.inspector.port !== 0;
  return { ok: true, config: { ...config, configFile, natsUrlExplicit: has('nats.servers') } };
}

/** Rules across settings: each breach is one issue naming the settings involved. */
function checkRules(
  flat: ReadonlyMap<SettingPath, unknown>,
  has: (p: SettingPath) => boolean,
  nameOf: (p: SettingPath) => string,
  add: (setting: string, source: string, received: string, expected: string) => void,
): void {
  if (has('nats.password') && !has('nats.user')) {
    add(nameOf('nats.password'), 'rule', 'a password without a user', 'NATS_USER (nats.user) set together with NATS_PASSWORD');
  }
  if (has('nats.user') && !has('nats.password')) {
    add(nameOf('nats.user'), 'rule', 'a user without a password', 'NATS_PASSWORD (nats.password) set together with NATS_USER');
  }
  const methods = [
    has('nats.user') || has('nats.password') ? nameOf(has('nats.user') ? 'nats.user' : 'nats.password') : undefined,
    has('nats.token') ? nameOf('nats.token') : undefined,
    has('nats.nkeySeed') ? nameOf('nats.nkeySeed') : undefined,
    has('nats.creds') ? nameOf('nats.creds') : undefined,
  ].filter((m): m is string => m !== undefined);
  if (methods.length > 1) {
    add(methods.join(' + '), 'rule', 'more than one authentication method', 'one of user/password, token, nkey seed or creds file (TLS may be added to any)');
  }
  if (has('nats.tls.cert') !== has('nats.tls.key')) {
    add(
      nameOf(has('nats.tls.cert') ? 'nats.tls.cert' : 'nats.tls.key'),
      'rule',
      'a client certificate without its key, or a key without its certificate',
      'NATS_TLS_CERT and NATS_TLS_KEY set together',
    );
  }
  const initialDelayMs = flat.get('nats.reconnect.initialDelayMs') as number;
  const maxDelayMs = flat.get('nats.reconnect.maxDelayMs') as number;
  if (maxDelayMs < initialDelayMs) {
    add(nameOf('nats.reconnect.maxDelayMs'), 'rule', `${maxDelayMs} below the initial delay ${initialDelayMs}`, 'a cap at least as large as the initial delay');
  }
  const inspectorOn = (flat.get('inspector.enabled') as boolean) && flat.get('inspector.port') !== 0;
  const inspectorHost = flat.get('inspector.host') as string;
  if (inspectorOn && !isLoopbackHost(inspectorHost) && !has('inspector.token')) {
    add(
      nameOf('inspector.host'),
      'rule',
      `${inspectorHost} (not a loopback address) without a token`,
      'INSPECTOR_TOKEN (inspector.token) set too, e.g. INSPECTOR_TOKEN=$(openssl rand -hex 24): off loopback the page needs it for every data request; or a loopback host such as 127.0.0.1',
    );
  }
}

/** `--config <file>` (or `--config=<file>`, `-c <file>`); anything else is an issue. */
function readArguments(argv: readonly string[], add: (setting: string, source: string, received: string, expected: string) => void): string | undefined {
  let configArg: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--config' || a === '-c') {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('-')) add('--config', 'command line', 'nothing', 'a file path after --config');
      else configArg = next;
      i++;
    } else if (a.startsWith('--config=')) {
      configArg = a.slice('--config='.length);
      if (!configArg) add('--config', 'command line', 'nothing', 'a file path after --config=');
    } else {
      add(a, 'command line', 'an unknown argument', '--config <file> (see --help)');
    }
  }
  return configArg;
}

function readFile(
  cwd: string,
  configArg: string | undefined,
  add: (setting: string, source: string, received: string, expected: string) => void,
): { fileData: Record<string, unknown>; configFile: string | undefined } {
  const candidate = resolve(cwd, configArg ?? DEFAULT_CONFIG_FILE);
  let text: string;
  try {
    text = readFileSync(candidate, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (configArg !== undefined || code !== 'ENOENT') {
      add('--config', configArg !== undefined ? 'command line' : 'working directory', `${candidate} (${code ?? String(e)})`, 'a readable JSON configuration file');
    }
    return { fileData: {}, configFile: undefined };
  }
  const source = `file ${candidate}`;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      add('(whole file)', source, describe(parsed), 'a JSON object of settings');
      return { fileData: {}, configFile: candidate };
    }
    const fileData = parsed as Record<string, unknown>;
    for (const unknownKey of unknownKeys(fileData, '')) add(unknownKey, source, 'an unknown key', knownKeysNear(unknownKey));
    return { fileData, configFile: candidate };
  } catch (e) {
    add('(whole file)', source, `invalid JSON (${(e as Error).message})`, 'a JSON object of settings');
    return { fileData: {}, configFile: candidate };
  }
}

/** Where a setting is given: the environment wins over the file. */
function lookUp(path: SettingPath, s: Setting, env: Env, fileData: Record<string, unknown>, configFile: string | undefined, cwd: string): Found | undefined {
  const envValue = env[s.env];
  if (envValue !== undefined && envValue !== '') return { value: envValue, source: 'environment', name: s.env, base: cwd };
  if (!configFile) return undefined;
  const key = fileKeyOf(path, s);
  const v = getPath(fileData, key);
  return v === undefined ? undefined : { value: v, source: `file ${configFile}`, name: key, base: dirname(configFile) };
}

const INVALID = Symbol('invalid');

/** The value of a setting as found, checked and resolved (paths, files, seeds), or INVALID with an issue added. */
function check(s: Setting, found: Found, add: (setting: string, source: string, received: string, expected: string) => void): unknown {
  const parsed = s.schema.safeParse(found.value);
  if (!parsed.success) {
    add(found.name, found.source, s.kind === 'secret' || s.kind === 'seed' ? 'a value that is not accepted' : describe(found.value), s.expected);
    return INVALID;
  }
  let value: unknown = parsed.data;
  if (s.kind === 'path' || s.kind === 'file') value = resolve(found.base, value as string);
  if (s.kind === 'file') {
    const problem = unreadableFile(value as string);
    if (problem) {
      add(found.name, found.source, `${value as string} (${problem})`, s.expected);
      return INVALID;
    }
  }
  if (s.kind === 'seed') {
    const raw = (value as string).trim();
    if (SEED_RE.test(raw)) return raw;
    const path = resolve(found.base, raw);
    const problem = unreadableFile(path);
    if (problem) {
      add(found.name, found.source, raw.startsWith('S') ? 'a malformed seed' : `${path} (${problem})`, s.expected);
      return INVALID;
    }
    return path;
  }
  return value;
}

/** The one message for a failed load: every issue on its own line. */
export function formatIssues(issues: readonly ConfigIssue[]): string {
  const head = `Invalid configuration: ${issues.length} problem${issues.length === 1 ? '' : 's'}.`;
  const body = issues.map((i) => `  - ${i.setting} [${i.source}]: got ${i.received}; expected ${i.expected}.`);
  return [head, ...body, 'Fix these settings (see --help for all of them) and start again.'].join('\n');
}

function getPath(obj: Record<string, unknown>, key: string): unknown {
  let cur: unknown = obj;
  for (const part of key.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) cur = (cur[part] ??= {}) as Record<string, unknown>;
  cur[parts.at(-1)!] = value;
}

function unknownKeys(obj: Record<string, unknown>, prefix: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (k === '$schema' && !prefix) continue;
    if (FILE_KEYS.has(path)) continue;
    if (FILE_OBJECTS.has(path) && typeof v === 'object' && v !== null && !Array.isArray(v)) out.push(...unknownKeys(v as Record<string, unknown>, path));
    else out.push(path);
  }
  return out;
}

/** The keys allowed beside an unknown one, closest first ("did you mean …"). */
function knownKeysNear(key: string): string {
  const parent = key.includes('.') ? key.slice(0, key.lastIndexOf('.')) : '';
  const siblings = [...new Set([...FILE_KEYS, ...FILE_OBJECTS])].filter((k) => (k.includes('.') ? k.slice(0, k.lastIndexOf('.')) : '') === parent);
  const leaf = key.slice(parent ? parent.length + 1 : 0);
  const distance = (k: string): number => editDistance(k.slice(parent ? parent.length + 1 : 0), leaf);
  const best = Math.min(...siblings.map(distance));
  const close = best <= 2 ? siblings.filter((k) => distance(k) === best) : [];
  const hint = close.length > 0 ? ` (did you mean ${close.join(' or ')}?)` : '';
  return `one of ${siblings.join(', ')}${hint}`;
}

/** Optimal string alignment distance: edits, with a swap of neighbours counting as one. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = v;
    }
  }
  return at(a.length, b.length);
}

function unreadableFile(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return 'not a regular file';
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES') return 'not readable';
    return code ?? 'cannot be read';
  }
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v;
}
