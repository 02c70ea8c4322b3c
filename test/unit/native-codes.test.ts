/**
 * The numbers the addon and TypeScript exchange come from the addon (its frozen `codes`), never from
 * copies on the TypeScript side; the one layout TypeScript owns, the activity board's, which the
 * pure-JS path uses too, must equal the addon's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CompareMode, EntryKind } from '../../src/engine/types.js';
import { nativeAddon, nativeKinds } from '../../src/fsops/native.js';
import {
  ActivityBoard,
  BEATS,
  CANCELLED,
  DIR_ENTRIES,
  LISTED,
  LISTED_COUNTERS,
  MAX_SLOTS,
  PAUSED,
  SLOT_BYTES,
  STOPPED,
  WRITTEN,
} from '../../src/util/activity-board.js';

const addon = nativeAddon();

function codes() {
  assert.ok(addon, 'npm install builds the native addon');
  return addon.codes;
}

test('the codes are frozen, and each group numbers its names apart', () => {
  const all = codes();
  assert.ok(Object.isFrozen(all));
  for (const [group, numbers] of Object.entries(all)) {
    assert.ok(Object.isFrozen(numbers), group);
    for (const value of Object.values(numbers)) assert.ok(Number.isInteger(value), `${group}: ${value}`);
    if (group === 'board') continue;
    const values = Object.values(numbers);
    assert.equal(new Set(values).size, values.length, `${group}: ${values}`);
  }
  for (const flag of Object.values(all.batchFlag))
    assert.equal(flag & (flag - 1), 0, `flag ${flag}: one bit`);
});

test('every compare mode and entry kind of the engine has a code', () => {
  const modes: CompareMode[] = ['default', 'checksum', 'size-only', 'ignore-times', 'ignore-existing'];
  assert.deepEqual(Object.keys(codes().compare).sort(), [...modes].sort());
  const kinds: EntryKind[] = ['file', 'dir', 'symlink', 'other'];
  const byCode = nativeKinds(addon!);
  for (const kind of kinds) assert.equal(byCode[codes().kind[kind]], kind);
  assert.equal(byCode[codes().kind.error], undefined);
  assert.equal(byCode[codes().kind.gone], undefined);
});

test("the addon's activity-board layout is util/activity-board.ts's", () => {
  assert.deepEqual(
    { ...codes().board },
    {
      beats: BEATS,
      stopped: STOPPED,
      paused: PAUSED,
      cancelled: CANCELLED,
      written: WRITTEN,
      dirEntries: DIR_ENTRIES,
      listed: LISTED,
      listedCounters: LISTED_COUNTERS,
      slotBytes: SLOT_BYTES,
      slots: MAX_SLOTS,
    },
  );
  const board = new ActivityBoard();
  assert.equal(board.ints.length, CANCELLED + 1);
  assert.equal(board.written.length, LISTED + LISTED_COUNTERS);
  assert.equal(board.slots.length, MAX_SLOTS * SLOT_BYTES);
});
