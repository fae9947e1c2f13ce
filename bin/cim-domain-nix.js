#!/usr/bin/env node
// The `cim-domain-nix` command: runs the built CLI (dist/src/cli/main.js), or the TypeScript
// source through tsx when there is no build (a checkout before `npm run build`) or when
// CIM_DOMAIN_NIX_SOURCE=1 asks for it (the tests, which must run the current source).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const built = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

let entry = built;
if (!existsSync(built) || process.env.CIM_DOMAIN_NIX_SOURCE === '1') {
  try {
    const { register } = await import('tsx/esm/api');
    register();
  } catch {
    process.stderr.write('cim-domain-nix: no build found (dist/src/cli/main.js) and tsx is not installed: run `npm run build` first\n');
    process.exit(2);
  }
  entry = source;
}
const { main } = await import(pathToFileURL(entry).href);
await main(process.argv.slice(2));
