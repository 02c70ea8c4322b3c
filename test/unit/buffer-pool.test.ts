/**
 * The sender's buffer pool (transport/tcp/buffer-pool.ts): a buffer given back, whole or as a view
 * from its start, is the next one taken, at its full size; no more than `keep` are kept; a buffer
 * is kept once however often it comes back, and only one the pool made.
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

test('a buffer given back twice is kept once; one the pool did not make, or after clear(), never', () => {
  const pool = new BufferPool(1024, 4);
  const taken = pool.take();
  pool.giveBack(taken);
  pool.giveBack(taken.subarray(0, 5));
  const first = pool.take();
  assert.equal(first.buffer, taken.buffer);
  assert.notEqual(pool.take().buffer, taken.buffer, 'not handed out twice');
  pool.giveBack(Buffer.allocUnsafeSlow(1024));
  assert.equal(pool.take().length, 1024);
  const kept = pool.take();
  pool.clear();
  pool.giveBack(kept);
  assert.notEqual(pool.take().buffer, kept.buffer, 'nothing kept once cleared');
});
