/**
 * The sender's buffer pool (transport/tcp/buffer-pool.ts): a buffer given back, whole or as a view
 * from its start, is the next one taken, at its full size; no more than `keep` are kept; a buffer
 * is kept once however often it comes back, and only one the pool made; buffers made together (views
 * of one mapping) each come back as themselves.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool } from '../../src/transport/tcp/buffer-pool.js';

test('a buffer given back is taken again, whole even when a view of it came back', () => {
  const pool = new BufferPool(1024, 2);
  const first = pool.take();
  assert.equal(first.length, 1024);
  first.write('mark');
  pool.giveBack(first.subarray(0, 10));
  const again = pool.take();
  assert.equal(again.length, 1024, 'the whole buffer, not the view');
  assert.equal(again.buffer, first.buffer, 'the same memory');
  assert.equal(again.toString('utf8', 0, 4), 'mark');
  assert.notEqual(pool.take().buffer, first.buffer, 'taken once: the next is fresh');
});

test('no more than `keep` buffers are kept, and a view too short to be one is dropped', () => {
  const pool = new BufferPool(1024, 2);
  const taken = [pool.take(), pool.take(), pool.take()];
  for (const buffer of taken) pool.giveBack(buffer);
  const back = [pool.take(), pool.take(), pool.take()].map((b) => b.buffer);
  assert.equal(back.filter((b) => taken.some((t) => t.buffer === b)).length, 2);
  const small = new BufferPool(1024, 2);
  small.giveBack(Buffer.alloc(512));
  assert.equal(small.take().length, 1024);
});

test('a buffer given back twice is kept once; one the pool did not make never', () => {
  const pool = new BufferPool(1024, 4);
  const taken = pool.take();
  pool.giveBack(taken);
  pool.giveBack(taken.subarray(0, 5));
  const first = pool.take();
  assert.equal(first.buffer, taken.buffer);
  assert.notEqual(pool.take().buffer, taken.buffer, 'not handed out twice');
  const foreign = Buffer.allocUnsafeSlow(1024);
  pool.giveBack(foreign);
  assert.notEqual(pool.take().buffer, foreign.buffer, "not the pool's: never handed out");
});

test('buffers made together are handed out one by one, and each comes back as itself', () => {
  let mappings = 0;
  // As hugeBuffers does: views of one mapping, each at a multiple of the size.
  const pool = new BufferPool(1024, 4, (size) => {
    mappings++;
    const mapping = Buffer.alloc(3 * size + 100);
    return [
      mapping.subarray(0, size),
      mapping.subarray(size, 2 * size),
      mapping.subarray(2 * size, 3 * size),
    ];
  });
  const taken = [pool.take(), pool.take(), pool.take()];
  assert.equal(mappings, 1, 'three buffers from one mapping');
  assert.deepEqual(taken.map((b) => b.byteOffset).sort(), [0, 1024, 2048]);
  for (const buffer of taken) assert.equal(buffer.length, 1024);
  const [, second] = taken.sort((a, b) => a.byteOffset - b.byteOffset);
  second!.write('second');
  // A view from inside the second comes back as the second, whole; given back twice, kept once.
  pool.giveBack(second!.subarray(10, 20));
  pool.giveBack(second!);
  const again = pool.take();
  assert.equal(again.byteOffset, 1024);
  assert.equal(again.length, 1024);
  assert.equal(again.toString('utf8', 0, 6), 'second');
  assert.equal(pool.take().buffer === second!.buffer, false, 'the mapping is used up: the next is fresh');
  assert.equal(mappings, 2);
});
