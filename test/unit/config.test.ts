import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig, usage, type Config, type ConfigResult } from '../../src/config.js';
import { resolveLogFormat } from '../../src/logging.js';

const SEED = 'SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4';

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'cim-config-'));
}

function ok(r: ConfigResult): Config {
  if (!r.ok) throw new Error(`expected a valid configuration:\n${r.message}`);
  return r.config;
}

function bad(r: ConfigResult): { message: string; settings: string[] } {
  if (r.ok) throw new Error('expected an invalid configuration');
  return { message: r.message, settings: r.issues.map((i) => i.setting) };
}

function withFile(content: unknown, name = 'cim-domain-nix.json'): { cwd: string; file: string } {
  const cwd = dir();
  const file = join(cwd, name);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return { cwd, file };
}

describe('config: defaults', () => {
  it('has a default for everything, and says the URL was not configured', () => {
    const cwd = dir();
    const c = ok(loadConfig([], {}, cwd));
    expect(c.configFile).toBeUndefined();
    expect(c.nats.servers).toEqual(['nats://127.0.0.1:4222']);
    expect(c.natsUrlExplicit).toBe(false);
    expect(c.nats.reconnect).toEqual({ initialDelayMs: 100, factor: 2, maxDelayMs: 2000, maxAttempts: null });
    expect(c.nats.embedded).toBe(true);
    expect(c.nats.connectTimeoutMs).toBe(5000);
    expect(c.nats.user).toBeUndefined();
    expect(c.nats.tls).toEqual({ ca: undefined, cert: undefined, key: undefined });
    expect(c.prefix).toBe('nix');
    expect(c.workspace).toBe(join(cwd, 'workspace'));
    expect(c.inspector).toEqual({ enabled: true, port: 8787, host: '127.0.0.1' });
    expect(c.log).toEqual({ level: 'info', format: 'auto' });
    expect(c.aggregates).toEqual({ passivationIdleMs: 120_000, residentCap: 1_000_000, awakeCap: 10_000, snapshotEvery: 100, commandTimeoutMs: 600_000, storeRetryBudgetMs: 10_000 });
    expect(c.nix.activationEnabled).toBe(false);
    expect(c.nix.nixosMarker).toBe('/etc/NIXOS');
    expect(c.nix.nixosRebuildBin).toBe('nixos-rebuild');
    expect(c.nix.binaryCacheUrl).toBe(`file://${join(cwd, 'workspace', '.binary-cache')}`);
  });

  it('turns the inspector off with port 0', () => {
    expect(ok(loadConfig([], { INSPECTOR_PORT: '0' }, dir())).inspector).toEqual({ enabled: false, port: 0, host: '127.0.0.1' });
    expect(ok(loadConfig([], { INSPECTOR_ENABLED: 'false' }, dir())).inspector).toEqual({ enabled: false, port: 8787, host: '127.0.0.1' });
  });
});

describe('config: sources', () => {
  it('reads cim-domain-nix.json from the working directory', () => {
    const { cwd, file } = withFile({
      nats: { url: 'nats://10.0.0.1:4333', reconnect: { maxAttempts: 5 } },
      prefix: 'acme',
      log: { level: 'debug' },
    });
    const c = ok(loadConfig([], {}, cwd));
    expect(c.configFile).toBe(file);
    expect(c.nats.servers).toEqual(['nats://10.0.0.1:4333']);
    expect(c.natsUrlExplicit).toBe(true);
    expect(c.nats.reconnect.maxAttempts).toBe(5);
    expect(c.prefix).toBe('acme');
    expect(c.log.level).toBe('debug');
  });

  it('reads the file named by --config (both spellings)', () => {
    const { cwd } = withFile({ prefix: 'other' }, 'custom.json');
    expect(ok(loadConfig(['--config', 'custom.json'], {}, cwd)).prefix).toBe('other');
    expect(ok(loadConfig(['--config=custom.json'], {}, cwd)).prefix).toBe('other');
  });

  it('lets environment variables override the file', () => {
    const { cwd } = withFile({ prefix: 'fromfile', inspector: { port: 9000 }, nats: { url: 'nats://a:1' } });
    const c = ok(loadConfig([], { NIX_DOMAIN_PREFIX: 'fromenv', NATS_URL: 'nats://b:2' }, cwd));
    expect(c.prefix).toBe('fromenv');
    expect(c.inspector.port).toBe(9000);
    expect(c.nats.servers).toEqual(['nats://b:2']);
  });

  it('treats an empty variable as unset', () => {
    const c = ok(loadConfig([], { NATS_URL: '', LOG_LEVEL: '' }, dir()));
    expect(c.natsUrlExplicit).toBe(false);
    expect(c.log.level).toBe('info');
  });

  it('marks the URL explicit when it comes from the environment, even the default one', () => {
    expect(ok(loadConfig([], { NATS_URL: 'nats://127.0.0.1:4222' }, dir())).natsUrlExplicit).toBe(true);
  });

  it('resolves relative paths from the file against its directory, and from the environment against cwd', () => {
    const { cwd } = withFile({ workspace: 'ws', nats: { creds: 'secrets/app.creds' } }, 'conf/app.json');
    mkdirSync(join(cwd, 'conf', 'secrets'), { recursive: true });
    writeFileSync(join(cwd, 'conf', 'secrets', 'app.creds'), 'x');
    const c = ok(loadConfig(['--config', 'conf/app.json'], {}, cwd));
    expect(c.workspace).toBe(join(cwd, 'conf', 'ws'));
    expect(c.nats.creds).toBe(join(cwd, 'conf', 'secrets', 'app.creds'));
    expect(ok(loadConfig([], { NIX_WORKSPACE: 'elsewhere' }, cwd)).workspace).toBe(join(cwd, 'elsewhere'));
  });
});

describe('config: values', () => {
  it('accepts several comma-separated servers and host:port without a scheme', () => {
    const c = ok(loadConfig([], { NATS_URL: 'nats://a:1, tls://b:2,c:3' }, dir()));
    expect(c.nats.servers).toEqual(['nats://a:1', 'tls://b:2', 'nats://c:3']);
    const { cwd } = withFile({ nats: { url: ['nats://x:1', 'nats://y:2'] } });
    expect(ok(loadConfig([], {}, cwd)).nats.servers).toEqual(['nats://x:1', 'nats://y:2']);
  });

  it('reads every kind of number and switch from the environment', () => {
    const c = ok(
      loadConfig(
        [],
        {
          NATS_RECONNECT_INITIAL_MS: '50',
          NATS_RECONNECT_FACTOR: '1.5',
          NATS_RECONNECT_MAX_MS: '1000',
          NATS_RECONNECT_MAX_ATTEMPTS: '7',
          NATS_EMBEDDED: 'off',
          NIX_PASSIVATION_IDLE_MS: '1000',
          NIX_RESIDENT_CAP: '10',
          NIX_AWAKE_CAP: '4',
          NIX_SNAPSHOT_EVERY: '5',
          NIX_COMMAND_TIMEOUT_MS: '2000',
          NIX_STORE_RETRY_BUDGET_MS: '3000',
          NIX_ACTIVATION_ENABLED: 'yes',
          NIX_NIXOS_MARKER: '/tmp/marker',
          NIX_NIXOS_REBUILD: '/opt/bin/nixos-rebuild',
          NIX_BINARY_CACHE_URL: 'https://cache.example.org',
          NIX_ALLOW_REMOTE_BUILDS: 'true',
          LOG_LEVEL: 'WARN',
        },
        dir(),
      ),
    );
    expect(c.nats.reconnect).toEqual({ initialDelayMs: 50, factor: 1.5, maxDelayMs: 1000, maxAttempts: 7 });
    expect(c.nats.embedded).toBe(false);
    expect(c.aggregates).toEqual({ passivationIdleMs: 1000, residentCap: 10, awakeCap: 4, snapshotEvery: 5, commandTimeoutMs: 2000, storeRetryBudgetMs: 3000 });
    expect(c.nix).toEqual({
      activationEnabled: true,
      binaryCacheUrl: 'https://cache.example.org',
      nixosMarker: '/tmp/marker',
      nixosRebuildBin: '/opt/bin/nixos-rebuild',
      allowRemoteBuilds: true,
    });
    expect(c.log.level).toBe('warn');
  });

  it('spells "retry forever" as infinite, -1 or null', () => {
    expect(ok(loadConfig([], { NATS_RECONNECT_MAX_ATTEMPTS: 'infinite' }, dir())).nats.reconnect.maxAttempts).toBeNull();
    expect(ok(loadConfig([], { NATS_RECONNECT_MAX_ATTEMPTS: '-1' }, dir())).nats.reconnect.maxAttempts).toBeNull();
    const { cwd } = withFile({ nats: { reconnect: { maxAttempts: null } } });
    expect(ok(loadConfig([], {}, cwd)).nats.reconnect.maxAttempts).toBeNull();
  });

  it('takes an nkey seed as the seed itself or as a file that holds it', () => {
    expect(ok(loadConfig([], { NATS_NKEY_SEED: SEED }, dir())).nats.nkeySeed).toBe(SEED);
    const { cwd, file } = withFile(SEED, 'user.nk');
    expect(ok(loadConfig([], { NATS_NKEY_SEED: 'user.nk' }, cwd)).nats.nkeySeed).toBe(file);
  });

  it('takes TLS files with any one authentication method', () => {
    const { cwd } = withFile('pem', 'ca.pem');
    writeFileSync(join(cwd, 'c.pem'), 'pem');
    writeFileSync(join(cwd, 'k.pem'), 'pem');
    const c = ok(
      loadConfig([], { NATS_USER: 'u', NATS_PASSWORD: 'p', NATS_TLS_CA: 'ca.pem', NATS_TLS_CERT: 'c.pem', NATS_TLS_KEY: 'k.pem' }, cwd),
    );
    expect(c.nats.tls).toEqual({ ca: join(cwd, 'ca.pem'), cert: join(cwd, 'c.pem'), key: join(cwd, 'k.pem') });
    expect(c.nats.user).toBe('u');
  });
});

describe('config: LOG_FORMAT', () => {
  it('takes json, pretty or auto from the environment (any letter case) or the file, auto by default', () => {
    expect(ok(loadConfig([], { LOG_FORMAT: 'json' }, dir())).log.format).toBe('json');
    expect(ok(loadConfig([], { LOG_FORMAT: ' Pretty ' }, dir())).log.format).toBe('pretty');
    expect(ok(loadConfig([], { LOG_FORMAT: 'AUTO' }, dir())).log.format).toBe('auto');
    expect(ok(loadConfig([], { LOG_FORMAT: '' }, dir())).log.format).toBe('auto');
    const { cwd } = withFile({ log: { level: 'warn', format: 'pretty' } });
    expect(ok(loadConfig([], {}, cwd)).log).toEqual({ level: 'warn', format: 'pretty' });
    expect(ok(loadConfig([], { LOG_FORMAT: 'json' }, cwd)).log).toEqual({ level: 'warn', format: 'json' });
  });

  it('names a bad value in the file, and lists the setting in --help', () => {
    const { cwd, file } = withFile({ log: { format: 'colourful' } });
    const { message, settings } = bad(loadConfig([], {}, cwd));
    expect(settings).toEqual(['log.format']);
    expect(message).toContain(`log.format [file ${file}]: got "colourful"; expected json, pretty, or auto`);
    expect(usage()).toMatch(/^\s+log\.format\s+LOG_FORMAT\s+json, pretty, or auto/m);
  });

  it('makes auto pretty on a terminal and JSON anywhere else; json and pretty are what they say', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });
});

describe('config: bad values are named with their source and expected form', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['NATS_URL', { NATS_URL: 'http://example.org' }, /NATS_URL \[environment\]: got "http:\/\/example.org"; expected a NATS URL/],
    ['NATS_URL', { NATS_URL: 'nats://' }, /NATS_URL \[environment\]/],
    [
      'NIX_DOMAIN_PREFIX',
      { NIX_DOMAIN_PREFIX: 'nix.prod' },
      /NIX_DOMAIN_PREFIX \[environment\]: got "nix.prod"; expected one subject token/,
    ],
    ['NIX_DOMAIN_PREFIX', { NIX_DOMAIN_PREFIX: 'nix*' }, /NIX_DOMAIN_PREFIX/],
    ['NIX_DOMAIN_PREFIX', { NIX_DOMAIN_PREFIX: 'a b' }, /NIX_DOMAIN_PREFIX/],
    ['INSPECTOR_PORT', { INSPECTOR_PORT: '65536' }, /INSPECTOR_PORT \[environment\]: got "65536"; expected a TCP port/],
    ['INSPECTOR_PORT', { INSPECTOR_PORT: '80.5' }, /INSPECTOR_PORT/],
    ['INSPECTOR_ENABLED', { INSPECTOR_ENABLED: 'maybe' }, /INSPECTOR_ENABLED \[environment\]: got "maybe"; expected true or false/],
    [
      'LOG_LEVEL',
      { LOG_LEVEL: 'verbose' },
      /LOG_LEVEL \[environment\]: got "verbose"; expected one of fatal, error, warn, info, debug, trace, silent/,
    ],
    ['LOG_FORMAT', { LOG_FORMAT: 'yaml' }, /LOG_FORMAT \[environment\]: got "yaml"; expected json, pretty, or auto/],
    ['NATS_RECONNECT_FACTOR', { NATS_RECONNECT_FACTOR: '0.5' }, /NATS_RECONNECT_FACTOR.*expected a number from 1 to 100/],
    ['NATS_RECONNECT_INITIAL_MS', { NATS_RECONNECT_INITIAL_MS: '-5' }, /NATS_RECONNECT_INITIAL_MS/],
    ['NATS_RECONNECT_MAX_ATTEMPTS', { NATS_RECONNECT_MAX_ATTEMPTS: '0' }, /NATS_RECONNECT_MAX_ATTEMPTS.*"infinite"/],
    ['NATS_CONNECT_TIMEOUT_MS', { NATS_CONNECT_TIMEOUT_MS: 'soon' }, /NATS_CONNECT_TIMEOUT_MS/],
    ['NATS_EMBEDDED', { NATS_EMBEDDED: 'sometimes' }, /NATS_EMBEDDED/],
    ['NATS_WS_URL', { NATS_WS_URL: 'http://x' }, /NATS_WS_URL.*websocket URL/],
    ['NATS_CREDS', { NATS_CREDS: '/no/such.creds' }, /NATS_CREDS \[environment\]: got \/no\/such.creds \(no such file\)/],
    ['NATS_TLS_CA', { NATS_TLS_CA: '/no/ca.pem' }, /NATS_TLS_CA.*no such file.*PEM CA certificate/],
    ['NATS_NKEY_SEED', { NATS_NKEY_SEED: '/no/seed.nk' }, /NATS_NKEY_SEED.*no such file/],
    ['NATS_NKEY_SEED', { NATS_NKEY_SEED: 'SUNOTASEED' }, /NATS_NKEY_SEED.*a malformed seed/],
    ['NIX_RESIDENT_CAP', { NIX_RESIDENT_CAP: '0' }, /NIX_RESIDENT_CAP/],
    ['NIX_AWAKE_CAP', { NIX_AWAKE_CAP: 'lots' }, /NIX_AWAKE_CAP/],
    ['NIX_SNAPSHOT_EVERY', { NIX_SNAPSHOT_EVERY: 'often' }, /NIX_SNAPSHOT_EVERY/],
    ['NIX_PASSIVATION_IDLE_MS', { NIX_PASSIVATION_IDLE_MS: '1e3x' }, /NIX_PASSIVATION_IDLE_MS/],
    ['NIX_COMMAND_TIMEOUT_MS', { NIX_COMMAND_TIMEOUT_MS: '' + -1 }, /NIX_COMMAND_TIMEOUT_MS/],
    ['NIX_ACTIVATION_ENABLED', { NIX_ACTIVATION_ENABLED: 'please' }, /NIX_ACTIVATION_ENABLED/],
    ['NIX_BINARY_CACHE_URL', { NIX_BINARY_CACHE_URL: 'not a url' }, /NIX_BINARY_CACHE_URL.*Nix store URL/],
  ];
  for (const [name, env, pattern] of cases) {
    it(`names ${name} = ${JSON.stringify(Object.values(env)[0])}`, () => {
      const { message, settings } = bad(loadConfig([], env, dir()));
      expect(settings).toContain(name);
      expect(message).toMatch(pattern);
    });
  }

  it('names every bad setting in one message', () => {
    const { message, settings } = bad(
      loadConfig(
        [],
        { NATS_URL: 'ftp://x', NIX_DOMAIN_PREFIX: 'a.b', INSPECTOR_PORT: 'x', LOG_LEVEL: 'x', NIX_SNAPSHOT_EVERY: '0' },
        dir(),
      ),
    );
    expect(settings).toEqual(['NATS_URL', 'NIX_DOMAIN_PREFIX', 'INSPECTOR_PORT', 'LOG_LEVEL', 'NIX_SNAPSHOT_EVERY']);
    expect(message).toMatch(/^Invalid configuration: 5 problems\./);
    expect(message).toMatch(/see --help/);
  });

  it('names bad file keys with the file as source', () => {
    const { cwd, file } = withFile({ inspector: { port: -1 }, log: { level: 3 }, nats: { reconnect: { factor: 'x' } } });
    const { message, settings } = bad(loadConfig([], {}, cwd));
    expect(settings).toEqual(['nats.reconnect.factor', 'inspector.port', 'log.level']);
    expect(message).toContain(`inspector.port [file ${file}]: got -1; expected a TCP port`);
  });

  it('names unknown keys of the file and suggests the close one', () => {
    const { cwd } = withFile({ nats: { ulr: 'nats://a:1' }, prefx: 'x', extra: { a: 1 } });
    const { message, settings } = bad(loadConfig([], {}, cwd));
    expect(settings).toEqual(['nats.ulr', 'prefx', 'extra']);
    expect(message).toContain('(did you mean nats.url?)');
    expect(message).toContain('(did you mean prefix?)');
  });

  it('reports a file that is not JSON, or not an object', () => {
    const a = withFile('{ "prefix": ');
    expect(bad(loadConfig([], {}, a.cwd)).message).toMatch(/\(whole file\) \[file .*cim-domain-nix.json\]: got invalid JSON/);
    const b = withFile('[1,2]');
    expect(bad(loadConfig([], {}, b.cwd)).message).toMatch(/got an array; expected a JSON object of settings/);
  });

  it('reports a --config file that does not exist, and unknown arguments', () => {
    const { message, settings } = bad(loadConfig(['--config', 'nope.json', '--verbose'], {}, dir()));
    expect([...settings].sort()).toEqual(['--config', '--verbose']);
    expect(message).toMatch(/--config \[command line\]: got .*nope.json \(ENOENT\)/);
    expect(message).toMatch(/--verbose \[command line\]: got an unknown argument/);
    expect(bad(loadConfig(['--config'], {}, dir())).settings).toEqual(['--config']);
  });

  it('wants user and password together', () => {
    expect(bad(loadConfig([], { NATS_PASSWORD: 'p' }, dir())).message).toMatch(
      /NATS_PASSWORD \(environment\) \[rule\]: got a password without a user/,
    );
    expect(bad(loadConfig([], { NATS_USER: 'u' }, dir())).message).toMatch(
      /NATS_USER \(environment\) \[rule\]: got a user without a password/,
    );
  });

  it('refuses two authentication methods at once', () => {
    const { message } = bad(loadConfig([], { NATS_TOKEN: 't', NATS_NKEY_SEED: SEED }, dir()));
    expect(message).toMatch(
      /NATS_TOKEN \(environment\) \+ NATS_NKEY_SEED \(environment\) \[rule\]: got more than one authentication method/,
    );
  });

  it('wants a client certificate and its key together', () => {
    const { cwd } = withFile('pem', 'c.pem');
    expect(bad(loadConfig([], { NATS_TLS_CERT: 'c.pem' }, cwd)).message).toMatch(/NATS_TLS_CERT and NATS_TLS_KEY set together/);
  });

  it('wants the cap at least as large as the initial delay', () => {
    expect(bad(loadConfig([], { NATS_RECONNECT_INITIAL_MS: '500', NATS_RECONNECT_MAX_MS: '100' }, dir())).message).toMatch(
      /NATS_RECONNECT_MAX_MS.*below the initial delay 500/,
    );
  });

  it('never echoes secrets', () => {
    const { message } = bad(loadConfig([], { NATS_PASSWORD: 'hunter2-secret', NATS_TOKEN: 'tok-secret', NATS_URL: 'bad url' }, dir()));
    expect(message).not.toContain('hunter2-secret');
    expect(message).not.toContain('tok-secret');
  });

  it('never throws, whatever the environment holds', () => {
    const names = [
      'NATS_URL',
      'NATS_USER',
      'NATS_PASSWORD',
      'NATS_NKEY_SEED',
      'NATS_CREDS',
      'NIX_DOMAIN_PREFIX',
      'INSPECTOR_PORT',
      'LOG_LEVEL',
      'NATS_RECONNECT_FACTOR',
      'NATS_RECONNECT_MAX_ATTEMPTS',
      'NIX_BINARY_CACHE_URL',
    ];
    const cwd = dir();
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...names), fc.string()), fc.array(fc.string(), { maxLength: 3 }), (env, argv) => {
        const r = loadConfig(argv, env, cwd);
        if (!r.ok) expect(r.issues.length).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });
});
