// Builds the inspector page into inspector/dist (offline: esbuild bundles everything the page
// imports, so the page loads nothing from outside). `npm run inspector`; `npm run build` runs it too.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Build the page into `outdir` (default inspector/dist); resolves with the directory. */
export async function buildInspector(outdir = join(root, 'inspector', 'dist')) {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  await build({
    entryPoints: [join(root, 'inspector', 'src', 'main.ts')],
    outfile: join(outdir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
  });
  await copyFile(join(root, 'inspector', 'index.html'), join(outdir, 'index.html'));
  await copyFile(join(root, 'inspector', 'app.css'), join(outdir, 'app.css'));
  return outdir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildInspector();
  process.stdout.write(`inspector page built in ${out}\n`);
}
