// An esbuild plugin for the bundles that hold grpc-js (scripts/build.mjs, scripts/build-sea.mjs).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// grpc-js asks net.isIPv6 about every address it connects to, and V8 compiles Node's IPv6 pattern
// on its first use: ~7 ms of every remote command. Its `net` is Node's with isIP, isIPv4 and isIPv6
// from src/util/ip-family.ts, which answers as they do without the patterns for all but IPv6 text.
export const grpcNet = {
  name: 'grpc-net',
  setup(build) {
    build.onResolve({ filter: /^(node:)?net$/ }, (args) =>
      args.importer.includes(join('node_modules', '@grpc', 'grpc-js'))
        ? { path: 'net', namespace: 'grpc-net' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'grpc-net' }, () => ({
      contents:
        "module.exports = Object.assign(Object.create(require('node:net')), require('./src/util/ip-family.ts').netChecks);",
      resolveDir: root,
      loader: 'js',
    }));
  },
};
