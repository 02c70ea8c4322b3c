/**
 * A big file on the pure-JS path (no addon) is copied a buffer at a time: its bytes count as they
 * are written, every buffer beats the stall detector, and an interruption stops it midway with
 * nothing installed and no temp file left. copyFileJob is the pure-JS copier whatever is loaded.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { type CopyJob, copyFileJob, createCopyContext } from '../../src/fsops/copy-file.js';
import { ActivityBoard, BEATS } from '../../src/util/activity-board.js';
import { tempDir } from '../helpers.js';

const require = createRequire(import.meta.url);

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

test('pure JS: a big file is copied a buffer at a time, counted and beating as it goes', (t) => {
  const root = tempDir(t);
  const job = bigJob(root);
  const board = new ActivityBoard();
  const ctx = { ...createCopyContext(), beat: board.ints, written: board.written };

  const outcome = copyFileJob(job, ctx);

  assert.deepEqual(outcome, { rel: 'big.bin', status: 'copied', bytes: SIZE });
  assert.ok(readFileSync(job.dst).equals(readFileSync(job.src)), 'identical contents');
  assert.equal(statSync(job.dst).mode & 0o777, 0o640);
  assert.equal(board.bytesWritten(), SIZE, 'every byte counted once');
  // 71 buffers of 1 MiB (ext4 and tmpfs cannot clone): one beat each.
  assert.ok(Atomics.load(board.ints, BEATS) >= 70, `${Atomics.load(board.ints, BEATS)} beats`);
});

test('pure JS: a big file interrupted midway stops within a buffer, is not installed, leaves no temp file', (t) => {
  const root = tempDir(t);
  const job = bigJob(root);
  const board = new ActivityBoard();
  const ctx = { ...createCopyContext(), beat: board.ints, written: board.written };
  // The interruption arrives during the fifth read (as SIGINT sets the flag from another thread).
  const fs = require('node:fs') as typeof import('node:fs');
  const realRead = fs.readSync;
  let reads = 0;
  fs.readSync = ((...args: Parameters<typeof realRead>) => {
    if (++reads === 5) board.cancel();
    return realRead(...args);
  }) as typeof realRead;
  syncBuiltinESMExports();
  t.after(() => {
    fs.readSync = realRead;
    syncBuiltinESMExports();
  });

  const outcome = copyFileJob(job, ctx);

  assert.equal(outcome.status, 'failed');
  assert.match(outcome.reason ?? '', /operation canceled/);
  assert.equal(reads, 5, 'no read after the one during which it was interrupted');
  assert.equal(board.bytesWritten(), 5 * 1024 * 1024);
  assert.deepEqual(readdirSync(join(root, 'out')), [], 'nothing installed, no temp file');
});
