/**
 * bin/blit.js starts the CLI bundle with the V8 code cache the build made: the cache must exist and
 * be accepted by this Node, and a missing or damaged cache must only cost speed, never a run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
// @ts-expect-error: a build script in plain JavaScript, without types.
import { DEPENDENCY_BUNDLES, REMOTE_CLI_CACHE } from '../../scripts/write-code-cache.mjs';
import { read, tempDir, testConfigHome } from '../helpers.js';
import { startDaemon } from './daemon-harness.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BUNDLE = join(REPO, 'dist', 'blit.cjs');

/** The bundles of gRPC and protobuf that only the remote verbs load, as the build makes them. */
const DEPENDENCIES = Object.values(DEPENDENCY_BUNDLES).map((name) => `${name}.cjs`);

/**
 * The V8 flags bin/blit.js sets for a remote run (REMOTE_V8_FLAGS), under which the build trains
 * the caches remote runs read: V8 rejects a cache made under other flags.
 */
const REMOTE_V8_FLAGS = /^const REMOTE_V8_FLAGS = '([^']+)';$/m.exec(read(join(REPO, 'bin', 'blit.js')))?.[1];

/**
 * Each bundle with each cache the build leaves for it, and the flags of the runs that read it: the
 * CLI's has a second one for remote commands, and only remote commands load gRPC and protobuf.
 */
const CACHES: [string, string, string][] = [
  ['blit.cjs', 'blit.cjs.cache', ''],
  ...DEPENDENCIES.map((name): [string, string, string] => [name, `${name}.cache`, REMOTE_V8_FLAGS ?? '']),
  ['blit.cjs', REMOTE_CLI_CACHE, REMOTE_V8_FLAGS ?? ''],
];

/**
 * In a fresh Node with `flags` set as bin/blit.js sets them: whether V8 rejects `cache` for
 * `bundle`, its size, and the size of a cache of the bundle's top level alone.
 */
function checkCache(bundle: string, cache: string, flags: string) {
  const program = `
    const { readFileSync } = require('node:fs');
    const { wrap } = require('node:module');
    const { Script } = require('node:vm');
    if (process.argv[3]) require('node:v8').setFlagsFromString(process.argv[3]);
    const source = wrap(readFileSync(process.argv[1], 'utf8'));
    const cachedData = readFileSync(process.argv[2]);
    const script = new Script(source, { filename: process.argv[1], cachedData });
    const topLevel = new Script(source, { filename: process.argv[1] }).createCachedData().length;
    console.log(JSON.stringify({ rejected: script.cachedDataRejected, bytes: cachedData.length, topLevel }));`;
  const r = spawnSync(process.execPath, ['-e', program, bundle, cache, flags], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { rejected: boolean; bytes: number; topLevel: number };
}

test('bin/blit.js names the V8 flags of remote runs where this test reads them', () => {
  assert.match(REMOTE_V8_FLAGS ?? '', /^--/);
});

for (const [name, cache, flags] of CACHES) {
  test(`the build leaves a code cache ${cache} that this Node accepts${flags ? ` under ${flags}` : ''}, holding more than the top level`, () => {
    const checked = checkCache(join(REPO, 'dist', name), join(REPO, 'dist', cache), flags);
    assert.equal(checked.rejected, false);
    // Made after a real mirror (a remote one for gRPC and protobuf), it carries the functions that
    // run compiled; a cache of the top level alone (made before running) is much smaller.
    assert.ok(checked.bytes > checked.topLevel * 1.5, `${checked.bytes} vs ${checked.topLevel} bytes`);
  });
}

test('the CLI bundle loads gRPC and protobuf from their own bundles, not from node_modules', () => {
  const source = read(BUNDLE);
  for (const name of DEPENDENCIES) assert.ok(source.includes(`require("./${name}")`), name);
  assert.doesNotMatch(source, /require\("@grpc\/grpc-js"\)|require\("@bufbuild\/protobuf/);
});

/** A copy of bin/ and dist/ (node_modules linked) whose cache a test may damage. */
function install(t: { after(fn: () => void): void }): string {
  const root = tempDir(t);
  cpSync(join(REPO, 'bin'), join(root, 'bin'), { recursive: true });
  // Not the single executables (npm run build:sea): 200 MB this test does not use.
  const sea = join(REPO, 'dist', 'sea');
  cpSync(join(REPO, 'dist'), join(root, 'dist'), { recursive: true, filter: (path) => path !== sea });
  cpSync(join(REPO, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
  symlinkSync(join(REPO, 'native'), join(root, 'native'));
  return root;
}

function run(root: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'blit.js'), ...args], {
    env: { ...process.env, XDG_CONFIG_HOME: testConfigHome(), ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

for (const [name, damage] of [
  ['missing', (cache: string) => rmSync(cache)],
  ['garbage', (cache: string) => writeFileSync(cache, Buffer.alloc(4096, 0x5a))],
  ['truncated', (cache: string) => writeFileSync(cache, readFileSync(cache).subarray(0, 1000))],
] as const) {
  test(`a ${name} code cache still runs a copy correctly`, (t) => {
    const root = install(t);
    damage(join(root, 'dist', 'blit.cjs.cache'));
    writeFileSync(join(root, 'file with spaces'), 'payload\n');
    const r = run(root, ['copy', join(root, 'file with spaces'), join(root, 'copied')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(read(join(root, 'copied')), 'payload\n');
  });
}

for (const [name, damage] of [
  ['a missing cache', (root: string) => rmSync(join(root, 'dist', 'grpc-js.cjs.cache'))],
  [
    'a garbage cache',
    (root: string) => writeFileSync(join(root, 'dist', 'protobuf-wire.cjs.cache'), Buffer.alloc(4096, 0x5a)),
  ],
  // Bundles missing from dist/ (a partial copy): the packages themselves.
  [
    'no bundles',
    (root: string) => {
      rmSync(join(root, 'dist', 'grpc-js.cjs'));
      rmSync(join(root, 'dist', 'protobuf-wire.cjs'));
    },
  ],
] as const) {
  test(`${name} for gRPC and protobuf still runs a push correctly`, async (t) => {
    const root = install(t);
    damage(root);
    const module = tempDir(t);
    const daemon = await startDaemon(t, ['--root', module]);
    writeFileSync(join(root, 'file with spaces'), 'payload\n');
    const r = run(root, ['copy', join(root, 'file with spaces'), `127.0.0.1:${daemon.port}:/default/copied`]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(read(join(module, 'copied')), 'payload\n');
  });
}

test('a remote run compiles gRPC and protobuf from their bundles, and the CLI from its remote cache', async (t) => {
  const root = install(t);
  // Each one the build makes: bin/blit.js's own list must name them all.
  const caches = [...DEPENDENCIES.map((name) => `${name}.cache`), REMOTE_CLI_CACHE].map((name) =>
    join(root, 'dist', name),
  );
  for (const cache of caches) rmSync(cache);
  const local = join(root, 'dist', 'blit.cjs.cache');
  const before = readFileSync(local);
  const module = tempDir(t);
  const daemon = await startDaemon(t, ['--root', module]);
  writeFileSync(join(root, 'file'), 'payload\n');
  // As the build trains them: a remote run writes the caches it read, never the local commands' one.
  const pushed = run(root, ['copy', join(root, 'file'), `127.0.0.1:${daemon.port}:/default/copied`], {
    BLIT_WRITE_CODE_CACHE: '1',
  });
  assert.equal(pushed.status, 0, pushed.stderr);
  for (const cache of caches) assert.ok(existsSync(cache), `${cache} written`);
  assert.deepEqual(readFileSync(local), before);
  for (const cache of caches) rmSync(cache);
  // And a local run the local one alone.
  rmSync(local);
  const r = run(root, ['copy', join(root, 'file'), join(root, 'copied:/x')], { BLIT_WRITE_CODE_CACHE: '1' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(read(join(root, 'copied:/x')), 'payload\n');
  assert.ok(existsSync(local), 'the local cache written');
  for (const cache of caches) assert.equal(existsSync(cache), false, `${cache} not written`);
});

test('the caches the build made are taken by a push, a pull, a daemon-address verb and a local copy', async (t) => {
  const module = tempDir(t);
  const daemon = await startDaemon(t, ['--root', module]);
  const local = tempDir(t);
  writeFileSync(join(local, 'file'), 'payload\n');
  const remote = `127.0.0.1:${daemon.port}:/default`;
  for (const args of [
    ['copy', join(local, 'file'), `${remote}/pushed`],
    ['copy', `${remote}/pushed`, join(local, 'pulled')],
    // No remote path among its arguments: it loads gRPC's bundles all the same.
    ['list-modules', `127.0.0.1:${daemon.port}`],
    ['copy', join(local, 'file'), join(local, 'copied')],
  ]) {
    const r = run(REPO, args, { BLIT_DEBUG_CODE_CACHE: '1' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '', args.join(' '));
  }
  assert.equal(read(join(local, 'pulled')), 'payload\n');
  assert.equal(read(join(local, 'copied')), 'payload\n');
});

test('a remote run without its cache, or with a damaged one, still pushes correctly', async (t) => {
  const module = tempDir(t);
  const daemon = await startDaemon(t, ['--root', module]);
  for (const [name, damage] of [
    ['missing', (cache: string) => rmSync(cache)],
    ['garbage', (cache: string) => writeFileSync(cache, Buffer.alloc(4096, 0x5a))],
  ] as const) {
    const root = install(t);
    damage(join(root, 'dist', REMOTE_CLI_CACHE));
    writeFileSync(join(root, 'file'), `${name}\n`);
    const r = run(root, ['copy', join(root, 'file'), `127.0.0.1:${daemon.port}:/default/${name}`]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(read(join(module, name)), `${name}\n`);
  }
});

test('without its bundle, blit says to build it in one line', (t) => {
  const root = install(t);
  rmSync(join(root, 'dist', 'blit.cjs'));
  const r = run(root, ['--version']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^blit: cannot read .*dist\/blit\.cjs \(ENOENT\); run `npm install`.*\n$/);
});
