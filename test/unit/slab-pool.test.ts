/**
 * The receiving sockets' read buffers (src/transport/tcp/slab-pool.ts): a slab is read into again
 * only once every view kept of it is released, and a socket has at most SLABS_PER_SOCKET out. A
 * fresh slab comes from the addon's huge-page mapping (native/huge_buffer.cc) when it can give one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nativeAddon } from '../../src/fsops/native.js';
import {
  holdView,
  releaseView,
  SLAB_BYTES,
  SLABS_PER_SOCKET,
  SlabQuota,
  slabsMade,
  spareSlabs,
} from '../../src/transport/tcp/slab-pool.js';
import { emptySpareSlabs } from '../helpers.js';

/**
 * With no spare slab in the pool: a socket's slab, of which a file (`start` to `end`) is kept and
 * held, and which the socket itself has let go of (moved on to its next read).
 */
function fileKept(start: number, end: number) {
  emptySpareSlabs();
  const quota = new SlabQuota();
  const slab = quota.take();
  const file = slab.subarray(start, end);
  holdView(file);
  releaseView(slab);
  return { quota, slab, file };
}

test('a slab comes back to be read into only once every view kept of it is released', () => {
  // The socket moves on: the file still waits to land, so the next read gets other memory.
  const { quota, slab, file } = fileKept(100, 200);
  const next = quota.take();
  assert.notEqual(next.buffer, slab.buffer);
  // The file lands: its slab is the one the read after that gets.
  releaseView(file);
  releaseView(next);
  const made = slabsMade();
  const again = quota.take();
  assert.equal(slabsMade(), made, 'no fresh slab for a read while one is spare');
  assert.ok(again.buffer === slab.buffer || again.buffer === next.buffer);
  releaseView(again);
});

test('a view held twice keeps its slab until both holds are released; extra releases change nothing', () => {
  const { slab, file: view } = fileKept(0, 10);
  holdView(view);
  releaseView(view);
  assert.equal(spareSlabs(), 0);
  releaseView(view);
  assert.equal(spareSlabs(), 1);
  releaseView(view);
  releaseView(slab);
  assert.equal(spareSlabs(), 1, 'released past zero: still one spare, not two');
  // Memory that is no slab is left alone.
  holdView(Buffer.alloc(10));
  releaseView(Buffer.alloc(10));
  assert.equal(spareSlabs(), 1);
});

test('a slab released and held again (a file queued to land once more) leaves the spares', () => {
  const { quota, slab, file } = fileKept(0, 5);
  releaseView(file);
  assert.equal(spareSlabs(), 1);
  holdView(file);
  assert.equal(spareSlabs(), 0);
  const other = quota.take();
  assert.notEqual(other.buffer, slab.buffer);
  releaseView(file);
  releaseView(other);
});

test(`a socket with ${SLABS_PER_SOCKET} slabs out waits, and is woken once, when one comes back`, () => {
  const quota = new SlabQuota();
  const taken: Buffer[] = [];
  let woken = 0;
  const wake = () => woken++;
  for (let i = 0; i < SLABS_PER_SOCKET; i++) {
    assert.equal(quota.available(wake), true);
    taken.push(quota.take());
  }
  assert.equal(quota.available(wake), false);
  assert.equal(woken, 0);
  // A view of another slab keeps it out: releasing the socket's own hold on it wakes no one.
  const view = taken[0]!.subarray(0, 1);
  holdView(view);
  releaseView(taken[0]!);
  assert.equal(woken, 0);
  releaseView(view);
  assert.equal(woken, 1);
  assert.equal(quota.available(wake), true);
  releaseView(taken[1]!);
  assert.equal(woken, 1, 'woken once per wait');
  // Closed: what comes back later wakes no one.
  quota.take();
  quota.take();
  assert.equal(quota.available(wake), false);
  quota.close();
  for (const slab of taken.slice(2)) releaseView(slab);
  assert.equal(woken, 1);
});

test("a fresh slab is the addon's huge-page buffer; without one, ordinary memory", (t) => {
  const addon = nativeAddon();
  if (!addon) {
    t.skip('no native addon (BLIT_NO_NATIVE=1 or not built): slabs are ordinary buffers');
    return;
  }
  const original = addon.hugeBuffer;
  const asked: number[] = [];
  let give = true;
  let given: Buffer | undefined;
  addon.hugeBuffer = (bytes) => {
    asked.push(bytes);
    given = give ? original(bytes) : undefined;
    return given;
  };
  try {
    emptySpareSlabs();
    const quota = new SlabQuota(Number.MAX_SAFE_INTEGER);
    const slab = quota.take();
    assert.deepEqual(asked, [SLAB_BYTES]);
    assert.equal(slab, given, 'the slab is the buffer the addon mapped');
    assert.equal(slab.length, SLAB_BYTES);
    // The addon could not map one: the slab is allocated as before.
    give = false;
    const plain = quota.take();
    assert.deepEqual(asked, [SLAB_BYTES, SLAB_BYTES]);
    assert.equal(plain.length, SLAB_BYTES);
    assert.notEqual(plain.buffer, slab.buffer);
    releaseView(slab);
    releaseView(plain);
  } finally {
    addon.hugeBuffer = original;
  }
});

test('hugeBuffer: whole 2 MiB pages, zeroed, writable, each its own memory; other sizes refused', (t) => {
  const addon = nativeAddon();
  if (!addon) {
    t.skip('no native addon (BLIT_NO_NATIVE=1 or not built)');
    return;
  }
  const a = addon.hugeBuffer(4 << 20)!;
  const b = addon.hugeBuffer(2 << 20)!;
  assert.equal(a.length, 4 << 20);
  assert.equal(b.length, 2 << 20);
  assert.ok(a.every((byte) => byte === 0) && b.every((byte) => byte === 0));
  a.fill(0xab);
  b[0] = 1;
  assert.equal(a[a.length - 1], 0xab);
  assert.equal(b[0], 1);
  assert.equal(b[1], 0, 'filling one touched nothing of the other');
  for (const bad of [0, -2 << 20, 1 << 20, (2 << 20) + 1, 2.5 * (2 << 20), 512 << 20, Number.NaN]) {
    assert.throws(() => addon.hugeBuffer(bad), RangeError, `${bad}`);
  }
  assert.throws(() => (addon.hugeBuffer as (bytes: unknown) => unknown)('4194304'), TypeError);
});
