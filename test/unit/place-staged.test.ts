/**
 * The addon's placeStaged (native/stage.cc): a staging directory takes its directory's name only
 * while it is still the directory it was (device, inode) and only over nothing or the empty
 * directory there, which then carries the staging directory's name (or, on a file system without
 * renameat2's flags, the name given for it aside); anything else moves nothing.
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

/** The parent as blitd names a directory it holds: /proc/self/fd/N/. */
function held(t: { after(fn: () => void): void }, parent: string): string {
  const fd = openSync(parent, constants.O_RDONLY | constants.O_DIRECTORY);
  t.after(() => closeSync(fd));
  return `/proc/self/fd/${fd}/.`;
}

for (const renamesOnly of [false, true]) {
  const how = renamesOnly ? ' (without renameat2 flags)' : '';

  test(`with nothing in its place, the staging directory takes the name${how}`, NEEDS, (t) => {
    const { parent, dev, ino } = setUp(t);
    assert.equal(
      nativeAddon()!.placeStaged(held(t, parent), '.stage', 'd', '.aside', dev, ino, renamesOnly),
      1,
    );
    assert.deepEqual(readdirSync(parent), ['d']);
    assert.equal(statSync(join(parent, 'd')).ino, Number(ino));
    assert.equal(readFileSync(join(parent, 'd', 'f'), 'utf8'), 'landed');
  });

  test(
    `over an empty directory it takes the name, the empty one is kept under a temp name${how}`,
    NEEDS,
    (t) => {
      const { parent, dev, ino } = setUp(t);
      mkdirSync(join(parent, 'd'));
      const empty = statSync(join(parent, 'd')).ino;
      const placed = nativeAddon()!.placeStaged(
        held(t, parent),
        '.stage',
        'd',
        '.aside',
        dev,
        ino,
        renamesOnly,
      );
      // Traded names (2), or renamed aside first (3).
      assert.equal(placed, renamesOnly ? 3 : 2);
      assert.equal(statSync(join(parent, 'd')).ino, Number(ino));
      assert.equal(readFileSync(join(parent, 'd', 'f'), 'utf8'), 'landed');
      const aside = renamesOnly ? '.aside' : '.stage';
      assert.deepEqual(readdirSync(parent).sort(), [aside, 'd'].sort());
      assert.equal(statSync(join(parent, aside)).ino, empty);
      assert.deepEqual(readdirSync(join(parent, aside)), []);
    },
  );

  test(
    `a directory in its place that holds anything, or that is not a directory, stays${how}`,
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
        assert.equal(addon.placeStaged(parent, '.stage', place, '.aside', dev, ino, renamesOnly), 0, place);
      assert.deepEqual(readdirSync(join(parent, 'd')), ['theirs']);
      assert.deepEqual(readdirSync(join(parent, 'other')), [], 'nothing went through the link');
      assert.equal(statSync(join(parent, '.stage')).ino, Number(ino));
      assert.deepEqual(readdirSync(join(parent, '.stage')), ['f']);
      assert.deepEqual(readdirSync(parent).sort(), ['.stage', 'd', 'file', 'link', 'other']);
    },
  );

  test(`a staging name that no longer names the staging directory moves nothing${how}`, NEEDS, (t) => {
    const { parent, dev, ino } = setUp(t);
    const addon = nativeAddon()!;
    const place = (stage: string, name: string, aside = '.aside', d = dev, i = ino) =>
      addon.placeStaged(parent, stage, name, aside, d, i, renamesOnly);
    // Another inode or device, a link in its place, names that are not single components or
    // that coincide, a parent that is not there.
    assert.equal(place('.stage', 'd', '.aside', dev, ino + 1n), 0);
    assert.equal(place('.stage', 'd', '.aside', dev + 1n, ino), 0);
    symlinkSync('.stage', join(parent, '.link'));
    assert.equal(place('.link', 'd'), 0);
    assert.equal(place('../.stage', 'd'), 0);
    assert.equal(place('.stage', 'x/d'), 0);
    assert.equal(place('.stage', 'd', 'x/.aside'), 0);
    assert.equal(place('.stage', '.stage'), 0);
    assert.equal(place('.stage', 'd', '.stage'), 0);
    assert.equal(
      addon.placeStaged(join(parent, 'missing'), '.stage', 'd', '.aside', dev, ino, renamesOnly),
      0,
    );
    assert.deepEqual(readdirSync(parent).sort(), ['.link', '.stage']);
  });
}
