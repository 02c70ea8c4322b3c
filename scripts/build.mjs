// Bundles the CLI, its worker and the daemon with esbuild: one small entry chunk for a fast start,
// with the transfer engine and gRPC split out and loaded only by the verbs that need them.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

// commander requires node:child_process at load (for executable subcommands, which blit has none
// of), and that pulls in node:net: ~10 ms of every start. Give it a stand-in that loads the real
// module on first use.
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(build) {
    build.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      args.importer.includes(`${join('node_modules', 'commander')}`)
        ? { path: 'child_process', namespace: 'lazy-child-process' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({
      contents:
        "let real; module.exports = new Proxy({}, { get: (_, key) => (real ??= require('node:child_process'))[key] });",
      loader: 'js',
    }));
  },
};
const result = await build({
  absWorkingDir: root,
  entryPoints: {
    blit: 'src/cli/main.ts',
    blitd: 'src/daemon/main.ts',
    'copy-worker': 'src/fsops/copy-worker.ts',
    'stall-watchdog': 'src/engine/stall-watchdog.ts',
  },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
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
  // Bundled CommonJS (commander) calls require() for Node's built-ins: give ESM output one.
  banner: {
    js: "import { createRequire as __blitRequire } from 'node:module'; const require = __blitRequire(import.meta.url);",
  },
  sourcemap: 'linked',
  logLevel: 'warning',
  metafile: true,
  plugins: [lazyChildProcess],
});

// Remove chunks of earlier builds only now: a blit started meanwhile never finds dist/ half empty.
const dist = join(root, 'dist');
const written = new Set(Object.keys(result.metafile.outputs).map((path) => relative(dist, join(root, path))));
if (existsSync(dist)) {
  for (const name of readdirSync(dist)) if (!written.has(name)) rmSync(join(dist, name), { force: true });
}
