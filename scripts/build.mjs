// Bundles the CLI, its workers and the daemon with esbuild, then makes the CLI's V8 code cache.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { grpcLazyZlib, grpcNet } from './grpc-net.mjs';
import { lazyChildProcess } from './lazy-child-process.mjs';
import { DEPENDENCY_BUNDLES, REMOTE_CLI_CACHE, writeCodeCache } from './write-code-cache.mjs';

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
// gRPC and protobuf, which only the remote verbs load, get bundles of their own with their own code
// caches (bin/blit.js loads them): the CLI's bundle requires these files in their place.
const ownDependencyBundles = {
  name: 'own-dependency-bundles',
  setup(build) {
    // Any other path into these packages would put a second copy of them inside blit.cjs.
    build.onResolve({ filter: /^(@grpc\/grpc-js|@bufbuild\/protobuf)(\/|$)/ }, (args) =>
      Object.hasOwn(DEPENDENCY_BUNDLES, args.path)
        ? { path: `./${DEPENDENCY_BUNDLES[args.path]}.cjs`, external: true }
        : {
            errors: [
              {
                text: `${args.path}: the CLI may import only ${Object.keys(DEPENDENCY_BUNDLES).join(' and ')}`,
              },
            ],
          },
    );
  },
};

const cli = await build({
  ...shared,
  plugins: [...shared.plugins, ownDependencyBundles],
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

const dependencies = await build({
  ...shared,
  entryPoints: Object.fromEntries(Object.entries(DEPENDENCY_BUNDLES).map(([pkg, name]) => [name, pkg])),
  format: 'cjs',
  minifyWhitespace: true,
  minifySyntax: true,
  outExtension: { '.js': '.cjs' },
  sourcemap: false,
  plugins: [grpcNet, grpcLazyZlib],
  // Reached only from grpc-js's channelz service, which blit does not serve: 193 of the bundle's
  // 589 kB, left to node_modules.
  external: ['@grpc/proto-loader'],
});

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

// After a real run, so the cache holds the functions a transfer compiles, not only the top level.
const warning = await writeCodeCache({ fresh: true });
if (warning) console.warn(warning);

// Remove chunks of earlier builds only now: a blit started meanwhile never finds dist/ half empty.
const dist = join(root, 'dist');
const written = new Set(
  [cli, dependencies, esm]
    .flatMap(({ metafile }) => Object.keys(metafile.outputs))
    .map((path) => relative(dist, join(root, path))),
);
for (const bundle of ['blit', ...Object.values(DEPENDENCY_BUNDLES)]) written.add(`${bundle}.cjs.cache`);
written.add(REMOTE_CLI_CACHE);
// Files only: directories in dist/ (the single executables in dist/sea/) belong to other builds.
if (existsSync(dist)) {
  for (const entry of readdirSync(dist, { withFileTypes: true })) {
    if (entry.isFile() && !written.has(entry.name)) rmSync(join(dist, entry.name), { force: true });
  }
}
