/**
 * transport/tcp/huge-buffers.ts: buffers made as views of one huge-page mapping (as many as fit),
 * the mapping itself when one fills it, and one plain buffer where the addon cannot map.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nativeAddon } from '../../src/fsops/native.js';
import { HUGE_PAGE_BYTES, hugeBuffers } from '../../src/transport/tcp/huge-buffers.js';

test('buffers smaller than a huge page share one mapping; one of its size is the mapping', (t) => {
  const addon = nativeAddon();
  if (!addon) {
    t.skip('no native addon (BLIT_NO_NATIVE=1 or not built): plain buffers only');
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
    const halves = hugeBuffers(HUGE_PAGE_BYTES / 2);
    assert.deepEqual(asked, [HUGE_PAGE_BYTES]);
    assert.deepEqual(
      halves.map((b) => [b.byteOffset, b.length]),
      [
        [0, HUGE_PAGE_BYTES / 2],
        [HUGE_PAGE_BYTES / 2, HUGE_PAGE_BYTES / 2],
      ],
    );
    assert.ok(halves.every((b) => b.buffer === given!.buffer));
    // Written apart: the two never overlap.
    halves[0]!.fill(1);
    halves[1]!.fill(2);
    assert.equal(halves[0]![halves[0]!.length - 1], 1);
    // Rounded up to whole huge pages; one that fills its mapping is the mapping.
    const [whole] = hugeBuffers(2 * HUGE_PAGE_BYTES);
    assert.equal(whole, given);
    assert.equal(hugeBuffers(HUGE_PAGE_BYTES + 1).length, 1);
    assert.equal(asked.at(-1), 2 * HUGE_PAGE_BYTES);
    // Not mapped: one plain buffer of the size asked.
    give = false;
    const plain = hugeBuffers(HUGE_PAGE_BYTES / 2);
    assert.equal(plain.length, 1);
    assert.equal(plain[0]!.length, HUGE_PAGE_BYTES / 2);
  } finally {
    addon.hugeBuffer = original;
  }
});
