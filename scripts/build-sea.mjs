// Builds blit's single executables, dist/sea/blit and dist/sea/blitd (Node's single-executable
// applications): each is a copy of this Node with one CommonJS bundle injected (postject), every JS
// dependency inside, and as assets the worker scripts and the native addon when it was built.
// src/sea/setup.ts, bundled ahead of each entry point, takes them from there at run time.
// The binaries run this Node's version on this platform and architecture only.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { lazyChildProcess } from './lazy-child-process.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist', 'sea');
const work = join(out, 'build');
const addon = join(root, 'native', 'build', 'Release', 'blit_native.node');
// Node's fuse: the binary checks it to know that a blob was injected (node's docs, postject's README).
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const started = Date.now();
rmSync(out, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

// A SEA's main script can require() Node's built-ins only, and has no import(): everything else
// is bundled. src/sea/setup.ts runs first in every bundle (inject), before main.ts asks for the addon.
await build({
  absWorkingDir: root,
  outdir: work,
  entryPoints: {
    blit: 'src/cli/main.ts',
    blitd: 'src/daemon/main.ts',
    'copy-worker': 'src/fsops/copy-worker.ts',
    'stall-watchdog': 'src/engine/stall-watchdog.ts',
  },
  inject: ['src/sea/setup.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minifyWhitespace: true,
  minifySyntax: true,
  outExtension: { '.js': '.cjs' },
  // Never reached in a binary (setup.ts says so): left out rather than bundled half-working.
  external: ['@napi-rs/blake-hash'],
  define: { 'import.meta.url': '__blitModuleUrl' },
  banner: { js: "const __blitModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
  plugins: [lazyChildProcess],
});

const assets = {
  'copy-worker.js': join(work, 'copy-worker.cjs'),
  'stall-watchdog.js': join(work, 'stall-watchdog.cjs'),
};
if (existsSync(addon)) assets['blit_native.node'] = addon;
else console.warn(`blit: ${addon} not built; the single executables use the pure-JS path`);

const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
for (const name of ['blit', 'blitd']) {
  const config = join(work, `${name}.sea.json`);
  const blob = join(work, `${name}.blob`);
  writeFileSync(
    config,
    JSON.stringify({
      main: join(work, `${name}.cjs`),
      output: blob,
      disableExperimentalSEAWarning: true,
      // V8's compiled code for the bundle's top level goes into the blob: it is not compiled at start.
      useCodeCache: true,
      assets,
    }),
  );
  const made = spawnSync(process.execPath, ['--experimental-sea-config', config], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`node --experimental-sea-config ${config}: ${made.stderr.trim()}`);
  const binary = join(out, name);
  copyFileSync(process.execPath, binary);
  chmodSync(binary, 0o755);
  const injected = spawnSync(
    process.execPath,
    [postject, binary, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE],
    { encoding: 'utf8' },
  );
  // LIEF warns about sections of Node's ELF it does not know; Node's docs say to ignore them.
  const stderr = injected.stderr
    .split('\n')
    .filter((line) => line && !line.startsWith("warning: Can't find string offset for section name"));
  if (injected.status !== 0) throw new Error(`postject ${binary}: ${stderr.join('; ')}`);
  if (stderr.length) console.warn(stderr.join('\n'));
}
console.log(
  `blit: built ${join('dist', 'sea', 'blit')} and blitd in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
