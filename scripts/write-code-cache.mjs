// Writes the V8 code caches bin/blit.js starts the CLI with: dist/blit.cjs.cache (local commands),
// dist/blit.cjs.remote.cache (remote ones), and those of the gRPC and protobuf bundles the remote
// verbs load (dist/grpc-js.cjs.cache, protobuf-wire.cjs.cache).
// V8 accepts a cache only from the same V8 version and flags, so `npm run build` makes them for the
// Node that built it and an installed package makes them again for the Node it was installed on
// (npm's install step, after the native addon's build, so the caches hold the functions of the
// file-operation path that will run). Never fatal: without a cache blit compiles as usual, a few
// milliseconds slower.
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stringify as stringifyToml } from 'smol-toml';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * The tree a training run mirrors, made in `scratch`: a mirror that copies, updates and deletes,
 * so the cache holds what a transfer compiles (scripts/build-sea.mjs trains its binary on it too).
 */
export function trainingTree(scratch) {
  const src = join(scratch, 'src');
  const dst = join(scratch, 'dst');
  mkdirSync(join(src, 'dir'), { recursive: true });
  mkdirSync(dst);
  for (const name of ['a', 'b', 'dir/c']) writeFileSync(join(src, name), `${name}\n`);
  writeFileSync(join(dst, 'a'), 'older\n');
  writeFileSync(join(dst, 'stale'), 'gone\n');
  return { src, dst };
}

/**
 * Runs the CLI once on a scratch tree (a mirror that copies, updates and deletes) with
 * BLIT_WRITE_CODE_CACHE=1, so bin/blit.js saves V8's compiled code for the functions a transfer
 * runs; then a push and a pull through a blitd on loopback (ephemeral port), which write the CLI
 * bundle's cache for remote commands (REMOTE_CLI_CACHE) and the caches of the gRPC and protobuf
 * bundles only the remote verbs load. `fresh` removes the old caches first (a new bundle: V8
 * checks a cache against the source's length, not its contents). Returns a warning, or undefined
 * when the caches were written.
 */
export async function writeCodeCache({ fresh }) {
  const dist = join(root, 'dist');
  const cache = join(dist, 'blit.cjs.cache');
  const bundles = Object.values(DEPENDENCY_BUNDLES);
  const remoteCaches = [REMOTE_CLI_CACHE, ...bundles.map((name) => `${name}.cjs.cache`)].map((name) =>
    join(dist, name),
  );
  if (fresh) for (const path of [cache, ...remoteCaches]) rmSync(path, { force: true });
  const scratch = mkdtempSync(join(tmpdir(), 'blit-build-'));
  try {
    const { src, dst } = trainingTree(scratch);
    // The scratch config home keeps these runs out of the user's performance history.
    const env = { ...process.env, XDG_CONFIG_HOME: join(scratch, 'config') };
    const run = runCli(['mirror', '--yes', `${src}/`, dst], { ...env, BLIT_WRITE_CODE_CACHE: '1' });
    if (run.status !== 0 || !existsSync(cache)) {
      return `blit: no code cache written (blit exited ${run.status}: ${(run.stderr ?? '').trim()}); starts are slower`;
    }
    if (!bundles.every((name) => existsSync(join(dist, `${name}.cjs`)))) return undefined;
    const remote = await remoteTraining(scratch, src, env);
    if (remote || !remoteCaches.every((path) => existsSync(path))) {
      return `blit: no code cache for the remote verbs (${remote ?? 'not written'}); remote starts are slower`;
    }
    return undefined;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The CLI bundle's cache for remote commands (bin/blit.js), in dist/. */
export const REMOTE_CLI_CACHE = 'blit.cjs.remote.cache';

/**
 * The packages only the remote verbs load, each bundled by scripts/build.mjs into dist/NAME.cjs with
 * a code cache of its own, which bin/blit.js (its own list, kept equal by test/integration/
 * code-cache.test.ts) compiles in the package's place.
 */
export const DEPENDENCY_BUNDLES = { '@grpc/grpc-js': 'grpc-js', '@bufbuild/protobuf/wire': 'protobuf-wire' };

function runCli(args, env) {
  return spawnSync(process.execPath, [join(root, 'bin', 'blit.js'), ...args], {
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

/**
 * The shell the training daemon runs under: it starts blitd (the arguments after it), then waits
 * for its own stdin to close and stops the daemon. This process holds the other end of that pipe,
 * so however it ends, killed included, no daemon outlives it.
 */
export const LIFELINE = '"$@" & daemon=$!; read -r _; kill "$daemon" 2>/dev/null; wait "$daemon"';

/** The port of blitd's "listening" line in its log so far, if it is there. */
export function listeningPort(log) {
  for (const line of log.split('\n').slice(0, -1)) {
    try {
      const record = JSON.parse(line);
      if (record.msg === 'listening' && Number.isInteger(record.port)) return record.port;
    } catch {
      // Not a log line of blitd's (a warning of Node's): read on.
    }
  }
  return undefined;
}

function lastLine(path) {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  return lines[lines.length - 1] || 'no message';
}

/**
 * The training daemon's configuration, on loopback: `src` as the read-only module `training` (the
 * pull's source) and the empty directory `inbox` as the module `inbox` (the push's destination).
 * Paths absolute (blitd reads a configuration's relative paths against its own directory), written
 * by the TOML library blitd reads it with.
 */
export function trainingDaemonConfig(src, stateDir, inbox) {
  return stringifyToml({
    daemon: { bind: '127.0.0.1', port: 0, state_dir: resolve(stateDir) },
    module: [
      { name: 'training', path: resolve(src), read_only: true },
      { name: 'inbox', path: resolve(inbox), read_only: false },
    ],
  });
}

/**
 * A push of `src` to a blitd started on loopback for it, then a pull of `src` from it, each writing
 * the caches of every bundle it compiled: the pull starts from the push's caches, so they end up
 * holding what either runs (bin/blit.js keeps the CLI bundle's for remote runs apart). Returns
 * what went wrong, if anything. The daemon serves `src` as a read-only module and writes only into
 * an empty directory of the scratch tree, while it listens (under a second).
 */
async function remoteTraining(scratch, src, env) {
  const config = join(scratch, 'blitd.toml');
  const inbox = join(scratch, 'inbox');
  mkdirSync(inbox);
  writeFileSync(config, trainingDaemonConfig(src, join(scratch, 'state'), inbox));
  const outPath = join(scratch, 'blitd.out');
  const errPath = join(scratch, 'blitd.err');
  const out = openSync(outPath, 'w');
  const err = openSync(errPath, 'w');
  const blitd = [join(root, 'dist', 'blitd.js'), '--config', config];
  const daemon = spawn('/bin/sh', ['-c', LIFELINE, 'sh', process.execPath, ...blitd], {
    env,
    stdio: ['pipe', out, err],
  });
  closeSync(out);
  closeSync(err);
  let failed;
  daemon.stdin.on('error', () => {});
  const ended = new Promise((resolve) => {
    daemon.once('close', resolve);
    daemon.once('error', (error) => {
      failed = error;
      resolve();
    });
  });
  try {
    let port;
    for (const deadline = Date.now() + 10_000; port === undefined; ) {
      port = listeningPort(readFileSync(outPath, 'utf8'));
      if (port !== undefined) break;
      if (failed) return `blitd not started: ${failed.message}`;
      if (daemon.exitCode !== null || daemon.signalCode !== null) return `blitd ended: ${lastLine(errPath)}`;
      if (Date.now() > deadline) return `blitd did not start listening within 10 s: ${lastLine(errPath)}`;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const daemonAt = `127.0.0.1:${port}:`;
    for (const args of [
      ['mirror', '--yes', `${src}/`, `${daemonAt}/inbox/pushed`],
      ['mirror', '--yes', `${daemonAt}/training/`, join(scratch, 'pulled')],
    ]) {
      const run = runCli(args, { ...env, BLIT_WRITE_CODE_CACHE: '1' });
      if (run.status !== 0) return `blit exited ${run.status}: ${(run.stderr ?? '').trim()}`;
    }
    return undefined;
  } finally {
    daemon.stdin.end();
    await ended;
  }
}

// As npm's install step: refresh the cache of an installed package for this Node. In a clone whose
// bundle is not built yet there is nothing to run (`prepare` builds it next, with its cache).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (existsSync(join(root, 'dist', 'blit.cjs'))) {
    try {
      const warning = await writeCodeCache({ fresh: false });
      if (warning) console.warn(warning);
    } catch (error) {
      console.warn(`blit: no code cache written (${error.message}); starts are slower`);
    }
  }
}
