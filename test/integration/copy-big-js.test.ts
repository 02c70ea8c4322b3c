/**
 * A big file on the pure-JS path (no addon) is copied a buffer at a time: its bytes count as they
 * are written, every buffer beats the stall detector, and an interruption stops it midway with
 * nothing installed and no temp file left; where the file system clones, a clone is kept only if it
 * is of the file that was opened. copyFileJob is the pure-JS copier whatever is loaded. node:fs
 * functions are replaced in some tests (syncBuiltinESMExports makes the copier see them): to
 * interrupt at a given read, and to clone or refuse to whatever the file system here does.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  boardContext,
  type CopyJob,
  type CopyOutcome,
  copyFileJob,
  createCopyContext,
} from '../../src/fsops/copy-file.js';
import { ActivityBoard, BEATS } from '../../src/util/activity-board.js';
import { tempDir } from '../helpers.js';

const require = createRequire(import.meta.url);
const fs = require('node:fs') as typeof import('node:fs');

/** Replaces fs[name] with `make(real)` for the rest of the test. */
function stub<K extends 'readSync' | 'copyFileSync'>(
  t: { after(fn: () => void): void },
  name: K,
  make: (real: (typeof fs)[K]) => (typeof fs)[K],
): void {
  const real = fs[name];
  fs[name] = make(real);
  syncBuiltinESMExports();
  t.after(() => {
    fs[name] = real;
    syncBuiltinESMExports();
  });
}

/** A clone attempt fails as on ext4 or tmpfs; other copies go through. */
function noClone(t: { after(fn: () => void): void }): void {
  stub(t, 'copyFileSync', (real) => (src, dst, mode) => {
    if (mode && mode & fs.constants.COPYFILE_FICLONE_FORCE) {
      throw Object.assign(new Error('EOPNOTSUPP: clone refused'), { code: 'EOPNOTSUPP' });
    }
    real(src, dst, mode);
  });
}

/** A clone attempt succeeds (a plain copy stands in for the reflink), after `before` runs. */
function cloneWorks(t: { after(fn: () => void): void }, before: () => void = () => {}): void {
  stub(t, 'copyFileSync', (real) => (src, dst, mode) => {
    if (mode && mode & fs.constants.COPYFILE_FICLONE_FORCE) {
      // Exclusive: a link or file planted at the temp name is neither followed nor truncated.
      assert.ok(mode & fs.constants.COPYFILE_EXCL, 'the clone is created exclusively');
      before();
    }
    real(src, dst, (mode ?? 0) & fs.constants.COPYFILE_EXCL);
  });
}

const SIZE = 70 * 1024 * 1024 + 123;

function bigJob(root: string): CopyJob {
  const src = join(root, 'big.bin');
  // Random 1 MiB blocks with their index stamped in: a misplaced block shows.
  const block = randomBytes(1024 * 1024);
  const parts: Buffer[] = [];
  for (let i = 0; i * block.length < SIZE; i++) {
    const part = Buffer.from(block);
    part.writeUInt32LE(i, 0);
    parts.push(part);
  }
  writeFileSync(src, Buffer.concat(parts).subarray(0, SIZE));
  const stats = statSync(src, { bigint: true });
  return {
    rel: 'big.bin',
    src,
    dst: join(root, 'out', 'big.bin'),
    size: SIZE,
    mtimeNs: stats.mtimeNs,
    mode: 0o640,
    hashFirst: false,
    removeSource: false,
  };
}

/** A big source file, its job, and a context reporting on a board of its own. */
function bigCopy(t: { after(fn: () => void): void }) {
  const root = tempDir(t);
  const job = bigJob(root);
  const board = new ActivityBoard();
  return { root, job, board, ctx: boardContext(board, 0) };
}

/** The copy landed whole, with its mode, every byte counted once. */
function assertInstalled(outcome: CopyOutcome, job: CopyJob, board: ActivityBoard): void {
  assert.deepEqual(outcome, { rel: 'big.bin', status: 'copied', bytes: SIZE });
  assert.ok(readFileSync(job.dst).equals(readFileSync(job.src)), 'identical contents');
  assert.equal(statSync(job.dst).mode & 0o777, 0o640);
  assert.equal(board.bytesWritten(), SIZE, 'every byte counted once');
}

test('pure JS: a big file is copied a buffer at a time, counted and beating as it goes', (t) => {
  const { job, board, ctx } = bigCopy(t);
  noClone(t);

  const outcome = copyFileJob(job, ctx);

  assertInstalled(outcome, job, board);
  // 71 buffers of 1 MiB: one beat each.
  assert.ok(Atomics.load(board.ints, BEATS) >= 70, `${Atomics.load(board.ints, BEATS)} beats`);
});

test('pure JS: a big file interrupted midway stops within a buffer, is not installed, leaves no temp file', (t) => {
  const { root, job, board, ctx } = bigCopy(t);
  noClone(t);
  // The interruption arrives during the fifth read (as SIGINT sets the flag from another thread).
  let reads = 0;
  stub(
    t,
    'readSync',
    (real) =>
      ((...args: Parameters<typeof real>) => {
        if (++reads === 5) board.cancel();
        return real(...args);
      }) as typeof real,
  );

  const outcome = copyFileJob(job, ctx);

  assert.equal(outcome.status, 'failed');
  assert.match(outcome.reason ?? '', /operation canceled/);
  assert.equal(reads, 5, 'no read after the one during which it was interrupted');
  assert.equal(board.bytesWritten(), 5 * 1024 * 1024);
  assert.deepEqual(readdirSync(join(root, 'out')), [], 'nothing installed, no temp file');
});

test('pure JS: where the file system clones, the clone is installed, counted, and no temp file stays', (t) => {
  const { root, job, board, ctx } = bigCopy(t);
  cloneWorks(t);

  const outcome = copyFileJob(job, ctx);

  assertInstalled(outcome, job, board);
  assert.deepEqual(readdirSync(join(root, 'out')), ['big.bin'], 'no temp file left');
});

test('pure JS: a clone of a source replaced by rename meanwhile is not installed', (t) => {
  const root = tempDir(t);
  const job = bigJob(root);
  const ctx = createCopyContext();
  // An editor's atomic save between the open and the clone: the clone reads the new file.
  const other = join(root, 'other.bin');
  writeFileSync(other, Buffer.alloc(SIZE + 4096, 'B'));
  cloneWorks(t, () => fs.renameSync(other, job.src));

  const outcome = copyFileJob(job, ctx);

  assert.equal(outcome.status, 'failed');
  assert.match(outcome.reason ?? '', /source changed/);
  assert.deepEqual(readdirSync(join(root, 'out')), [], 'nothing installed, no temp file');
});
