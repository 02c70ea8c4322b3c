/**
 * A push's source tree read ahead from the start (fsops/read-ahead.ts readTreeAhead, native
 * readAheadTree): the reader threads list the root, then each directory found below it, depth
 * first, never through a symbolic link, within their bounds; the walk's listDir then takes what they
 * listed. What was read ahead shows by being what the directory held then: the tests remove the
 * tree once the readers are done, and the listings still come.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type NativeAddon, nativeAddon } from '../../src/fsops/native.js';
import { readTreeAhead } from '../../src/fsops/read-ahead.js';
import { tempDir } from '../helpers.js';

const NEEDS = { skip: nativeAddon() ? false : 'needs the addon' };

/** Waits (bounded) until the readers have nothing left to list. */
async function readersDone(addon: NativeAddon): Promise<void> {
  for (let i = 0; i < 250 && addon.readAheadState().waiting > 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(addon.readAheadState().waiting, 0, 'the readers finished within 5 s');
}

/** The names listDir answers for `path` (the read-ahead's listing when there is one). */
function names(addon: NativeAddon, path: string): string[] {
  return [...addon.listDir(path).names].map(String).sort();
}

test('the tree below a root is listed ahead, and not through a link', NEEDS, async (t) => {
  const addon = nativeAddon()!;
  addon.dropReadAhead();
  t.after(() => addon.dropReadAhead());
  const base = tempDir(t, 'blit-tree-ahead-');
  const root = join(base, 'src');
  const outside = join(base, 'outside');
  for (const dir of ['a/b/c', 'a/d', 'e', 'f g']) mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, 'a', 'b', 'c', 'file'), 'x');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), '');
  symlinkSync(outside, join(root, 'e', 'link'));

  readTreeAhead(root, addon);
  await readersDone(addon);
  assert.equal(addon.readAheadState().listed, 7, 'the root and its six directories, not the link');
  rmSync(root, { recursive: true });
  rmSync(outside, { recursive: true });
  // Gone from the disk, yet listed as they were: the walk takes what the readers listed.
  assert.deepEqual(names(addon, root), ['a', 'e', 'f g']);
  assert.deepEqual(names(addon, join(root, 'a')), ['b', 'd']);
  assert.deepEqual(names(addon, join(root, 'a', 'b', 'c')), ['file']);
  assert.deepEqual(names(addon, join(root, 'e')), ['link']);
  assert.deepEqual(names(addon, join(root, 'f g')), []);
  // Each once: taken, the listing is gone (read again now: the directory is not there).
  assert.throws(() => addon.listDir(join(root, 'a')), /ENOENT/);
  // The link's target was never listed through it.
  assert.throws(() => addon.listDir(join(root, 'e', 'link')), /ENOENT/);
});

const NATIVE = fileURLToPath(new URL('../../src/fsops/native.ts', import.meta.url));

test("a tree read ahead starts one reader thread; the walk's own requests start the second", NEEDS, (t) => {
  const root = join(tempDir(t, 'blit-tree-ahead-'), 'src');
  for (let i = 0; i < 20; i++) mkdirSync(join(root, `d${i}`), { recursive: true });
  // In a process of its own, where no reader has started yet: its threads counted in /proc.
  const script = join(tempDir(t), 'readers.mts');
  writeFileSync(
    script,
    [
      "import { readdirSync } from 'node:fs';",
      `import { nativeAddon } from ${JSON.stringify(NATIVE)};`,
      'const addon = nativeAddon()!;',
      "const threads = () => readdirSync('/proc/self/task').length;",
      'const before = threads();',
      `addon.readAheadTree(${JSON.stringify(root)});`,
      'for (let i = 0; i < 250 && addon.readAheadState().waiting > 0; i++) await new Promise((r) => setTimeout(r, 20));',
      'const tree = threads();',
      `addon.readAhead([${JSON.stringify(join(root, 'd0'))}]);`,
      'const walk = threads();',
      'console.log(JSON.stringify({ tree: tree - before, walk: walk - before, listed: addon.readAheadState().listed }));',
    ].join('\n'),
  );
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const run = spawnSync(process.execPath, [...process.execArgv, script], {
    env,
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { tree: 1, walk: 2, listed: 21 });
});

test('the read-ahead of a tree stops at its bounds; dropReadAhead forgets it', NEEDS, async (t) => {
  const addon = nativeAddon()!;
  addon.dropReadAhead();
  t.after(() => addon.dropReadAhead());
  const root = join(tempDir(t, 'blit-tree-ahead-'), 'wide');
  for (let i = 0; i < 300; i++) mkdirSync(join(root, `d${i}`), { recursive: true });

  readTreeAhead(root, addon);
  await readersDone(addon);
  // At most 256 listings held at once: the root and 255 of its 300 directories.
  assert.equal(addon.readAheadState().listed, 256);
  addon.dropReadAhead();
  assert.deepEqual(addon.readAheadState(), { waiting: 0, listed: 0 });
  // A root given twice, or a missing one, queues nothing more than itself.
  readTreeAhead(join(root, 'missing'), addon);
  await readersDone(addon);
  assert.deepEqual(addon.readAheadState(), { waiting: 0, listed: 1 });
  assert.throws(() => addon.listDir(join(root, 'missing')), /ENOENT/);
});

test('past 100,000 entries listed in a tree, no more of its directories are queued', NEEDS, async (t) => {
  const addon = nativeAddon()!;
  addon.dropReadAhead();
  t.after(() => addon.dropReadAhead());
  const root = join(tempDir(t, 'blit-tree-ahead-'), 'src');
  const big = join(root, 'big');
  // 100,000 entries in one directory (names of two files, so no inode is made for each: ext4
  // allows 65,000 links to one), three of them directories: listed, it brings the tree to its
  // bound (the root's one entry with it).
  mkdirSync(big, { recursive: true });
  for (const dir of ['sub0', 'sub1', 'sub2']) mkdirSync(join(big, dir));
  const files = [join(root, 'one'), join(root, 'two')];
  for (const file of files) writeFileSync(file, '');
  for (let i = 0; i < 100_000 - 3; i++) linkSync(files[i % 2]!, join(big, `f${i}`));
  for (const file of files) rmSync(file);

  readTreeAhead(root, addon);
  await readersDone(addon);
  // The root and big: big's three directories are left for the walk to list itself.
  assert.equal(addon.readAheadState().listed, 2);
  assert.equal(addon.listDir(big).names.length, 100_000);
  assert.deepEqual(names(addon, join(big, 'sub1')), []);
});

test(
  'a listing of the tree read more than 2 s before the walk comes to it is read again',
  NEEDS,
  async (t) => {
    const addon = nativeAddon()!;
    addon.dropReadAhead();
    t.after(() => addon.dropReadAhead());
    const root = join(tempDir(t, 'blit-tree-ahead-'), 'src');
    mkdirSync(join(root, 'early'), { recursive: true });
    mkdirSync(join(root, 'late'));
    writeFileSync(join(root, 'early', 'gone'), '');
    writeFileSync(join(root, 'late', 'gone'), '');

    readTreeAhead(root, addon);
    await readersDone(addon);
    rmSync(join(root, 'early', 'gone'));
    rmSync(join(root, 'late', 'gone'));
    assert.deepEqual(names(addon, join(root, 'early')), ['gone'], 'taken within 2 s: as it was listed');
    // The bound is on the clock, not on work: wait for it to pass.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    assert.deepEqual(names(addon, join(root, 'late')), [], 'taken after 2 s: read again');
  },
);
