/**
 * bin/blit.js starts the CLI bundle with the V8 code cache the build made: the cache must exist and
 * be accepted by this Node, and a missing or damaged cache must only cost speed, never a run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { read, tempDir, testConfigHome } from '../helpers.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BUNDLE = join(REPO, 'dist', 'blit.cjs');
const CACHE = join(REPO, 'dist', 'blit.cjs.cache');

test('the build leaves a code cache that this Node accepts, holding more than the top level', () => {
  const cachedData = readFileSync(CACHE);
  const script = new Script(Module.wrap(read(BUNDLE)), { filename: BUNDLE, cachedData });
  assert.equal(script.cachedDataRejected, false);
  // Made after a real mirror, it carries the functions that run compiled; a cache of the top level
  // alone (made before running) is much smaller.
  const topLevelOnly = new Script(Module.wrap(read(BUNDLE)), { filename: BUNDLE }).createCachedData();
  assert.ok(
    cachedData.length > topLevelOnly.length * 1.5,
    `${cachedData.length} vs ${topLevelOnly.length} bytes`,
  );
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

function run(root: string, args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'blit.js'), ...args], {
    env: { ...process.env, XDG_CONFIG_HOME: testConfigHome() },
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

test('without its bundle, blit says to build it in one line', (t) => {
  const root = install(t);
  rmSync(join(root, 'dist', 'blit.cjs'));
  const r = run(root, ['--version']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^blit: cannot read .*dist\/blit\.cjs \(ENOENT\); run `npm install`.*\n$/);
});
