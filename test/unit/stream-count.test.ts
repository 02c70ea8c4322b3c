/**
 * The data plane's socket count: one more socket is asked for after a window of bulk data, kept
 * while throughput still grows by a tenth, and never beyond the cap; small windows and windows
 * before the requested socket connected decide nothing. The block layout both sides check.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  blockCount,
  blockLength,
  blocksOf,
  DATA_BLOCK_BYTES,
  SMALL_FILE_BYTES,
} from '../../src/transport/tcp/layout.js';
import { MAX_DATA_SOCKETS, StreamCount } from '../../src/transport/tcp/stream-count.js';

const MiB = 1 << 20;
/** A window of `mibPerS` MiB/s over half a second with `sockets` connected. */
const window = (mibPerS: number, sockets: number) => ({ bytes: (mibPerS * MiB) / 2, ms: 500, sockets });

test('a socket is added while throughput grows, and the count stops at the first that does not help', () => {
  const count = new StreamCount();
  assert.equal(count.observe(window(100, 1)), true, 'bulk work: ask for a second socket');
  assert.equal(count.observe(window(100, 1)), false, 'not connected yet: no decision');
  assert.equal(count.observe(window(150, 2)), true, '+50%: ask for a third');
  assert.equal(count.observe(window(160, 3)), false, '+7%: stop');
  assert.equal(count.settled, true);
  assert.equal(count.observe(window(400, 3)), false, 'settled stays settled');
});

test('windows without bulk data decide nothing', () => {
  const count = new StreamCount();
  assert.equal(count.observe({ bytes: MiB, ms: 500, sockets: 1 }), false);
  assert.equal(count.observe({ bytes: 0, ms: 0, sockets: 1 }), false);
  assert.equal(count.settled, false);
  assert.equal(count.observe(window(100, 1)), true);
});

test('never more than the cap', () => {
  const count = new StreamCount();
  let sockets = 1;
  for (let rate = 100; count.observe(window(rate, sockets)); rate *= 2) sockets++;
  assert.equal(sockets, MAX_DATA_SOCKETS);
  assert.equal(count.settled, true);
});

test('blocks: files above one block travel as fixed blocks, the last one shorter', () => {
  assert.equal(blockCount(DATA_BLOCK_BYTES), 0, 'one block or less travels whole');
  assert.equal(blockCount(DATA_BLOCK_BYTES + 1), 2);
  assert.equal(blockCount(3 * DATA_BLOCK_BYTES), 3);
  const size = 2 * DATA_BLOCK_BYTES + 5;
  assert.equal(blockLength(size, 0), DATA_BLOCK_BYTES);
  assert.equal(blockLength(size, 2 * DATA_BLOCK_BYTES), 5);
  assert.equal(blockLength(size, 1), undefined, 'not at a block boundary');
  assert.equal(blockLength(size, 3 * DATA_BLOCK_BYTES), undefined, 'past the end');
  // A file too large for a batch may also travel as blocks (by sendfile it does): one if it fits one.
  assert.equal(blockLength(DATA_BLOCK_BYTES, 0), DATA_BLOCK_BYTES);
  assert.equal(blockLength(SMALL_FILE_BYTES + 1, 0), SMALL_FILE_BYTES + 1);
  assert.equal(blocksOf(SMALL_FILE_BYTES + 1), 1);
  assert.equal(blocksOf(size), 3);
  assert.equal(blockLength(SMALL_FILE_BYTES, 0), undefined, 'a file a batch takes never travels as blocks');
  assert.equal(blockLength(0, 0), undefined, 'an empty file has no blocks');
});
