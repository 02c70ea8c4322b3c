/**
 * A destination directory compared with a peer's listing of it, record by record (sameAsManifest,
 * native/manifest.cc; sameAsListed, protocol/native-manifest.ts): equal only when the directory
 * holds exactly the entries listed, each as listManifest would encode it here, in any order.
 * Anything else (an entry changed, added or missing, a record twice, malformed bytes, another
 * verdict, a link in the directory's place, refused mode bits) is "not known equal": undefined.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FilterVerdict } from '../../src/engine/filter.js';
import { nativeAddon, type SameAsManifest } from '../../src/fsops/native.js';
import { toWireVerdict } from '../../src/protocol/manifest-wire.js';
import { manifestLister, sameAsListed, sameAsListedLater } from '../../src/protocol/native-manifest.js';
import { T, tempDir } from '../helpers.js';

const INCLUDE: FilterVerdict = { status: 'include', met: 0 };
// Numeric ids: an /etc/passwd with a name shared by two ids would otherwise make nothing equal.
const OPTIONS = { refusedFileModes: 0, numericIds: true };

/** A directory of every kind listManifest encodes itself, with names that need care. */
function makeDir(t: { after(fn: () => void): void }): string {
  const dir = join(tempDir(t, 'blit-same-'), 'dir');
  mkdirSync(dir);
  for (let i = 0; i < 30; i++) writeFileSync(join(dir, `f${i}`), 'x'.repeat(i * 37));
  writeFileSync(join(dir, 'empty'), '');
  writeFileSync(join(dir, 'line\nbreak é 日本'), 'odd name');
  utimesSync(join(dir, 'f3'), T, T + 0.123456);
  mkdirSync(join(dir, 'sub one'));
  mkdirSync(join(dir, 'sub2'), 0o750);
  symlinkSync('../somewhere else', join(dir, 'link'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  return dir;
}

/** The records a pushing client sends for `dir` (several batches' worth, joined as received). */
function peerRecords(dir: string, verdict = INCLUDE): Buffer {
  const list = manifestLister('mirror');
  assert.ok(list, 'the addon lists manifests');
  const listed = list(dir, verdict);
  assert.ok(listed.encoded, 'encoded, not an ordinary listing');
  return Buffer.concat(listed.encoded.chunks);
}

/** The field-3 records of `raw`, each whole (tag, length, message). */
function split(raw: Buffer): Buffer[] {
  const records: Buffer[] = [];
  let at = 0;
  while (at < raw.length) {
    const start = at;
    at++; // the tag, one byte for field 3
    let length = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = raw[at++]!;
      length += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) break;
    }
    at += length;
    records.push(raw.subarray(start, at));
  }
  return records;
}

/** sameAsListed's answer, which the landing threads' sameAsListedLater must give too. */
async function same(
  dir: string,
  raw: Uint8Array,
  options = OPTIONS,
  verdict = INCLUDE,
): Promise<SameAsManifest | undefined> {
  const now = sameAsListed(dir, verdict, raw, options);
  const later = await sameAsListedLater(dir, verdict, raw, options);
  if (later) {
    // With the directory it listed, for the session to check its path still names that one.
    const { dev, ino, ...answer } = later;
    const stats = lstatSync(dir, { bigint: true });
    assert.deepEqual([dev, ino], [stats.dev, stats.ino], 'the directory listed');
    assert.deepEqual(answer, now, 'the same answer on the landing threads');
  } else assert.equal(later, now, 'the same answer on the landing threads');
  return now;
}

test('a directory equal to the listing answers with its own counts, in any order of the records', {
  skip: nativeAddon() ? false : 'needs the addon',
}, async (t) => {
  const dir = makeDir(t);
  const raw = peerRecords(dir);
  const records = split(raw);
  assert.equal(records.length, 36);
  const found = await same(dir, raw);
  assert.ok(found, 'found equal');
  assert.equal(found.entries, 36);
  assert.deepEqual([...found.dirs].sort(), ['sub one', 'sub2']);
  const sizes = [...found.fileSizes].sort((a, b) => a - b);
  const expected = [...Array.from({ length: 30 }, (_, i) => i * 37), 0, 8].sort((a, b) => a - b);
  assert.deepEqual(sizes, expected);
  // Reversed, and every other one moved to the end.
  assert.ok(await same(dir, Buffer.concat([...records].reverse())), 'reversed');
  const shuffled = [...records.filter((_, i) => i % 2 === 0), ...records.filter((_, i) => i % 2 === 1)];
  assert.ok(await same(dir, Buffer.concat(shuffled)), 'shuffled');
  // An empty directory and an empty listing.
  const empty = join(dir, 'sub2');
  assert.deepEqual(await same(empty, Buffer.alloc(0)), {
    entries: 0,
    fileSizes: new Float64Array(0),
    dirs: [],
  });
});

test('a listing that differs from the directory in any entry is not equal', {
  skip: nativeAddon() ? false : 'needs the addon',
}, async (t) => {
  const dir = makeDir(t);
  const raw = peerRecords(dir);
  const records = split(raw);
  assert.ok(await same(dir, raw));
  // The listing itself: one record missing, one twice, one in place of another, one byte changed.
  assert.equal(await same(dir, Buffer.concat(records.slice(1))), undefined, 'one missing');
  assert.equal(await same(dir, Buffer.concat([...records, records[3]!])), undefined, 'one twice');
  assert.equal(
    await same(dir, Buffer.concat([records[3]!, ...records.slice(1)])),
    undefined,
    'one for another',
  );
  for (const at of [0, 1, 5, raw.length - 1]) {
    const changed = Buffer.from(raw);
    changed[at]! ^= 0x01;
    assert.equal(await same(dir, changed), undefined, `byte ${at} changed`);
  }
  // Malformed: cut inside a record, another field's tag, a length past the end.
  assert.equal(await same(dir, raw.subarray(0, raw.length - 3)), undefined, 'cut');
  assert.equal(await same(dir, Buffer.concat([raw, Buffer.from([0x22, 0x00])])), undefined, 'field 4');
  assert.equal(
    await same(dir, Buffer.concat([raw, Buffer.from([0x1a, 0xff, 0xff, 0xff, 0x0f])])),
    undefined,
    'length',
  );
  // Another verdict than the records carry.
  assert.equal(await same(dir, raw, OPTIONS, { status: 'include', met: 1 }), undefined, 'another verdict');
  assert.notDeepEqual(toWireVerdict({ status: 'include', met: 1 }), toWireVerdict(INCLUDE));

  // The directory: a file's mtime, a mode, a file added, one removed.
  utimesSync(join(dir, 'f4'), T, T + 1);
  assert.equal(await same(dir, raw), undefined, 'mtime');
  assert.ok(await same(dir, peerRecords(dir)), 'equal again to a listing made now');
  const now = peerRecords(dir);
  chmodSync(join(dir, 'f5'), 0o600);
  assert.equal(await same(dir, now), undefined, 'mode');
  const modes = peerRecords(dir);
  writeFileSync(join(dir, 'new'), '');
  assert.equal(await same(dir, modes), undefined, 'a file added');
  const added = peerRecords(dir);
  rmSync(join(dir, 'f6'));
  assert.equal(await same(dir, added), undefined, 'a file removed');
});

test('set-ID bits refused, a link in the directory place, a hard-linked file, a missing directory: not equal', {
  skip: nativeAddon() ? false : 'needs the addon',
}, async (t) => {
  const dir = makeDir(t);
  chmodSync(join(dir, 'f1'), 0o4755);
  const raw = peerRecords(dir);
  assert.ok(await same(dir, raw), 'equal when no bit is refused');
  assert.equal(
    await same(dir, raw, { ...OPTIONS, refusedFileModes: 0o6000 }),
    undefined,
    'set-user-ID refused',
  );
  chmodSync(join(dir, 'f1'), 0o2755);
  const setgid = peerRecords(dir);
  assert.equal(
    await same(dir, setgid, { ...OPTIONS, refusedFileModes: 0o6000 }),
    undefined,
    'set-group-ID refused',
  );
  chmodSync(join(dir, 'f1'), 0o755);
  const plain = peerRecords(dir);
  assert.ok(await same(dir, plain, { ...OPTIONS, refusedFileModes: 0o6000 }), 'equal without them');

  const link = join(dir, '..', 'link to dir');
  symlinkSync(dir, link);
  assert.equal(await same(link, plain), undefined, 'not through a link in its place');
  assert.equal(await same(join(dir, '..', 'missing'), plain), undefined, 'missing');
  assert.equal(await same(join(dir, 'f2'), plain), undefined, 'a file');

  // A file with another name needs the JavaScript side (its link group): never equal here.
  linkSync(join(dir, 'f2'), join(dir, 'sub2', 'other name'));
  const listed = manifestLister('mirror')!(dir, INCLUDE);
  assert.equal(listed.encoded, undefined, 'listManifest leaves it to JavaScript');
  assert.equal(await same(dir, plain), undefined, 'hard-linked');
});

test("a temp name of blit's in the directory is left to the walk, even when the peer lists it", {
  skip: nativeAddon() ? false : 'needs the addon',
}, async (t) => {
  const dir = makeDir(t);
  writeFileSync(join(dir, '.blit-1234-0123456789ab.tmp'), 'stale');
  const raw = peerRecords(dir);
  assert.equal(split(raw).length, 37, 'the peer lists it too');
  assert.equal(await same(dir, raw), undefined);
  rmSync(join(dir, '.blit-1234-0123456789ab.tmp'));
  assert.ok(await same(dir, peerRecords(dir)), 'equal without it');
});
