/** `blit move` to a new target on the same file system: one rename, nothing copied. */
import assert from 'node:assert/strict';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { blit, jsonReport, tempDir, writeFile } from '../helpers.js';

test('a whole tree moved to a new target on the same file system is renamed: same inodes, hard links kept', (t) => {
  const root = tempDir(t);
  const src = join(root, 'src');
  writeFile(join(src, 'a', 'file'), 'contents', { mode: 0o640, mtime: 1_400_000_000 });
  linkSync(join(src, 'a', 'file'), join(src, 'hard link'));
  const inode = statSync(join(src, 'a', 'file')).ino;

  const result = blit(['move', src, join(root, 'new', 'place'), '--json']);

  assert.equal(result.status, 0, result.stderr);
  const report = jsonReport(result);
  assert.equal(report.renamed, true);
  assert.equal(report.copied, 1);
  assert.equal(existsSync(src), false);
  const moved = join(root, 'new', 'place');
  assert.equal(statSync(join(moved, 'a', 'file')).ino, inode, 'the same file, not a copy');
  assert.equal(statSync(join(moved, 'hard link')).ino, inode, 'hard links stay linked');
  assert.equal(readFileSync(join(moved, 'a', 'file'), 'utf8'), 'contents');
  assert.equal(lstatSync(join(moved, 'a', 'file')).mode & 0o777, 0o640);
});

test('the human summary says the move was a rename', (t) => {
  const root = tempDir(t);
  writeFile(join(root, 'one.txt'), 'x');
  const result = blit(['move', join(root, 'one.txt'), join(root, 'two.txt')]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^blit move: renamed .*one\.txt to .*two\.txt \(same file system\)/);
  assert.equal(readFileSync(join(root, 'two.txt'), 'utf8'), 'x');
});

test('filters, an existing target and dry runs never take the rename path', (t) => {
  const root = tempDir(t);
  const src = join(root, 'src');
  writeFile(join(src, 'keep.log'), 'log');
  writeFile(join(src, 'go.txt'), 'txt');

  const dry = blit(['move', '-n', src, join(root, 'dry'), '--json']);
  assert.equal(jsonReport(dry).renamed, undefined);
  assert.equal(existsSync(join(root, 'dry')), false);

  const filtered = blit(['move', src, join(root, 'filtered'), '--exclude', '*.log', '--json']);
  assert.equal(filtered.status, 0, filtered.stderr);
  assert.equal(jsonReport(filtered).renamed, undefined);
  assert.equal(existsSync(join(src, 'keep.log')), true, 'the excluded file stays');
  assert.equal(existsSync(join(root, 'filtered', 'go.txt')), true);

  mkdirSync(join(root, 'existing'));
  writeFile(join(root, 'existing', 'other'), 'o');
  const onto = blit(['move', `${src}/`, join(root, 'existing'), '--json']);
  assert.equal(onto.status, 0, onto.stderr);
  assert.equal(jsonReport(onto).renamed, undefined);
  assert.equal(readFileSync(join(root, 'existing', 'keep.log'), 'utf8'), 'log');
  assert.equal(readFileSync(join(root, 'existing', 'other'), 'utf8'), 'o');
});

test('a move to another file system copies and removes instead of renaming', (t) => {
  const shm = '/dev/shm';
  if (!existsSync(shm) || statSync(shm).dev === statSync(tempDir(t)).dev) {
    t.skip('no second file system (/dev/shm) here');
    return;
  }
  const src = mkdtempSync(join(shm, 'blit-test-'));
  t.after(() => rmSync(src, { recursive: true, force: true }));
  writeFile(join(src, 'tree', 'f'), 'on tmpfs');
  const target = join(tempDir(t), 'landed');
  const result = blit(['move', join(src, 'tree'), target, '--json']);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(jsonReport(result).renamed, undefined);
  assert.equal(jsonReport(result).copied, 1, 'the one file; the root directory is the target itself');
  assert.equal(readFileSync(join(target, 'f'), 'utf8'), 'on tmpfs');
  assert.equal(existsSync(join(src, 'tree')), false);
});
