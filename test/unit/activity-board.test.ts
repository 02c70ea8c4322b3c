import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ActivityBoard, SLOT_BYTES } from '../../src/util/activity-board.js';

test('a slot reads back what was set: ASCII, other characters, and a shorter text after a longer one', () => {
  const board = new ActivityBoard();
  for (const text of ['send: d1/f 2.dat', 'copy: ü/日本/😀 x', '', 'scan: a\nb', 'x']) {
    board.set(1, text);
    assert.equal(board.get(1), text);
  }
  board.set(0, 'zero');
  assert.equal(board.get(1), 'x');
  assert.equal(board.get(0), 'zero');
});

test('a text longer than a slot keeps what fits, whole characters only', () => {
  const board = new ActivityBoard();
  const room = SLOT_BYTES - 2;
  board.set(2, 'a'.repeat(room + 50));
  assert.equal(board.get(2), 'a'.repeat(room));
  // Three bytes each: the last that fits whole ends a character, never half of one.
  board.set(2, '日'.repeat(room));
  const read = board.get(2);
  assert.equal(read, '日'.repeat(Math.floor(room / 3)));
  // ASCII first, then a character that turns the copy over to the encoder.
  board.set(3, `${'a'.repeat(room - 1)}ü`);
  assert.equal(board.get(3), 'a'.repeat(room - 1));
});
