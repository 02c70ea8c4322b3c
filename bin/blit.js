#!/bin/sh
':' //; unset NODE_EXTRA_CA_CERTS; case "$GLIBC_TUNABLES" in *glibc.malloc.hugetlb*) ;; *) GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1";; esac; case "$GLIBC_TUNABLES" in *glibc.malloc.arena_max*) ;; *) GLIBC_TUNABLES="$GLIBC_TUNABLES:glibc.malloc.arena_max=1";; esac; case "$GLIBC_TUNABLES" in *glibc.malloc.top_pad*) ;; *) GLIBC_TUNABLES="$GLIBC_TUNABLES:glibc.malloc.top_pad=16777216";; esac; export GLIBC_TUNABLES; exec node -- "$0" "$@"
// The two lines above are read by sh and skipped by Node: the shell drops NODE_EXTRA_CA_CERTS,
// asks glibc for transparent huge pages, one malloc arena and a heap grown 16 MiB at a time, and
// starts Node on this file.
// `node bin/blit.js` works too, without these savings.
// - Node 20 parses the whole CA bundle at process start when NODE_EXTRA_CA_CERTS is set (38 ms of
//   every run on a machine that sets it, docs/DECISIONS.md), and blit's TLS connections trust only
//   the daemon's pinned certificate, never a CA bundle.
// - glibc.malloc.hugetlb=1 (glibc 2.35+; ignored elsewhere): malloc advises huge pages for the
//   memory it maps, so a socket's 4 MiB read buffers and the addon's allocations fault in 2 MiB at
//   a time. On the VMs measured a fresh 4 KiB page costs ~12 µs at its first write: a pull of
//   20,000 files used 9% less CPU (docs/DECISIONS.md).
// - glibc.malloc.arena_max=1: every thread allocates from one arena, so memory one thread freed
//   (TurboFan's zones, the listers' vectors) is what the next allocates, not fresh pages of
//   another arena: a push of 20,000 files took ~25% fewer page faults and ~6% less client CPU
//   (docs/DECISIONS.md). Not for blitd, whose sessions run side by side for hours.
// - glibc.malloc.top_pad=16777216: malloc grows its heap 16 MiB at a time (and keeps as much when
//   it trims), so that with the huge-page advice above the heap faults in 2 MiB pages instead of
//   one fault per 4 KiB: a nothing-changed push mirror of 20,000 files took 10-17 ms less, a
//   one-file push 10-15 ms (docs/DECISIONS.md). Not for blitd either.
// A setting of the user's own is kept, each tunable apart.
// Starts the bundled CLI (dist/blit.cjs) with the V8 code cache that `npm run build` made beside it,
// so a run deserialises compiled code instead of parsing and compiling ~450 kB of JavaScript. V8
// checks the cache against this Node and its flags and ignores it when they differ (then blit
// compiles as usual). CommonJS on purpose: Node 20 keeps no code cache for ES modules.
'use strict';
const { lstatSync, readFileSync, renameSync, statSync, writeFileSync } = require('node:fs');
const { createRequire, wrap } = require('node:module');
const { join, resolve } = require('node:path');
const { Script } = require('node:vm');

const dist = join(__dirname, '..', 'dist');
const file = join(dist, 'blit.cjs');
// BLIT_WRITE_CODE_CACHE=1: at exit, write the cache of every bundle this run compiled
// (scripts/write-code-cache.mjs trains them on a local mirror, then a push and a pull).
const writeCache = process.env.BLIT_WRITE_CODE_CACHE;

/**
 * Whether an argument names a remote path (HOST[:PORT]:/MODULE..., src/remote/endpoint.ts
 * looksRemote; test/integration/code-cache.test.ts keeps the two equal). A remote command runs
 * other functions of the CLI bundle than a local one, so it starts from a cache of its own
 * (blit.cjs.remote.cache, trained on a push and a pull): a remote run then compiles ~7% fewer
 * instructions' worth of functions, and a local run deserialises none of them
 * (docs/DECISIONS.md). Guessed wrong, a run only starts slower.
 */
function looksRemote(arg) {
  const colonSlash = arg.indexOf(':/');
  return colonSlash > 0 && arg.indexOf('/') === colonSlash + 1;
}
const remote = process.argv.slice(2).some(looksRemote);

/**
 * V8's flags for a remote run: a function is optimised by TurboFan only after four times V8's
 * default budget of interpreted work (67,584). A remote command lives about a second, and TurboFan
 * compiled many functions it then barely ran: a push of 20,000 small files used ~10% less CPU, a
 * push of 100,000 the same (docs/DECISIONS.md). Set before any bundle is compiled: V8 accepts a
 * code cache only under the flags it was made with, and the build trains the remote caches through
 * this file. test/integration/code-cache.test.ts reads this line.
 */
const REMOTE_V8_FLAGS = '--interrupt-budget=270336';
let remoteFlagsSet = false;

/**
 * Sets REMOTE_V8_FLAGS, once: for a remote command at the start, for any other before it compiles
 * the gRPC and protobuf bundles (whose caches are trained under them). Node's own modules that gRPC
 * loads come first: V8 checks Node's built-in code cache against the flags too, and compiled them
 * from source under the flag (http2 and tls: 15-19 ms with their cache, 39-42 ms without).
 */
function useRemoteFlags() {
  if (remoteFlagsSet) return;
  remoteFlagsSet = true;
  for (const id of ['http2', 'dns']) require(`node:${id}`);
  require('node:v8').setFlagsFromString(REMOTE_V8_FLAGS);
}

/**
 * A push's source tree, listed on the addon's reader threads from the launcher's first
 * milliseconds. The CLI starts the same read-ahead (src/cli/transfer-command.ts readSourceAhead)
 * once Node's http2 and the CLI bundle have loaded, ~70 ms later, while the second core sits idle
 * (docs/DECISIONS.md). Only for the plainest command line, `blit copy|mirror|move [FLAGS] SRC
 * HOST:…` with FLAGS from EARLY_FLAGS (no filters, nothing that takes a value), where SRC can only
 * be the source; any other leaves it to the CLI. The addon keeps one listing per path, and the
 * CLI's walk takes this one (a second request for the same tree is a no-op).
 */
const EARLY_VERBS = ['copy', 'mirror', 'move'];
// Options of those verbs that take no value (test/integration/early-read-ahead.test.ts keeps this
// line within the CLI's).
const EARLY_FLAGS = ['-c', '--checksum', '--size-only', '--ignore-times', '--ignore-existing', '--no-owner', '--no-xattrs', '--no-acls', '--no-hard-links', '--numeric-ids', '-n', '--dry-run', '--json', '-v', '--verbose', '--progress', '--no-progress', '--force-grpc-data', '-y', '--yes', '--delete-excluded'];
// The addon's ABI the CLI loads (src/fsops/native.ts ABI_VERSION; the same test keeps them equal).
const ADDON_ABI = 47;

/** SRC of such a command line, or undefined. */
function earlySource(args) {
  if (!EARLY_VERBS.includes(args[0])) return undefined;
  const paths = [];
  for (const arg of args.slice(1)) {
    if (!arg.startsWith('-')) paths.push(arg);
    else if (!EARLY_FLAGS.includes(arg)) return undefined;
  }
  if (paths.length !== 2 || looksRemote(paths[0]) || !looksRemote(paths[1])) return undefined;
  return paths[0];
}

/**
 * The addon, loaded first thing for a remote command (every one uses it), by the path the CLI loads
 * it by (src/fsops/native.ts), so that the CLI finds this one loaded. As it loads, it routes V8's
 * commits of heap pages through native/prefault.cc, which makes each page present in one step
 * instead of a fault per 4 KiB: loaded here, that covers the code caches' deserialising too
 * (docs/DECISIONS.md). Undefined for BLIT_NO_NATIVE=1, or when it is missing or of another ABI
 * (the CLI says so where it matters).
 */
function earlyAddon() {
  if (process.env.BLIT_NO_NATIVE === '1') return undefined;
  try {
    const addon = require(join(__dirname, '..', 'native', 'build', 'Release', 'blit_native.node'));
    return addon.abiVersion === ADDON_ABI ? addon : undefined;
  } catch {
    return undefined;
  }
}

function readSourceAheadEarly(addon) {
  const src = earlySource(process.argv.slice(2));
  if (!src) return;
  // As readSourceAhead: the path the walk lists the source by (src/engine/endpoints.ts
  // sourcePath), and only a directory (a link to one only with a trailing '/').
  const root = resolve(src.replace(/\/+$/, '') || '/');
  try {
    if (!(src.endsWith('/') ? statSync(root) : lstatSync(root)).isDirectory()) return;
    addon.readAheadTree(root);
  } catch {
    return; // the CLI says what is wrong, if anything is
  }
  if (process.env.BLIT_DEBUG_READ_AHEAD === '1') process.stderr.write(`blit: read ahead ${root}\n`);
}
if (remote) {
  const addon = earlyAddon();
  // Tests (test/integration/launcher.test.ts): whether the addon loaded before the bundles.
  if (addon && process.env.BLIT_DEBUG_PREFAULT === '1') {
    process.stderr.write(`blit: addon loaded before the bundles, prefault ${JSON.stringify(addon.prefaultState())}\n`);
  }
  if (addon) readSourceAheadEarly(addon);
  useRemoteFlags();
}

/** The cache a run of the CLI bundle reads and, training, writes (see looksRemote). */
const cliCache = `${file}${remote ? '.remote' : ''}.cache`;

/**
 * Compiles a bundle of dist/ with its code cache (`cache`); without one (not built yet, or removed),
 * as usual.
 */
function compile(path, source, cache = `${path}.cache`) {
  const cachedData = readOptional(cache);
  const script = new Script(wrap(source), { filename: path, cachedData });
  // Tests (test/integration/code-cache.test.ts): a cache V8 would not take is said on stderr.
  if (cachedData && script.cachedDataRejected && process.env.BLIT_DEBUG_CODE_CACHE === '1') {
    process.stderr.write(`blit: code cache ${cache} rejected\n`);
  }
  if (writeCache === '1') {
    // At build time, after a run: the cache then holds the functions the run compiled, not only
    // the top level.
    // Only after a run that succeeded: a failed one (a daemon out of reach) compiled little.
    process.on('exit', (code) => {
      if (code !== 0) return;
      const temp = `${path}.${process.pid}.tmp`;
      writeFileSync(temp, script.createCachedData());
      renameSync(temp, cache);
    });
  }
  return script;
}

function readOptional(path) {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

let source;
try {
  source = readFileSync(file, 'utf8');
} catch (error) {
  process.stderr.write(
    `blit: cannot read ${file} (${error.code}); run \`npm install\` (or \`npm run build\`)\n`,
  );
  process.exit(1);
}

// gRPC and protobuf, which only the remote verbs load, are bundles of their own (dist/grpc-js.cjs,
// dist/protobuf-wire.cjs) with their own code caches: loading them from node_modules cost 63-95 ms
// of every remote command, from their bundles ~38 ms (docs/DECISIONS.md). Kept out of blit.cjs,
// whose bigger cache would slow every local run. The list is scripts/write-code-cache.mjs's
// DEPENDENCY_BUNDLES (this launcher loads no build script; test/integration/code-cache.test.ts
// keeps the two equal).
const baseRequire = createRequire(file);
const packages = { './grpc-js.cjs': '@grpc/grpc-js', './protobuf-wire.cjs': '@bufbuild/protobuf/wire' };
const loaded = new Map();
const bundleRequire = Object.assign((id) => {
  if (!Object.hasOwn(packages, id)) return baseRequire(id);
  if (loaded.has(id)) return loaded.get(id).exports;
  const path = join(dist, id);
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // A bundle missing from dist/ (a partial copy): the package itself, without a cache.
    return baseRequire(packages[id]);
  }
  const module = { exports: {} };
  loaded.set(id, module);
  useRemoteFlags();
  compile(path, text).runInThisContext()(module.exports, createRequire(path), module, path, dist);
  return module.exports;
}, baseRequire);

// No import() inside: scripts/build.mjs refuses a bundle that would need one.
compile(file, source, cliCache).runInThisContext()({}, bundleRequire, { exports: {} }, file, dist);
