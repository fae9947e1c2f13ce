/**
 * Configuration: a JSON file (`cim-domain-nix.json` in the working directory, or
 * `--config <file>`), overridden by environment variables, every value checked with zod.
 * {@link loadConfig} never throws: a bad configuration comes back as one message that names
 * every bad setting, where it came from and the form it should have.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_CONFIG_FILE = 'cim-domain-nix.json';
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** The validated configuration (camelCase; file keys use the same names). */
export interface Config {
  /** The configuration file that was read, if any (absolute). */
  configFile: string | undefined;
  nats: {
    /** Server URLs, in order (`NATS_URL` may list several, comma-separated). */
    servers: string[];
    user: string | undefined;
    password: string | undefined;
    token: string | undefined;
    /** An nkey user seed (`SU…`) or the absolute path of a file that holds one. */
    nkeySeed: string | undefined;
    /** Absolute path of a `.creds` file (user JWT + seed). */
    creds: string | undefined;
    tls: {
      /** Absolute paths of PEM files. */
      ca: string | undefined;
      cert: string | undefined;
      key: string | undefined;
    };
    /** The websocket URL the inspector page connects to, when it is not the embedded server's. */
    wsUrl: string | undefined;
    /** May `npm start` run an embedded nats-server when no URL is configured and none answers? */
    embedded: boolean;
    /** How long one attempt may wait for the server's handshake before it counts as failed. */
    connectTimeoutMs: number;
    reconnect: {
      initialDelayMs: number;
      factor: number;
      maxDelayMs: number;
      /** Attempts in a row before giving up; `null` = retry forever. */
      maxAttempts: number | null;
    };
  };
  /** True when the NATS URL came from the file or the environment, not the default. */
  natsUrlExplicit: boolean;
  /** The subject prefix `P` (one subject token). */
  prefix: string;
  /** Absolute path of the Nix workspace. */
  workspace: string;
  inspector: {
    /** False when disabled or when the port is 0. */
    enabled: boolean;
    port: number;
  };
  log: { level: LogLevel };
  aggregates: {
    /** An aggregate actor idle this long is passivated (stopped; rebuilt on demand). */
    passivationIdleMs: number;
    /** At most this many aggregates stay resident; the least recently used are passivated first. */
    residentCap: number;
    /** At most this many resident aggregates keep a running actor; idle ones beyond it sleep as persisted snapshots. */
    awakeCap: number;
    /** A snapshot is stored every N events of an aggregate. */
    snapshotEvery: number;
    /** Longest a command may take, its Nix effect included, before it is answered `unavailable`. */
    commandTimeoutMs: number;
    /** How long the publisher keeps retrying to store an event before it becomes a dead letter. */
    storeRetryBudgetMs: number;
  };
  nix: {
    /** Run `nixos-rebuild` on config.activate (only on NixOS hosts). */
    activationEnabled: boolean;
    /** The file whose presence marks a NixOS host (activation runs only there). */
    nixosMarker: string;
    /** The nixos-rebuild program. */
    nixosRebuildBin: string;
    /** Default binary cache for package.cache. */
    binaryCacheUrl: string;
  };
}

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

// ---------------------------------------------------------------------------------------
// Value forms

const TOKEN_RE = /^[A-Za-z0-9_-]+$/;
const SEED_RE = /^SU[A-Z2-7]{56}$/;

/** Strings from the environment (or quoted in the file) become numbers when they look like one. */
const asNumber = (v: unknown): unknown => {
  if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  return v;
};
const asBoolean = (v: unknown): unknown => {
  if (typeof v !== 'string') return v;
  const s = v.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  return v;
};

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.preprocess(asNumber, z.number().int().min(min).max(max));
const bool = z.preprocess(asBoolean, z.boolean());
const text = z.string().trim().min(1);

const natsUrl = z.string().transform((s, ctx) => {
  const parts = s
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (parts.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'empty' });
    return z.NEVER;
  }
  const out: string[] = [];
  for (const p of parts) {
    const withScheme = /^[a-z]+:\/\//i.test(p) ? p : `nats://${p}`;
    let u: URL;
    try {
      u = new URL(withScheme.replace(/^(nats|tls):/i, 'http:'));
    } catch {
      ctx.addIssue({ code: 'custom', message: p });
      return z.NEVER;
    }
    if (!/^(nats|tls):\/\//i.test(withScheme) || !u.hostname || (u.pathname !== '/' && u.pathname !== '')) {
      ctx.addIssue({ code: 'custom', message: p });
      return z.NEVER;
    }
    out.push(withScheme);
  }
  return out;
});

const wsUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === 'ws:' || u.protocol === 'wss:') && u.hostname.length > 0;
  } catch {
    return false;
  }
});

const maxAttempts = z.preprocess(
  (v) => {
    if (v === null) return null;
    if (typeof v === 'string' && ['infinite', 'infinity', 'unlimited', 'forever'].includes(v.trim().toLowerCase())) return null;
    const n = asNumber(v);
    if (n === -1) return null;
    return n;
  },
  z.union([z.null(), z.number().int().min(1)]),
);

const binaryCacheUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return ['file:', 'http:', 'https:', 's3:', 'ssh:', 'ssh-ng:'].includes(u.protocol);
  } catch {
    return false;
  }
});

// ---------------------------------------------------------------------------------------
// Settings: one row per value, with its file key, variable and expected form

type Kind = 'plain' | 'secret' | 'path' | 'file' | 'seed';

interface Setting {
  /** Dotted key in the file, which is also the path in {@link Config} (except `nats.url`). */
  key: string;
  env: string;
  schema: z.ZodType;
  expected: string;
  kind?: Kind;
}

const SETTINGS: Setting[] = [
  {
    key: 'nats.url',
    env: 'NATS_URL',
    // The file may also give a list.
    schema: z.preprocess((v) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.join(',') : v), natsUrl),
    expected: 'a NATS URL such as nats://127.0.0.1:4222 or tls://host:4443 (several comma-separated)',
  },
  { key: 'nats.user', env: 'NATS_USER', schema: text, expected: 'a non-empty user name' },
  { key: 'nats.password', env: 'NATS_PASSWORD', schema: text, expected: 'a non-empty password', kind: 'secret' },
  { key: 'nats.token', env: 'NATS_TOKEN', schema: text, expected: 'a non-empty token', kind: 'secret' },
  {
    key: 'nats.nkeySeed',
    env: 'NATS_NKEY_SEED',
    schema: text,
    expected: 'an nkey user seed (SU… , 58 characters) or the path of a readable file that holds one',
    kind: 'seed',
  },
  { key: 'nats.creds', env: 'NATS_CREDS', schema: text, expected: 'the path of a readable .creds file', kind: 'file' },
  { key: 'nats.tls.ca', env: 'NATS_TLS_CA', schema: text, expected: 'the path of a readable PEM CA certificate', kind: 'file' },
  {
    key: 'nats.tls.cert',
    env: 'NATS_TLS_CERT',
    schema: text,
    expected: 'the path of a readable PEM client certificate',
    kind: 'file',
  },
  { key: 'nats.tls.key', env: 'NATS_TLS_KEY', schema: text, expected: 'the path of a readable PEM private key', kind: 'file' },
  { key: 'nats.wsUrl', env: 'NATS_WS_URL', schema: wsUrl, expected: 'a websocket URL such as ws://127.0.0.1:8443' },
  { key: 'nats.embedded', env: 'NATS_EMBEDDED', schema: bool, expected: 'true or false' },
  {
    key: 'nats.connectTimeoutMs',
    env: 'NATS_CONNECT_TIMEOUT_MS',
    schema: int(100, 600_000),
    expected: 'a whole number of milliseconds from 100 to 600000',
  },
  {
    key: 'nats.reconnect.initialDelayMs',
    env: 'NATS_RECONNECT_INITIAL_MS',
    schema: int(0, 3_600_000),
    expected: 'a whole number of milliseconds from 0 to 3600000',
  },
  {
    key: 'nats.reconnect.factor',
    env: 'NATS_RECONNECT_FACTOR',
    schema: z.preprocess(asNumber, z.number().min(1).max(100)),
    expected: 'a number from 1 to 100',
  },
  {
    key: 'nats.reconnect.maxDelayMs',
    env: 'NATS_RECONNECT_MAX_MS',
    schema: int(0, 3_600_000),
    expected: 'a whole number of milliseconds from 0 to 3600000',
  },
  {
    key: 'nats.reconnect.maxAttempts',
    env: 'NATS_RECONNECT_MAX_ATTEMPTS',
    schema: maxAttempts,
    expected: 'a whole number ≥ 1, or "infinite" (also -1 or null) to retry forever',
  },
  {
    key: 'prefix',
    env: 'NIX_DOMAIN_PREFIX',
    schema: z.string().regex(TOKEN_RE),
    expected: 'one subject token: letters, digits, _ or - (no dots, spaces or wildcards)',
  },
  { key: 'workspace', env: 'NIX_WORKSPACE', schema: text, expected: 'a directory path', kind: 'path' },
  { key: 'inspector.enabled', env: 'INSPECTOR_ENABLED', schema: bool, expected: 'true or false' },
  {
    key: 'inspector.port',
    env: 'INSPECTOR_PORT',
    schema: int(0, 65535),
    expected: 'a TCP port from 1 to 65535, or 0 to turn the inspector off',
  },
  {
    key: 'log.level',
    env: 'LOG_LEVEL',
    schema: z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), z.enum(LOG_LEVELS)),
    expected: `one of ${LOG_LEVELS.join(', ')}`,
  },
  {
    key: 'aggregates.passivationIdleMs',
    env: 'NIX_PASSIVATION_IDLE_MS',
    schema: int(1),
    expected: 'a whole number of milliseconds ≥ 1',
  },
  { key: 'aggregates.residentCap', env: 'NIX_RESIDENT_CAP', schema: int(1), expected: 'a whole number ≥ 1' },
  { key: 'aggregates.awakeCap', env: 'NIX_AWAKE_CAP', schema: int(1), expected: 'a whole number ≥ 1' },
  { key: 'aggregates.snapshotEvery', env: 'NIX_SNAPSHOT_EVERY', schema: int(1), expected: 'a whole number of events ≥ 1' },
  {
    key: 'aggregates.commandTimeoutMs',
    env: 'NIX_COMMAND_TIMEOUT_MS',
    schema: int(1),
    expected: 'a whole number of milliseconds ≥ 1',
  },
  {
    key: 'aggregates.storeRetryBudgetMs',
    env: 'NIX_STORE_RETRY_BUDGET_MS',
    schema: int(1),
    expected: 'a whole number of milliseconds ≥ 1',
  },
  { key: 'nix.activationEnabled', env: 'NIX_ACTIVATION_ENABLED', schema: bool, expected: 'true or false' },
  { key: 'nix.nixosMarker', env: 'NIX_NIXOS_MARKER', schema: text, expected: 'the path of the file that marks a NixOS host', kind: 'path' },
  { key: 'nix.nixosRebuildBin', env: 'NIX_NIXOS_REBUILD', schema: text, expected: 'the nixos-rebuild program (a name on PATH or a path)' },
  {
    key: 'nix.binaryCacheUrl',
    env: 'NIX_BINARY_CACHE_URL',
    schema: binaryCacheUrl,
    expected: 'a Nix store URL such as file:///var/cache/nix or https://cache.example.org',
  },
];

/** Every key the file may hold, as dotted paths, plus their parent objects. */
const FILE_KEYS = new Set(SETTINGS.map((s) => s.key));
const FILE_OBJECTS = new Set(
  SETTINGS.flatMap((s) =>
    s.key
      .split('.')
      .slice(0, -1)
      .map((_, i, a) => a.slice(0, i + 1).join('.')),
  ),
);

// ---------------------------------------------------------------------------------------

interface Found {
  value: unknown;
  /** `environment`, or the config file's path. */
  source: string;
  /** How the setting is named in that source. */
  name: string;
  /** Directory relative paths resolve against. */
  base: string;
}

/** The usage text for `--help`. */
export function usage(): string {
  const lines = [
    'Usage: cim-domain-nix [--config <file>]',
    '',
    `Reads ${DEFAULT_CONFIG_FILE} from the working directory (or the --config file), then`,
    'environment variables, which win. Settings (file key / environment variable):',
    '',
    ...SETTINGS.map((s) => `  ${s.key.padEnd(32)} ${s.env.padEnd(28)} ${s.expected}`),
  ];
  return lines.join('\n');
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

  // Command line: only --config.
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

  // The file.
  let fileData: Record<string, unknown> = {};
  let configFile: string | undefined;
  const fileSource = (p: string): string => `file ${p}`;
  const candidate = configArg !== undefined ? resolve(cwd, configArg) : resolve(cwd, DEFAULT_CONFIG_FILE);
  let text: string | undefined;
  try {
    text = readFileSync(candidate, 'utf8');
    configFile = candidate;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (configArg !== undefined || code !== 'ENOENT') {
      add(
        '--config',
        configArg !== undefined ? 'command line' : 'working directory',
        `${candidate} (${code ?? String(e)})`,
        'a readable JSON configuration file',
      );
    }
  }
  if (text !== undefined && configFile) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        add('(whole file)', fileSource(configFile), describe(parsed), 'a JSON object of settings');
      } else {
        fileData = parsed as Record<string, unknown>;
        for (const unknownKey of unknownKeys(fileData, '')) {
          add(unknownKey, fileSource(configFile), 'an unknown key', knownKeysNear(unknownKey));
        }
      }
    } catch (e) {
      add('(whole file)', fileSource(configFile), `invalid JSON (${(e as Error).message})`, 'a JSON object of settings');
    }
  }

  // Each setting: environment first, then file, then default.
  const values = new Map<string, { value: unknown; found: Found }>();
  for (const s of SETTINGS) {
    let found: Found | undefined;
    const envValue = env[s.env];
    if (envValue !== undefined && envValue !== '') {
      found = { value: envValue, source: 'environment', name: s.env, base: cwd };
    } else if (configFile) {
      const v = getPath(fileData, s.key);
      if (v !== undefined) found = { value: v, source: fileSource(configFile), name: s.key, base: dirname(configFile) };
    }
    if (!found) continue;
    const parsed = s.schema.safeParse(found.value);
    if (!parsed.success) {
      add(
        found.name,
        found.source,
        s.kind === 'secret' || s.kind === 'seed' ? 'a value that is not accepted' : describe(found.value),
        s.expected,
      );
      continue;
    }
    let value: unknown = parsed.data;
    if (s.kind === 'path' || s.kind === 'file') value = resolve(found.base, value as string);
    if (s.kind === 'file') {
      const problem = unreadableFile(value as string);
      if (problem) {
        add(found.name, found.source, `${value as string} (${problem})`, s.expected);
        continue;
      }
    }
    if (s.kind === 'seed') {
      const raw = (value as string).trim();
      if (!SEED_RE.test(raw)) {
        const path = resolve(found.base, raw);
        const problem = unreadableFile(path);
        if (problem) {
          add(found.name, found.source, raw.startsWith('S') ? 'a malformed seed' : `${path} (${problem})`, s.expected);
          continue;
        }
        value = path;
      } else {
        value = raw;
      }
    }
    values.set(s.key, { value, found });
  }

  const get = <T>(key: string, fallback: T): T => (values.has(key) ? (values.get(key)?.value as T) : fallback);
  const nameOf = (key: string): string => {
    const f = values.get(key)?.found;
    return f ? `${f.name} (${f.source})` : key;
  };

  // Rules across settings.
  const has = (key: string): boolean => values.has(key);
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
    add(
      methods.join(' + '),
      'rule',
      'more than one authentication method',
      'one of user/password, token, nkey seed or creds file (TLS may be added to any)',
    );
  }
  if (has('nats.tls.cert') !== has('nats.tls.key')) {
    const which = has('nats.tls.cert') ? 'nats.tls.cert' : 'nats.tls.key';
    add(
      nameOf(which),
      'rule',
      'a client certificate without its key, or a key without its certificate',
      'NATS_TLS_CERT and NATS_TLS_KEY set together',
    );
  }
  const initialDelayMs = get('nats.reconnect.initialDelayMs', 100);
  const maxDelayMs = get('nats.reconnect.maxDelayMs', 2000);
  if (maxDelayMs < initialDelayMs) {
    add(
      nameOf('nats.reconnect.maxDelayMs'),
      'rule',
      `${maxDelayMs} below the initial delay ${initialDelayMs}`,
      'a cap at least as large as the initial delay',
    );
  }

  if (issues.length > 0) {
    return { ok: false, issues, message: formatIssues(issues) };
  }

  const workspace = get('workspace', resolve(cwd, 'workspace'));
  const port = get<number>('inspector.port', 8787);
  const config: Config = {
    configFile,
    nats: {
      servers: get('nats.url', [DEFAULT_NATS_URL]),
      user: get<string | undefined>('nats.user', undefined),
      password: get<string | undefined>('nats.password', undefined),
      token: get<string | undefined>('nats.token', undefined),
      nkeySeed: get<string | undefined>('nats.nkeySeed', undefined),
      creds: get<string | undefined>('nats.creds', undefined),
      tls: {
        ca: get<string | undefined>('nats.tls.ca', undefined),
        cert: get<string | undefined>('nats.tls.cert', undefined),
        key: get<string | undefined>('nats.tls.key', undefined),
      },
      wsUrl: get<string | undefined>('nats.wsUrl', undefined),
      embedded: get('nats.embedded', true),
      connectTimeoutMs: get<number>('nats.connectTimeoutMs', 5_000),
      reconnect: {
        initialDelayMs,
        factor: get('nats.reconnect.factor', 2),
        maxDelayMs,
        maxAttempts: get<number | null>('nats.reconnect.maxAttempts', null),
      },
    },
    natsUrlExplicit: has('nats.url'),
    prefix: get('prefix', 'nix'),
    workspace,
    inspector: { enabled: get('inspector.enabled', true) && port !== 0, port },
    log: { level: get<LogLevel>('log.level', 'info') },
    aggregates: {
      passivationIdleMs: get('aggregates.passivationIdleMs', 120_000),
      residentCap: get('aggregates.residentCap', 1_000_000),
      awakeCap: get('aggregates.awakeCap', 10_000),
      snapshotEvery: get('aggregates.snapshotEvery', 100),
      commandTimeoutMs: get('aggregates.commandTimeoutMs', 600_000),
      storeRetryBudgetMs: get('aggregates.storeRetryBudgetMs', 10_000),
    },
    nix: {
      activationEnabled: get('nix.activationEnabled', false),
      nixosMarker: get('nix.nixosMarker', '/etc/NIXOS'),
      nixosRebuildBin: get('nix.nixosRebuildBin', 'nixos-rebuild'),
      binaryCacheUrl: get('nix.binaryCacheUrl', pathToFileURL(resolve(workspace, '.binary-cache')).href),
    },
  };
  return { ok: true, config };
}

/** The one message for a failed load: every issue on its own line. */
export function formatIssues(issues: readonly ConfigIssue[]): string {
  const head = `Invalid configuration: ${issues.length} problem${issues.length === 1 ? '' : 's'}.`;
  const body = issues.map((i) => `  - ${i.setting} [${i.source}]: got ${i.received}; expected ${i.expected}.`);
  return [head, ...body, 'Fix these settings (see --help for all of them) and start again.'].join('\n');
}

/** Settings as (key, variable, expected form), for docs and `--help`. */
export function describeSettings(): { key: string; env: string; expected: string }[] {
  return SETTINGS.map(({ key, env, expected }) => ({ key, env, expected }));
}

function getPath(obj: Record<string, unknown>, key: string): unknown {
  let cur: unknown = obj;
  for (const part of key.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function unknownKeys(obj: Record<string, unknown>, prefix: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (k === '$schema' && !prefix) continue;
    if (FILE_KEYS.has(path)) continue;
    if (FILE_OBJECTS.has(path) && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      out.push(...unknownKeys(v as Record<string, unknown>, path));
    } else {
      out.push(path);
    }
  }
  return out;
}

/** The keys allowed beside an unknown one, closest first ("did you mean …"). */
function knownKeysNear(key: string): string {
  const parent = key.includes('.') ? key.slice(0, key.lastIndexOf('.')) : '';
  const siblings = [...new Set([...FILE_KEYS, ...FILE_OBJECTS])].filter(
    (k) => (k.includes('.') ? k.slice(0, k.lastIndexOf('.')) : '') === parent,
  );
  const leaf = key.slice(parent ? parent.length + 1 : 0);
  const distance = (k: string): number => editDistance(k.slice(parent ? parent.length + 1 : 0), leaf);
  const best = Math.min(...siblings.map(distance));
  const close = best <= 2 ? siblings.filter((k) => distance(k) === best) : [];
  const hint = close.length > 0 ? ` (did you mean ${close.join(' or ')}?)` : '';
  return `one of ${siblings.join(', ')}${hint}`;
}

/** Optimal string alignment distance: edits, with a swap of neighbours counting as one. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
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
