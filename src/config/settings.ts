/**
 * Every setting of the service in one table: where it sits in the configuration (and the
 * file), its environment variable, its schema, its default and its help. The `Config` type is
 * inferred from this table, `--help` and the README's configuration table are generated from
 * it (test/unit/readme.test.ts keeps the README equal to it), and the loader builds the
 * configuration by walking it. A new setting is one row here.
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { z } from 'zod';
// The one name of the default cache directory, shared with the Nix port (a leaf module: no port code loads here).
import { DEFAULT_BINARY_CACHE_DIR } from '../nix/reserved.js';
import { bindHost, bool, int, maxAttempts, natsUrls, oneOf, storeUrl, text, TOKEN_RE, wsUrl, asNumber } from './forms.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** `auto`: readable lines when stdout is a terminal, JSON lines otherwise. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormatSetting = (typeof LOG_FORMATS)[number];

export const DEFAULT_CONFIG_FILE = 'cim-domain-nix.json';
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** How a value is handled beyond its schema: secrets are never echoed; paths resolve; files must be readable. */
export type SettingKind = 'plain' | 'secret' | 'path' | 'file' | 'seed';

/** What a computed default may look at: the working directory and the values set so far (table order). */
export interface DefaultContext {
  cwd: string;
  value(path: string): unknown;
}

/** One setting. Its place in the configuration is its key in {@link SETTINGS}. */
export interface Setting<T = unknown> {
  /** The key in the file when it is not the configuration path (`nats.url` for `nats.servers`). */
  fileKey?: string;
  env: string;
  schema: z.ZodType<T, unknown>;
  /** `undefined` for an optional setting; a function for a default computed from others. */
  default: T | undefined | ((ctx: DefaultContext) => T);
  /** How the default reads in the docs, when it is computed. */
  defaultText?: string;
  /** What the setting does, for people (README, `--help`). */
  help: string;
  /** The form a value must have (error messages). */
  expected: string;
  kind?: SettingKind;
}

/** Declares one row, keeping its value type and whether it is optional for {@link SettingsValues}. */
function row<T, const D extends T | undefined | ((ctx: DefaultContext) => T)>(s: Omit<Setting<T>, 'default'> & { default: D }): Setting<T> & { default: D } {
  return s;
}

const ms = (min: number, max?: number) => ({
  schema: int(min, max),
  expected: max === undefined ? `a whole number of milliseconds ≥ ${min}` : `a whole number of milliseconds from ${min} to ${max}`,
});

export const SETTINGS = {
  'nats.servers': row({
    fileKey: 'nats.url',
    env: 'NATS_URL',
    schema: natsUrls,
    default: [DEFAULT_NATS_URL],
    defaultText: '`nats://127.0.0.1:4222`',
    help: 'the NATS servers: `nats://host:port` or `tls://…`, several comma-separated',
    expected: 'a NATS URL such as nats://127.0.0.1:4222 or tls://host:4443 (several comma-separated)',
  }),
  'nats.user': row({ env: 'NATS_USER', schema: text, default: undefined, help: 'user name; with `NATS_PASSWORD`, both or neither', expected: 'a non-empty user name' }),
  'nats.password': row({ env: 'NATS_PASSWORD', schema: text, default: undefined, help: 'password of `NATS_USER`', expected: 'a non-empty password', kind: 'secret' }),
  'nats.token': row({ env: 'NATS_TOKEN', schema: text, default: undefined, help: 'an authentication token', expected: 'a non-empty token', kind: 'secret' }),
  'nats.nkeySeed': row({
    env: 'NATS_NKEY_SEED',
    schema: text,
    default: undefined,
    help: 'an nkey user seed (`SU…`), or a file holding one',
    expected: 'an nkey user seed (SU… , 58 characters) or the path of a readable file that holds one',
    kind: 'seed',
  }),
  'nats.creds': row({ env: 'NATS_CREDS', schema: text, default: undefined, help: 'a `.creds` file (user JWT and seed)', expected: 'the path of a readable .creds file', kind: 'file' }),
  'nats.tls.ca': row({ env: 'NATS_TLS_CA', schema: text, default: undefined, help: 'PEM CA certificate to verify the server', expected: 'the path of a readable PEM CA certificate', kind: 'file' }),
  'nats.tls.cert': row({
    env: 'NATS_TLS_CERT',
    schema: text,
    default: undefined,
    help: 'client certificate (mutual TLS); with `NATS_TLS_KEY`, both or neither',
    expected: 'the path of a readable PEM client certificate',
    kind: 'file',
  }),
  'nats.tls.key': row({ env: 'NATS_TLS_KEY', schema: text, default: undefined, help: 'the client certificate\'s key', expected: 'the path of a readable PEM private key', kind: 'file' }),
  'nats.wsUrl': row({
    env: 'NATS_WS_URL',
    schema: wsUrl,
    default: undefined,
    defaultText: "the embedded server's",
    help: 'websocket URL an inspector page in direct mode connects to',
    expected: 'a websocket URL such as ws://127.0.0.1:8443',
  }),
  'nats.inboxPrefix': row({
    env: 'NATS_INBOX_PREFIX',
    schema: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/),
    default: '_INBOX',
    help: 'where replies and JetStream deliveries to the service arrive (`_INBOX_cim_domain_nix` with the example roles; see [Security](#security))',
    expected: 'subject tokens without wildcards, such as _INBOX_cim_domain_nix (replies arrive under <prefix>.>; the server may allow a role only its own)',
  }),
  'nats.embedded': row({ env: 'NATS_EMBEDDED', schema: bool, default: true, help: 'may `npm start` run an embedded nats-server', expected: 'true or false' }),
  'nats.connectTimeoutMs': row({ env: 'NATS_CONNECT_TIMEOUT_MS', ...ms(100, 600_000), default: 5_000, help: 'bound of one connection attempt' }),
  'nats.reconnect.initialDelayMs': row({ env: 'NATS_RECONNECT_INITIAL_MS', ...ms(0, 3_600_000), default: 100, help: 'first back-off ceiling' }),
  'nats.reconnect.factor': row({
    env: 'NATS_RECONNECT_FACTOR',
    schema: z.preprocess(asNumber, z.number().min(1).max(100)),
    default: 2,
    help: 'growth of the back-off per attempt',
    expected: 'a number from 1 to 100',
  }),
  'nats.reconnect.maxDelayMs': row({ env: 'NATS_RECONNECT_MAX_MS', ...ms(0, 3_600_000), default: 2_000, help: 'cap of every back-off' }),
  'nats.reconnect.maxAttempts': row({
    env: 'NATS_RECONNECT_MAX_ATTEMPTS',
    schema: maxAttempts,
    default: null,
    defaultText: '`infinite`',
    help: 'attempts in a row before giving up',
    expected: 'a whole number ≥ 1, or "infinite" (also -1 or null) to retry forever',
  }),
  prefix: row({
    env: 'NIX_DOMAIN_PREFIX',
    schema: z.string().regex(TOKEN_RE),
    default: 'nix',
    help: 'the subject prefix `P`: one subject token',
    expected: 'one subject token: letters, digits, _ or - (no dots, spaces or wildcards)',
  }),
  workspace: row({
    env: 'NIX_WORKSPACE',
    schema: text,
    default: ({ cwd }) => resolve(cwd, 'workspace'),
    defaultText: '`./workspace`',
    help: 'the directory all Nix work happens in',
    expected: 'a directory path',
    kind: 'path',
  }),
  'inspector.enabled': row({ env: 'INSPECTOR_ENABLED', schema: bool, default: true, help: 'serve the inspector page', expected: 'true or false' }),
  'inspector.port': row({
    env: 'INSPECTOR_PORT',
    schema: int(0, 65535),
    default: 8787,
    help: 'port of the inspector page; `0` turns the inspector off',
    expected: 'a TCP port from 1 to 65535, or 0 to turn the inspector off',
  }),
  'inspector.host': row({
    env: 'INSPECTOR_HOST',
    schema: bindHost,
    default: '127.0.0.1',
    help: 'address the inspector page binds to; any non-loopback address needs `INSPECTOR_TOKEN` (start-up stops without it)',
    expected: 'an IP address or host name to bind the page to, e.g. 127.0.0.1 (default) or 0.0.0.0; any non-loopback address needs INSPECTOR_TOKEN',
  }),
  'inspector.token': row({
    env: 'INSPECTOR_TOKEN',
    schema: z.string().regex(/^[A-Za-z0-9._~+/=-]{16,512}$/),
    default: undefined,
    help: 'bearer token every inspector data request must carry (16–512 characters, e.g. `openssl rand -hex 24`); never logged',
    expected: 'a bearer token of 16 to 512 characters (letters, digits, . _ ~ + / = -), e.g. from `openssl rand -hex 24`',
    kind: 'secret',
  }),
  'log.level': row({ env: 'LOG_LEVEL', schema: oneOf(LOG_LEVELS), default: 'info', help: 'fatal … trace, silent', expected: `one of ${LOG_LEVELS.join(', ')}` }),
  'log.format': row({
    env: 'LOG_FORMAT',
    schema: oneOf(LOG_FORMATS),
    default: 'auto',
    help: '`json`, `pretty`, or `auto`: readable lines when stdout is a terminal, JSON lines otherwise (see [Logging](#logging))',
    expected: 'json, pretty, or auto (pretty when stdout is a terminal, JSON otherwise)',
  }),
  'aggregates.passivationIdleMs': row({ env: 'NIX_PASSIVATION_IDLE_MS', ...ms(1), default: 120_000, help: 'idle time before an actor is passivated' }),
  'aggregates.residentCap': row({
    env: 'NIX_RESIDENT_CAP',
    schema: int(1),
    default: 1_000_000,
    help: 'most resident aggregates (awake or asleep); beyond it the least recently used are passivated',
    expected: 'a whole number ≥ 1',
  }),
  'aggregates.awakeCap': row({
    env: 'NIX_AWAKE_CAP',
    schema: int(1),
    default: 10_000,
    help: 'most running aggregate actors; idle ones beyond it sleep as their persisted snapshot in memory and wake on their next command without a store read',
    expected: 'a whole number ≥ 1',
  }),
  'aggregates.snapshotEvery': row({ env: 'NIX_SNAPSHOT_EVERY', schema: int(1), default: 100, help: 'a snapshot every N events', expected: 'a whole number of events ≥ 1' }),
  'aggregates.commandTimeoutMs': row({
    env: 'NIX_COMMAND_TIMEOUT_MS',
    ...ms(1),
    default: 600_000,
    help: 'longest a command (with its effect) waits for its answer before `unavailable` (the outcome still lands on the event subjects)',
  }),
  'aggregates.storeRetryBudgetMs': row({
    env: 'NIX_STORE_RETRY_BUDGET_MS',
    ...ms(1),
    default: 10_000,
    help: 'how long storing an event is retried before it becomes a dead letter',
  }),
  'cluster.replicas': row({
    env: 'NIX_REPLICAS',
    schema: int(1, 5),
    default: 1,
    help: 'replicas of the event stream and of every bucket (3 on a three-node NATS cluster; see docs/cluster.md)',
    expected: 'a number of replicas from 1 to 5 (1, or 3 on a three-node NATS cluster; at most its JetStream servers)',
  }),
  'cluster.partitions': row({
    env: 'NIX_PARTITIONS',
    schema: int(1, 1024),
    default: 64,
    help: 'partitions of the aggregates among instances; fixed for a deployment (recorded at first start)',
    expected: 'a whole number from 1 to 1024, the same on every instance and for the life of the deployment (default 64)',
  }),
  'cluster.leaseMs': row({
    env: 'NIX_LEASE_MS',
    // The heartbeat runs three times per lease and must stay well above a KV round trip.
    schema: int(300, 600_000),
    default: 3_000,
    help: 'an instance unseen this long is gone and its partitions are taken over; heartbeat three times per lease',
    expected: 'a whole number of milliseconds from 300 to 600000 (the heartbeat runs three times per lease; default 3000)',
  }),
  'nix.activationEnabled': row({ env: 'NIX_ACTIVATION_ENABLED', schema: bool, default: false, help: 'run `nixos-rebuild` (NixOS hosts only)', expected: 'true or false' }),
  'nix.nixosMarker': row({
    env: 'NIX_NIXOS_MARKER',
    schema: text,
    default: '/etc/NIXOS',
    help: 'the file that marks a NixOS host',
    expected: 'the path of the file that marks a NixOS host',
    kind: 'path',
  }),
  'nix.nixosRebuildBin': row({
    env: 'NIX_NIXOS_REBUILD',
    schema: text,
    default: 'nixos-rebuild',
    help: 'the program activation runs',
    expected: 'the nixos-rebuild program (a name on PATH or a path)',
  }),
  'nix.binaryCacheUrl': row({
    env: 'NIX_BINARY_CACHE_URL',
    schema: storeUrl,
    default: (ctx) => pathToFileURL(resolve(String(ctx.value('workspace')), DEFAULT_BINARY_CACHE_DIR)).href,
    defaultText: '`file://<workspace>/.binary-cache`',
    help: 'default cache of `package.cache` (set by the operator; a command may name only a `file://` cache inside the workspace)',
    expected: 'a Nix store URL such as file:///var/cache/nix or https://cache.example.org',
  }),
  'nix.allowRemoteBuilds': row({
    env: 'NIX_ALLOW_REMOTE_BUILDS',
    schema: bool,
    default: false,
    help: '`package.build` of flakes outside the workspace (their code runs on this host, unsandboxed unless nix.conf says otherwise; see [Security](#security))',
    expected: 'true or false (true lets package.build build flakes from outside the workspace; see docs/security.md)',
  }),
} satisfies Record<string, Setting<unknown>>;

/** The configuration path of every setting. */
export type SettingPath = keyof typeof SETTINGS;

// ---------------------------------------------------------------------------------------
// The configuration's type, inferred from the table: `a.b.c` of type T becomes { a: { b: { c: T } } }.

type ValueOf<S> = S extends Setting<infer T> ? (S extends { default: undefined } ? T | undefined : T) : never;
type PathObject<K extends string, V> = K extends `${infer H}.${infer R}` ? { [P in H]: PathObject<R, V> } : { [P in K]: V };
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type Expand<T> = T extends readonly unknown[] | null | undefined | string | number | boolean ? T : { [K in keyof T]: Expand<T[K]> };
type Table = typeof SETTINGS;

/** The settings, nested by their paths. */
export type SettingsValues = Expand<UnionToIntersection<{ [P in SettingPath]: PathObject<P, ValueOf<Table[P]>> }[SettingPath]>>;
