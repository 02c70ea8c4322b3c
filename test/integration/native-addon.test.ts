/**
 * The addon directly: its batch copy counts as it goes (the stall detector's beat per 64 MiB chunk
 * and the bytes written, progress inside a huge file), and its directory read-ahead never hands out
 * a listing other than what a direct read gives (nor one from before a drop).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { type CopyJob, nativeBatch } from '../../src/fsops/copy-file.js';
import { type NativeBatch, type NativeCopyResult, nativeAddon } from '../../src/fsops/native.js';
import { ActivityBoard, CANCELLED } from '../../src/util/activity-board.js';
import { tempDir, writeFile } from '../helpers.js';

const addon = nativeAddon();
const MIB = 1024 * 1024;

test('copyFiles adds every byte it writes and beats per chunk of a large file', (t) => {
  assert.ok(addon, 'npm install builds the native addon');
  const root = tempDir(t);
  const sizes = [3, 200 * MIB, 5000];
  const srcs = sizes.map((size, i) => {
    const path = join(root, `src${i}`);
    writeFile(path, Buffer.alloc(size, i + 1));
    return path;
  });
  const dsts = sizes.map((_, i) => join(root, `dst${i}`));
  const n = sizes.length;
  const beat = new Int32Array(new SharedArrayBuffer(4));
  const written = new BigInt64Array(new SharedArrayBuffer(8));
  const batch = nativeBatch(
    addon,
    srcs.map((src, i) => copyJob(src, dsts[i]!)),
    process.umask(),
  );
  const result = addon.copyFiles(batch, beat, written);
  assert.equal(result.done, n);
  assert.deepEqual([...result.status], [0, 0, 0]);
  assert.equal(Number(written[0]), 200 * MIB + 5003);
  // 200 MiB is four kernel chunks (64+64+64+8), each beating, plus one beat per file.
  assert.ok(beat[0]! >= 4 + n, `beats: ${beat[0]}`);
  assert.equal(statSync(dsts[1]!).size, 200 * MIB);
  assert.equal(readFileSync(dsts[2]!)[4999], 3);
});

test('an interrupted copy stops after the chunk in flight, fails with ECANCELED and leaves no temp file', async (t) => {
  assert.ok(addon, 'npm install builds the native addon');
  const root = tempDir(t);
  writeFile(join(root, 'big'), Buffer.alloc(512 * MIB, 9));
  writeFile(join(root, 'small'), 'small');
  const job = (name: string) => copyJob(join(root, name), join(root, `${name}.copy`));
  // The board's header: beats, stopped, paused, cancelled (util/activity-board.ts).
  const header = new Int32Array(new SharedArrayBuffer(16));
  const written = new BigInt64Array(new SharedArrayBuffer(8));

  // Cancelled before the batch: nothing is attempted.
  Atomics.store(header, CANCELLED, 1);
  const none = addon.copyFiles(
    nativeBatch(addon, [job('big'), job('small')], process.umask()),
    header,
    written,
  );
  assert.equal(none.done, 0);
  Atomics.store(header, CANCELLED, 0);

  // Cancelled once the first 64 MiB chunk is written: the thread stops at the next chunk boundary.
  let settle: (answer: NativeCopyResult) => void = () => {};
  const answered = new Promise<NativeCopyResult>((resolve) => {
    settle = resolve;
  });
  const pool = addon.startCopyPool(1, header, written, undefined, (_id, answer) =>
    settle(answer as NativeCopyResult),
  );
  addon.submitCopies(pool, 1, nativeBatch(addon, [job('big')], process.umask()), 'copy: big', 0, -1);
  // Spin (the copy runs on its own thread): the flag goes up within microseconds of the first
  // chunk, with seven more 64 MiB chunks to go.
  const deadline = Date.now() + 20_000;
  while (Atomics.load(written, 0) === 0n && Date.now() < deadline) {}
  Atomics.store(header, CANCELLED, 1);
  const answer = await answered;
  addon.closeCopyPool(pool);
  assert.equal(answer.done, 1);
  assert.equal(answer.status[0], 1, 'failed');
  assert.equal(addon.errnoName(answer.errno[0]!), 'ECANCELED');
  const bytes = Number(Atomics.load(written, 0));
  assert.ok(bytes >= 64 * MIB && bytes < 512 * MIB, `${bytes} bytes written`);
  assert.deepEqual(names(root), ['big', 'small'], 'no copy and no temp file');
});

function names(dir: string): string[] {
  return addon!.listDir(dir).names.map(String).sort();
}

test('a directory read ahead lists exactly as a direct read, once; a missing one fails on the taking', (t) => {
  assert.ok(addon, 'npm install builds the native addon');
  const root = tempDir(t);
  const dirs = ['a', 'b b', 'c'].map((name) => join(root, name));
  dirs.forEach((dir, i) => {
    for (let k = 0; k <= i; k++) writeFile(join(dir, `f${k}`), `${k}`);
    mkdirSync(join(dir, 'sub'));
  });
  const direct = dirs.map(names);
  addon.readAhead([...dirs, join(root, 'missing')]);
  assert.deepEqual(dirs.map(names), direct);
  const listing = addon.listDir(dirs[2]!);
  assert.deepEqual([...listing.kinds].sort(), [0, 0, 0, 1], 'three files and a directory');
  assert.throws(
    () => addon.listDir(join(root, 'missing')),
    (error: NodeJS.ErrnoException) => {
      assert.equal(error.code, 'ENOENT');
      assert.match(error.message, /missing/);
      return true;
    },
  );
});

test('after dropReadAhead a listing read ahead is never used: changes made since are seen', (t) => {
  assert.ok(addon, 'npm install builds the native addon');
  const root = tempDir(t);
  writeFile(join(root, 'd', 'old'), 'x');
  addon.readAhead([join(root, 'd')]);
  // Let the background reader finish it, then change the directory and drop what was read.
  const until = Date.now() + 200;
  while (Date.now() < until) {}
  writeFile(join(root, 'd', 'new'), 'y');
  addon.dropReadAhead();
  assert.deepEqual(names(join(root, 'd')), ['new', 'old']);
});

/** A plain copy of `src` to `dst`, as the session would plan it (the copy checks the source's real mtime). */
function copyJob(src: string, dst: string): CopyJob {
  const stats = statSync(src, { bigint: true });
  return {
    rel: src,
    src,
    dst,
    size: Number(stats.size),
    mtimeNs: stats.mtimeNs,
    mode: 0o644,
    hashFirst: false,
    removeSource: false,
  };
}

function oneFileBatch(src: string, dst: string): NativeBatch {
  return nativeBatch(addon!, [copyJob(src, dst)], process.umask());
}

test('the copy pool answers every batch on the main thread; closing drops batches not started', async (t) => {
  assert.ok(addon, 'npm install builds the native addon');
  const root = tempDir(t);
  for (const name of ['a', 'b', 'c']) writeFile(join(root, name), `content ${name}`);
  const answers = new Map<number, number>();
  let answered: () => void = () => {};
  const board = new ActivityBoard();
  const pool = addon.startCopyPool(1, board.ints, board.written, board.slots, (id, result) => {
    answers.set(id, (result as NativeCopyResult).status[0]!);
    answered();
  });
  const firstTwo = new Promise<void>((resolve) => {
    answered = () => answers.size === 2 && resolve();
  });
  addon.submitCopies(pool, 1, oneFileBatch(join(root, 'a'), join(root, 'a.copy')), 'copy: a', 0, -1);
  addon.submitCopies(pool, 2, oneFileBatch(join(root, 'b'), join(root, 'b.copy')), 'copy: b', 0, -1);
  await firstTwo;
  assert.deepEqual([...answers.entries()].sort(), [
    [1, 0],
    [2, 0],
  ]);
  assert.equal(readFileSync(join(root, 'b.copy'), 'utf8'), 'content b');

  assert.equal(board.bytesWritten(), 'content a'.length + 'content b'.length);

  // One thread, busy for 1.5 s with a batch (the file it shows on the board says it started): the
  // next one is still queued when the pool closes.
  const slow = new Promise<void>((resolve) => {
    answered = () => answers.has(3) && resolve();
  });
  addon.submitCopies(pool, 3, oneFileBatch(join(root, 'a'), join(root, 'a.slow')), 'copy: slow a', 1500, -1);
  // The job's rel (here its source path) replaces the batch's label as the file's copy starts.
  const shown = `copy: ${join(root, 'a')}`;
  for (let i = 0; i < 2000 && board.get(1) !== shown; i++) await setTimeout(5);
  assert.equal(board.get(1), shown, 'the thread shows its file on the board');
  addon.submitCopies(pool, 4, oneFileBatch(join(root, 'c'), join(root, 'c.copy')), 'copy: c', 0, -1);
  assert.deepEqual(addon.closeCopyPool(pool), [4], 'the queued batch is dropped');
  assert.throws(
    () => addon.submitCopies(pool, 5, oneFileBatch(join(root, 'c'), join(root, 'c.late')), 'x', 0, -1),
    /closed/,
  );
  await slow;
  await setTimeout(100);
  assert.equal(board.get(1), '', 'an idle thread clears its slot');
  assert.equal(readFileSync(join(root, 'a.slow'), 'utf8'), 'content a');
  assert.ok(!answers.has(4), 'the queued batch never ran');
  assert.throws(() => statSync(join(root, 'c.copy')), { code: 'ENOENT' });
});
