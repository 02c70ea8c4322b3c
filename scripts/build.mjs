// Bundles the CLI, its workers and the daemon with esbuild, then makes the CLI's V8 code cache.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { lazyChildProcess } from './lazy-child-process.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

const shared = {
  absWorkingDir: root,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Small pure-JS dependencies every local verb loads (commander, picomatch) are bundled: resolving
  // and reading them from node_modules at each start cost more than their code. Heavy or native
  // ones stay external and load only when used.
  external: [
    '@grpc/grpc-js',
    '@bufbuild/protobuf',
    '@napi-rs/blake-hash',
    'hash-wasm',
    'pino',
    'node-addon-api',
  ],
  sourcemap: 'linked',
  logLevel: 'warning',
  metafile: true,
  plugins: [lazyChildProcess],
};

// The CLI is one CommonJS file, which bin/blit.js compiles with the V8 code cache made below: Node 20
// has no code cache for ES modules, and its ES module loader alone cost ~18 ms of a one-file copy
// (docs/DECISIONS.md).
const cli = await build({
  ...shared,
  entryPoints: { blit: 'src/cli/main.ts' },
  format: 'cjs',
  minifyWhitespace: true,
  minifySyntax: true,
  outExtension: { '.js': '.cjs' },
  define: { 'import.meta.url': '__blitModuleUrl' },
  banner: { js: "const __blitModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
});

// bin/blit.js runs the bundle as a vm.Script, where import() of a module left outside the bundle
// fails at run time ("A dynamic import callback was not specified"): refuse to build one.
for (const [out, { imports }] of Object.entries(cli.metafile.outputs)) {
  const dynamic = imports.filter((i) => i.kind === 'dynamic-import' && i.external);
  if (dynamic.length) {
    throw new Error(
      `${out}: import() of ${dynamic.map((i) => i.path).join(', ')}; use createRequire instead`,
    );
  }
}

// The daemon and the worker threads stay ES modules, split so that gRPC loads only where needed.
const esm = await build({
  ...shared,
  entryPoints: {
    blitd: 'src/daemon/main.ts',
    'copy-worker': 'src/fsops/copy-worker.ts',
    'stall-watchdog': 'src/engine/stall-watchdog.ts',
  },
  splitting: true,
  format: 'esm',
  // Bundled CommonJS (commander) calls require() for Node's built-ins: give ESM output one.
  banner: {
    js: "import { createRequire as __blitRequire } from 'node:module'; const require = __blitRequire(import.meta.url);",
  },
});

await writeCodeCache();

/**
 * Runs the CLI once on a scratch tree (a mirror that copies, updates and deletes) with
 * BLIT_WRITE_CODE_CACHE=1, so bin/blit.js saves V8's compiled code for the functions a transfer
 * runs to dist/blit.cjs.cache. A cache V8 rejects later (another Node) is ignored, never an error.
 */
async function writeCodeCache() {
  const cache = join(root, 'dist', 'blit.cjs.cache');
  rmSync(cache, { force: true });
  const scratch = mkdtempSync(join(tmpdir(), 'blit-build-'));
  try {
    const src = join(scratch, 'src');
    const dst = join(scratch, 'dst');
    mkdirSync(join(src, 'dir'), { recursive: true });
    mkdirSync(dst);
    for (const name of ['a', 'b', 'dir/c']) writeFileSync(join(src, name), `${name}\n`);
    writeFileSync(join(dst, 'a'), 'older\n');
    writeFileSync(join(dst, 'stale'), 'gone\n');
    const run = spawnSync(
      process.execPath,
      [join(root, 'bin', 'blit.js'), 'mirror', '--yes', `${src}/`, dst],
      {
        env: { ...process.env, BLIT_WRITE_CODE_CACHE: '1', XDG_CONFIG_HOME: join(scratch, 'config') },
        encoding: 'utf8',
      },
    );
    if (run.status !== 0 || !existsSync(cache)) {
      console.warn(
        `blit: no code cache written (blit exited ${run.status}: ${run.stderr.trim()}); starts are slower`,
      );
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

// Remove chunks of earlier builds only now: a blit started meanwhile never finds dist/ half empty.
const dist = join(root, 'dist');
const written = new Set(
  [...Object.keys(cli.metafile.outputs), ...Object.keys(esm.metafile.outputs)].map((path) =>
    relative(dist, join(root, path)),
  ),
);
written.add('blit.cjs.cache');
written.add('sea'); // npm run build:sea's single executables (scripts/build-sea.mjs)
if (existsSync(dist)) {
  for (const name of readdirSync(dist)) if (!written.has(name)) rmSync(join(dist, name), { force: true });
}
