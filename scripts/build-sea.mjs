// Builds blit's single executables, dist/sea/blit and dist/sea/blitd (Node's single-executable
// applications): each is a copy of this Node (its symbol table stripped) with one CommonJS bundle
// injected (postject; blit's is run by a loader with a V8 code cache), every JS dependency inside,
// and as assets the worker scripts and the native addon when it was built. src/sea/setup.ts, bundled ahead of each entry point, takes them from
// there at run time (docs/DECISIONS.md, "Single executables").
// The binaries run this Node's version on this platform and architecture only.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { grpcLazyZlib, grpcNet } from './grpc-net.mjs';
import { lazyChildProcess } from './lazy-child-process.mjs';
import { trainingTree } from './write-code-cache.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist', 'sea');
const work = join(out, 'build');
const addon = join(root, 'native', 'build', 'Release', 'blit_native.node');
// Node's fuse: the binary checks it to know that a blob was injected (node's docs, postject's README).
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');

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
  plugins: [lazyChildProcess, grpcNet, grpcLazyZlib],
});

// The CLI's main script is a loader that runs the bundle (an asset) with a V8 code cache holding
// more than Node's useCodeCache does (src/sea/cli-loader.ts).
await build({
  absWorkingDir: root,
  outdir: work,
  entryPoints: { 'blit-loader': 'src/sea/cli-loader.ts' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outExtension: { '.js': '.cjs' },
  logLevel: 'warning',
});

const assets = {
  'copy-worker.js': join(work, 'copy-worker.cjs'),
  'stall-watchdog.js': join(work, 'stall-watchdog.cjs'),
};
if (existsSync(addon)) assets['blit_native.node'] = addon;
else console.warn(`blit: ${addon} not built; the single executables use the pure-JS path`);

const cliAssets = { ...assets, 'blit.cjs': join(work, 'blit.cjs') };
const cache = join(work, 'blit.cjs.cache');
makeBinary('blit', join(work, 'blit-loader.cjs'), cliAssets);
if (writeCodeCache(join(out, 'blit'), cache)) {
  makeBinary('blit', join(work, 'blit-loader.cjs'), { ...cliAssets, 'blit.cjs.cache': cache });
}
makeBinary('blitd', join(work, 'blitd.cjs'), assets);
console.log(
  `blit: built ${join('dist', 'sea', 'blit')} and blitd in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);

/** Makes dist/sea/NAME: a copy of this Node with the blob of `main` and `assets` injected. */
function makeBinary(name, main, assets) {
  const config = join(work, `${name}.sea.json`);
  const blob = join(work, `${name}.blob`);
  writeFileSync(
    config,
    JSON.stringify({
      main,
      output: blob,
      disableExperimentalSEAWarning: true,
      // V8's compiled code for the main script's top level goes into the blob.
      useCodeCache: true,
      assets,
    }),
  );
  const made = spawnSync(process.execPath, ['--experimental-sea-config', config], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`node --experimental-sea-config ${config}: ${made.stderr.trim()}`);
  const binary = join(out, name);
  // Without Node's symbol table (12.6 MB of its 99 MB here); the dynamic symbols addons link
  // against stay. A plain copy where binutils' strip is missing.
  const stripped = spawnSync('strip', ['-o', binary, process.execPath], { encoding: 'utf8' });
  if (stripped.status !== 0) copyFileSync(process.execPath, binary);
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

/**
 * Runs the first build of the binary on a scratch tree (a mirror that copies, updates and deletes)
 * so that it writes its code cache to `cache`; false (with a warning) when it did not.
 */
function writeCodeCache(binary, cache) {
  const scratch = mkdtempSync(join(tmpdir(), 'blit-sea-build-'));
  try {
    const { src, dst } = trainingTree(scratch);
    const run = spawnSync(binary, ['mirror', '--yes', `${src}/`, dst], {
      env: {
        ...process.env,
        BLIT_SEA_WRITE_CODE_CACHE: cache,
        XDG_CONFIG_HOME: join(scratch, 'config'),
        XDG_CACHE_HOME: join(scratch, 'cache'),
      },
      encoding: 'utf8',
    });
    if (run.status === 0 && existsSync(cache)) return true;
    console.warn(
      `blit: no code cache for ${binary} (it exited ${run.status}: ${run.stderr.trim()}); starts are slower`,
    );
    return false;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
