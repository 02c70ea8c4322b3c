// An esbuild plugin shared by scripts/build.mjs and scripts/build-sea.mjs.
import { join } from 'node:path';

// commander requires node:child_process at load (for executable subcommands, which blit has none
// of), and that pulls in node:net: ~10 ms of every start. Give it a stand-in that loads the real
// module on first use.
export const lazyChildProcess = {
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
