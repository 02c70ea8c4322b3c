// esbuild plugins for the bundles that hold grpc-js (scripts/build.mjs, scripts/build-sea.mjs).
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

// grpc-js loads zlib when it loads, for the compression blit never asks for (neither side sends
// grpc-encoding): 3.6-5.5 ms of every remote command here. Its `zlib` is Node's, loaded on first use
// (in the CLI's gRPC bundle, and in the single executables, whose blitd's grpc-js takes it too: a
// server decompresses through the same proxy).
export const grpcLazyZlib = {
  name: 'grpc-lazy-zlib',
  setup(build) {
    build.onResolve({ filter: /^(node:)?zlib$/ }, (args) =>
      args.importer.includes(join('node_modules', '@grpc', 'grpc-js'))
        ? { path: 'zlib', namespace: 'grpc-lazy-zlib' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'grpc-lazy-zlib' }, () => ({
      contents: [
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
      loader: 'js',
    }));
  },
};
