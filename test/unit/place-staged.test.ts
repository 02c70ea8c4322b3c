/**
 * The addon's placeStaged (native/stage.cc): a staging directory takes its directory's name only
 * while it is still the directory it was (device, inode) and only over nothing or the empty
 * directory there, which then carries the staging directory's name; anything else moves nothing.
 */
import assert from 'node:assert/strict';
import {
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAddon } from '../../src/fsops/native.js';
import { tempDir } from '../helpers.js';

const NEEDS = { skip: nativeAddon() ? false : 'needs the addon' };

/** A parent with a filled staging directory `.stage` beside `d`, and that directory's identity. */
function setUp(t: { after(fn: () => void): void }) {
  const parent = tempDir(t, 'blit-place-');
  mkdirSync(join(parent, '.stage'));
  writeFileSync(join(parent, '.stage', 'f'), 'landed');
  const { dev, ino } = statSync(join(parent, '.stage'), { bigint: true });
  return { parent, dev, ino };
}

test('with nothing in its place, the staging directory takes the name', NEEDS, (t) => {
  const { parent, dev, ino } = setUp(t);
  assert.equal(nativeAddon()!.placeStaged(parent, '.stage', 'd', dev, ino), 1);
  assert.deepEqual(readdirSync(parent), ['d']);
  assert.equal(statSync(join(parent, 'd')).ino, Number(ino));
  assert.equal(readFileSync(join(parent, 'd', 'f'), 'utf8'), 'landed');
});

test(
  'over an empty directory, the two trade names: the empty one is left under the staging name',
  NEEDS,
  (t) => {
    const { parent, dev, ino } = setUp(t);
    mkdirSync(join(parent, 'd'));
    const empty = statSync(join(parent, 'd')).ino;
    // Through a held directory's /proc/self/fd name, as blitd names its parents.
    assert.equal(nativeAddon()!.placeStaged(join(parent, '.'), '.stage', 'd', dev, ino), 2);
    assert.equal(statSync(join(parent, 'd')).ino, Number(ino));
    assert.equal(readFileSync(join(parent, 'd', 'f'), 'utf8'), 'landed');
    assert.equal(statSync(join(parent, '.stage')).ino, empty);
    assert.deepEqual(readdirSync(join(parent, '.stage')), []);
  },
);

test(
  'a directory in its place that holds anything, or that is not a directory, stays; nothing moves',
  NEEDS,
  (t) => {
    const { parent, dev, ino } = setUp(t);
    mkdirSync(join(parent, 'd'));
    writeFileSync(join(parent, 'd', 'theirs'), '');
    mkdirSync(join(parent, 'other'));
    symlinkSync('other', join(parent, 'link'));
    writeFileSync(join(parent, 'file'), '');
    const addon = nativeAddon()!;
    for (const place of ['d', 'link', 'file'])
      assert.equal(addon.placeStaged(parent, '.stage', place, dev, ino), 0, place);
    assert.deepEqual(readdirSync(join(parent, 'd')), ['theirs']);
    assert.deepEqual(readdirSync(join(parent, 'other')), [], 'nothing went through the link');
    assert.equal(statSync(join(parent, '.stage')).ino, Number(ino));
    assert.deepEqual(readdirSync(join(parent, '.stage')), ['f']);
  },
);

test('a staging name that no longer names the staging directory moves nothing', NEEDS, (t) => {
  const { parent, dev, ino } = setUp(t);
  const addon = nativeAddon()!;
  // Another inode, a link in its place, a name that is not one.
  assert.equal(addon.placeStaged(parent, '.stage', 'd', dev, ino + 1n), 0);
  mkdirSync(join(parent, 'moved'));
  symlinkSync('.stage', join(parent, '.link'));
  assert.equal(addon.placeStaged(parent, '.link', 'd', dev, ino), 0);
  assert.equal(addon.placeStaged(parent, '../.stage', 'd', dev, ino), 0);
  assert.equal(addon.placeStaged(parent, '.stage', 'x/d', dev, ino), 0);
  assert.equal(addon.placeStaged(join(parent, 'missing'), '.stage', 'd', dev, ino), 0);
  assert.deepEqual(readdirSync(parent).sort(), ['.link', '.stage', 'moved']);
});
