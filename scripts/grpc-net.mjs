// esbuild plugins for the bundles that hold grpc-js (scripts/build.mjs, scripts/build-sea.mjs).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * A plugin that gives grpc-js's `require` of Node's module `id` (and only grpc-js's) the module
 * `contents` instead, resolved from the repository's root.
 */
function grpcModule(id, contents) {
  const namespace = `grpc-${id}`;
  return {
    name: namespace,
    setup(build) {
      build.onResolve({ filter: new RegExp(`^(node:)?${id}$`) }, (args) =>
        args.importer.includes(join('node_modules', '@grpc', 'grpc-js'))
          ? { path: id, namespace }
          : undefined,
      );
      build.onLoad({ filter: /.*/, namespace }, () => ({ contents, resolveDir: root, loader: 'js' }));
    },
  };
}

// grpc-js asks net.isIPv6 about every address it connects to, and V8 compiles Node's IPv6 pattern
// on its first use: ~7 ms of every remote command. Its `net` is Node's with isIP, isIPv4 and isIPv6
// from src/util/ip-family.ts, which answers as they do without the patterns for all but IPv6 text.
export const grpcNet = grpcModule(
  'net',
  "module.exports = Object.assign(Object.create(require('node:net')), require('./src/util/ip-family.ts').netChecks);",
);

// grpc-js loads zlib when it loads, for the compression blit never asks for (neither side sends
// grpc-encoding): 3.6-5.5 ms of every remote command here. Its `zlib` is Node's, loaded on first use
// (in the CLI's gRPC bundle, and in the single executables, whose blitd's grpc-js takes it too: a
// server decompresses through the same proxy).
export const grpcLazyZlib = grpcModule(
  'zlib',
  [
    'let zlib;',
    "const load = () => (zlib ??= require('node:zlib'));",
    'module.exports = new Proxy({}, {',
    '  get: (_, key) => load()[key],',
    '  has: (_, key) => key in load(),',
    '  ownKeys: () => Reflect.ownKeys(load()),',
    '  getOwnPropertyDescriptor: (_, key) => {',
    '    const descriptor = Object.getOwnPropertyDescriptor(load(), key);',
    '    return descriptor && { ...descriptor, configurable: true };',
    '  },',
    '});',
  ].join('\n'),
);
