/**
 * `blit move`: copy, then remove each source entry once its copy has landed; source directories
 * go once empty. What the move does not transfer stays in the source.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  blit,
  blitUnprivileged,
  diffSnapshots,
  dirs,
  jsonReport,
  MTIME_TOLERANCE_NS,
  modeOf,
  read,
  snapshot,
  T,
  tempDir,
  writeFile,
} from '../helpers.js';

/** A small source tree: files at two depths, an empty directory, a link; returns its snapshot. */
function sourceTree(src: string): ReturnType<typeof snapshot> {
  writeFile(join(src, 'a.txt'), 'a', { mtime: T, mode: 0o640 });
  writeFile(join(src, 'sub/b.txt'), 'b', { mtime: T + 1 });
  writeFile(join(src, 'sub/deeper/c.txt'), 'c', { mtime: T + 2, mode: 0o755 });
  mkdirSync(join(src, 'empty'));
  symlinkSync('a.txt', join(src, 'link'));
  return snapshot(src);
}

function assertLanded(dst: string, expected: ReturnType<typeof snapshot>): void {
  // The destination root is created by the move; its own mtime is the source root's only for SRC/.
  const lines = diffSnapshots(snapshot(dst), expected, {
    mtimeToleranceNs: MTIME_TOLERANCE_NS,
    ignoreRootMtime: true,
  });
  assert.deepEqual(lines, [], `${dst} does not hold what the source held`);
}

describe('move', () => {
  test('SRC/ moves the contents: files and links removed from the source, emptied directories too, SRC kept', (t) => {
    const { src, dst } = dirs(tempDir(t));
    const before = sourceTree(src);

    const result = blit(['move', `${src}/`, dst, '--json']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(jsonReport(result).failed, 0);
    assertLanded(dst, before);
    assert.ok(lstatSync(src).isDirectory(), 'SRC itself is kept');
    assert.deepEqual(readdirSync(src), [], 'SRC is empty');
  });

  test('SRC moves SRC itself: it is removed at the end', (t) => {
    const { src, dst } = dirs(tempDir(t));
    const before = sourceTree(src);
    mkdirSync(dst);

    const result = blit(['move', src, dst]);

    assert.equal(result.status, 0, result.stderr);
    assertLanded(join(dst, 'src'), before);
    assert.equal(existsSync(src), false, 'SRC removed');
  });

  test('many files (on worker threads) all land and all leave the source', (t) => {
    const { src, dst } = dirs(tempDir(t));
    for (let i = 0; i < 120; i++) writeFile(join(src, `d${i % 5}/f${i}`), `file ${i}`, { mtime: T + i });
    writeFile(join(src, 'big.bin'), Buffer.alloc(3 << 20, 7), { mtime: T });
    const before = snapshot(src);

    const result = blit(['move', `${src}/`, dst, '--json']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(jsonReport(result).failed, 0);
    assertLanded(dst, before);
    assert.deepEqual(readdirSync(src), []);
  });

  test('excluded files stay in the source, and so do the directories holding them', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'a.txt'), 'a');
    writeFile(join(src, 'keep.log'), 'log');
    writeFile(join(src, 'sub/b.txt'), 'b');
    writeFile(join(src, 'sub/deep.log'), 'log');
    writeFile(join(src, 'gone/c.txt'), 'c');

    const result = blit(['move', `${src}/`, dst, '--exclude', '*.log']);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(src, { recursive: true }).map(String).sort(), [
      'keep.log',
      'sub',
      'sub/deep.log',
    ]);
    assert.deepEqual(readdirSync(dst, { recursive: true }).map(String).sort(), [
      'a.txt',
      'gone',
      'gone/c.txt',
      'sub',
      'sub/b.txt',
    ]);
  });

  test('files outside the size limits stay in the source', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'small'), 'small');
    writeFile(join(src, 'big'), Buffer.alloc(5000, 1));

    const result = blit(['move', `${src}/`, dst, '--max-size', '1K']);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(src), ['big']);
    assert.deepEqual(readdirSync(dst), ['small']);
  });

  test('a single file moves to a new name, keeping its mode and mtime', (t) => {
    const root = tempDir(t);
    const file = join(root, 'one.txt');
    writeFile(file, 'one', { mode: 0o600, mtime: T + 0.5 });
    const before = snapshot(file);

    const result = blit(['move', file, join(root, 'two.txt')]);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(existsSync(file), false);
    assert.equal(read(join(root, 'two.txt')), 'one');
    assert.equal(modeOf(join(root, 'two.txt')), 0o600);
    assert.deepEqual(
      diffSnapshots(snapshot(join(root, 'two.txt')), before, { mtimeToleranceNs: MTIME_TOLERANCE_NS }),
      [],
    );
  });

  test('a single file moves into a directory', (t) => {
    const root = tempDir(t);
    writeFile(join(root, 'one.txt'), 'one');
    mkdirSync(join(root, 'out'));

    const result = blit(['move', join(root, 'one.txt'), join(root, 'out')]);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(existsSync(join(root, 'one.txt')), false);
    assert.equal(read(join(root, 'out/one.txt')), 'one');
  });

  test('a single symlink moves as a link', (t) => {
    const root = tempDir(t);
    symlinkSync('target-somewhere', join(root, 'link'));

    const result = blit(['move', join(root, 'link'), join(root, 'moved')]);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(existsSync(join(root, 'link')) || lstatExists(join(root, 'link')), false);
    assert.equal(readlinkSync(join(root, 'moved')), 'target-somewhere');
  });

  test('a file already identical at the destination is removed from the source', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'same.txt'), 'same', { mtime: T });
    writeFile(join(dst, 'same.txt'), 'same', { mtime: T });

    const result = blit(['move', `${src}/`, dst]);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(src), []);
    assert.equal(read(join(dst, 'same.txt')), 'same');
  });

  test('--ignore-existing: a source file whose destination differs is kept, never lost', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'exists.txt'), 'source version', { mtime: T + 5 });
    writeFile(join(src, 'new.txt'), 'new');
    writeFile(join(dst, 'exists.txt'), 'destination version', { mtime: T });

    const result = blit(['move', `${src}/`, dst, '--ignore-existing']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(read(join(src, 'exists.txt')), 'source version');
    assert.equal(existsSync(join(src, 'new.txt')), false);
    assert.equal(read(join(dst, 'exists.txt')), 'destination version');
    assert.equal(read(join(dst, 'new.txt')), 'new');
  });

  test('--dry-run moves nothing', (t) => {
    const { src, dst } = dirs(tempDir(t));
    const before = sourceTree(src);

    const result = blit(['move', `${src}/`, dst, '--dry-run']);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(diffSnapshots(snapshot(src), before, { mtimeToleranceNs: 1n }), []);
    assert.equal(existsSync(dst), false);
    assert.match(result.stdout, /^would copy sub\/b\.txt$/m);
  });

  test('an unreadable file stays in the source and is reported (exit 2); the rest moves', (t) => {
    // Root reads through permission bits: blitUnprivileged runs blit as `nobody` then.
    const root = tempDir(t);
    const { src, dst } = dirs(root);
    writeFile(join(src, 'ok.txt'), 'ok');
    writeFile(join(src, 'sub/secret.txt'), 'secret', { mode: 0o000 });
    writeFile(join(src, 'sub/fine.txt'), 'fine');

    const result = blitUnprivileged(['move', `${src}/`, dst], root);

    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /^blit: sub\/secret\.txt: cannot read: permission denied$/m);
    assert.deepEqual(readdirSync(src, { recursive: true }).map(String).sort(), ['sub', 'sub/secret.txt']);
    chmodSync(join(src, 'sub/secret.txt'), 0o600);
    assert.equal(read(join(src, 'sub/secret.txt')), 'secret');
    assert.equal(read(join(dst, 'ok.txt')), 'ok');
    assert.equal(read(join(dst, 'sub/fine.txt')), 'fine');
    assert.equal(existsSync(join(dst, 'sub/secret.txt')), false);
  });
});

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
