// @ts-check
/**
 * Lint: typescript-eslint's type-checked recommendations on every .ts file, no floating
 * promises, and the folder rules of STYLE.md, enforced with `no-restricted-imports`:
 *
 *   machines/   xstate, zod, immer, machines/ only — never src/, @nats-io/*, node:*
 *   src/runtime, projections, aggregates, domain, nix, time, config: no @nats-io/* (ports only)
 *   src/        machines/ only through machines/index.ts (and the leaf machines/kinds.ts); never test/ or inspector/
 *   inspector/  never node:*, nor src/ other than src/inspection
 */
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Node built-ins, with and without the `node:` scheme. */
const NODE_BUILTINS = [...builtinModules.filter((m) => !m.startsWith('_')), ...builtinModules.map((m) => `node:${m}`)];

const banNode = (why) => ({
  paths: NODE_BUILTINS.map((name) => ({ name, message: why })),
  patterns: [{ regex: '^node:', message: why }],
});

const machinesRule = (() => {
  const node = banNode('machines/ are pure: no Node built-ins (effects are actors the runtime provides).');
  return {
    paths: node.paths,
    patterns: [
      ...node.patterns,
      { regex: '^@nats-io/', message: 'machines/ never talk to NATS: only the adapters in src/ do.' },
      { regex: '(^|/)src(/|$)', message: 'machines/ must not import src/: the runtime depends on the machines, not the other way.' },
      { regex: '(^|/)test(/|$)', message: 'nothing imports test/.' },
      { regex: '^pino$', message: 'machines/ do not log: emit a signal instead.' },
    ],
  };
})();

const srcRule = {
  patterns: [
    { regex: '(^|/)test(/|$)', message: 'src/ must not import test/.' },
    { regex: '(^|/)inspector(/|$)', message: 'src/ must not import inspector/.' },
    {
      regex: '(^|/)machines/(?!(index|kinds)\\.js$)',
      message: 'src/ imports machines only through machines/index.ts (or the leaf list of kind names, machines/kinds.ts): export what you need there.',
    },
  ],
};

/** The folders below and beside the NATS adapters: they reach NATS only through the ports (src/store, src/intake, …). */
const NATS_FREE = ['src/runtime/**', 'src/projections/**', 'src/aggregates/**', 'src/domain/**', 'src/nix/**', 'src/time/**', 'src/config/**', 'src/errors.ts', 'src/service.ts'];
const srcNatsFreeRule = {
  patterns: [
    ...srcRule.patterns,
    { regex: '^@nats-io/', message: 'only src/messaging, src/store, src/intake, src/cluster, src/inspection and src/cli talk to NATS; use a port (src/store/ports.ts) or an intake.' },
  ],
};

const inspectorRule = (() => {
  const node = banNode('inspector/ runs in the browser: no Node built-ins.');
  return {
    paths: node.paths,
    patterns: [
      ...node.patterns,
      { regex: '(^|/)src/(?!inspection(/|$))', message: 'inspector/ may import only src/inspection (the wire schema).' },
      { regex: '(^|/)test(/|$)', message: 'nothing imports test/.' },
      { regex: '^@nats-io/transport-node$', message: 'inspector/ uses the websocket client (@nats-io/nats-core).' },
    ],
  };
})();

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'workspace/**',
      '.tmp/**',
      'test-results/**',
      'bench-results/**',
      'inspector/dist/**',
      '**/*.d.ts',
    ],
  },
  js.configs.recommended,
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        window: 'readonly',
        document: 'readonly',
      },
    },
  },
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['machines/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', machinesRule] },
  },
  {
    files: ['src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', srcRule] },
  },
  {
    files: NATS_FREE.map((f) => (f.endsWith('.ts') ? f : `${f}/*.ts`)),
    rules: { 'no-restricted-imports': ['error', srcNatsFreeRule] },
  },
  {
    files: ['inspector/**/*.ts', 'inspector/**/*.js'],
    rules: { 'no-restricted-imports': ['error', inspectorRule] },
  },
  {
    // Tests may use any for fixtures and poke at internals; floating promises stay an error.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
