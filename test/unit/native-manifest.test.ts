/**
 * A push's listings encoded by the addon (protocol/native-manifest.ts, native/manifest.cc): the
 * frames must carry what toManifestBatches would have sent for the same directory, and a directory
 * with an entry only the JavaScript side can say must come back as an ordinary listing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FilterVerdict } from '../../src/engine/filter.js';
import type { SourceEntry, SourceListing } from '../../src/engine/roles.js';
import { entryFromStats, listDirectory } from '../../src/fsops/listing.js';
import { nativeStatus } from '../../src/fsops/native.js';
import { type ManifestBatch, Role, TransferFrame } from '../../src/generated/blit.js';
import {
  BATCH_ENTRIES,
  toEncodedManifestFrames,
  toManifestBatches,
} from '../../src/protocol/manifest-wire.js';
import { type ManifestListing, manifestLister } from '../../src/protocol/native-manifest.js';
import { T, tempDir } from '../helpers.js';

const INCLUDE: FilterVerdict = { status: 'include', met: 3 };

function lister(): (path: string, verdict: FilterVerdict) => ManifestListing {
  assert.match(nativeStatus(), /^native addon/);
  const list = manifestLister('mirror');
  assert.ok(list, 'the addon lists manifests');
  // A move's source needs every name it sent (to remove what landed): it lists the usual way.
  assert.equal(manifestLister('move'), undefined);
  return list;
}

/** `dir` as a listing with its own entry, the walk's way (every entry with the directory's verdict). */
function jsListing(dir: string, verdict: FilterVerdict, rel = 'sub/dir'): SourceListing {
  const entries = listDirectory(dir).entries.map((entry) => Object.assign(entry, { verdict }) as SourceEntry);
  return {
    rel,
    dir: { ...entryFromStats('dir', lstatSync(dir, { bigint: true })), verdict },
    entries,
    partial: false,
  };
}

/** Batches as the peer decodes them (both sides go through the same encoder and decoder). */
function decoded(frames: Uint8Array[]): ManifestBatch[] {
  return frames.map((frame) => {
    const { role, body } = TransferFrame.decode(frame);
    assert.equal(role, Role.ROLE_SOURCE);
    assert.equal(body?.$case, 'manifest');
    return body.value;
  });
}

function jsFrames(listing: SourceListing): Uint8Array[] {
  return toManifestBatches(listing).map((batch) =>
    TransferFrame.encode({ role: Role.ROLE_SOURCE, body: { $case: 'manifest', value: batch } }).finish(),
  );
}

function nativeFrames(listing: SourceListing, listed: ManifestListing): Uint8Array[] {
  assert.ok(listed.encoded, 'encoded, not an ordinary listing');
  return toEncodedManifestFrames(
    { ...listing, entries: listed.contents.entries as SourceEntry[] },
    listed.encoded,
    Role.ROLE_SOURCE,
  );
}

test('the encoded entries decode to what toManifestBatches sends: kinds, sizes, times, modes, owners, links, xattrs, holes, specials', async (t) => {
  const list = lister();
  const dir = tempDir(t);
  writeFileSync(join(dir, 'empty'), '');
  writeFileSync(join(dir, 'one byte'), 'x');
  writeFileSync(join(dir, 'line\nbreak'), 'newline in the name');
  writeFileSync(join(dir, 'café 日本 🎉'), Buffer.alloc(5000, 7));
  chmodSync(join(dir, 'café 日本 🎉'), 0o4640);
  utimesSync(join(dir, 'one byte'), T + 0.123456, T - 86_400 * 365 * 60);
  // Before the epoch: a negative mtime goes as a ten-byte varint.
  utimesSync(join(dir, 'empty'), T, -1_000_000.5);
  writeFileSync(join(dir, 'noted'), 'with an xattr');
  execFileSync('setfattr', ['-n', 'user.note', '-v', 'hello', join(dir, 'noted')]);
  execFileSync('setfattr', ['-n', 'user.empty', join(dir, 'noted')]);
  // All hole: nothing on disk, sent as 1 byte allocated.
  writeFileSync(join(dir, 'sparse'), '');
  truncateSync(join(dir, 'sparse'), 1 << 20);
  mkdirSync(join(dir, 'subdir'), 0o750);
  mkdirSync(join(dir, 'other subdir'));
  symlinkSync('target with spaces', join(dir, 'link'));
  symlinkSync('../日本/é', join(dir, 'unicode link'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  const socket = createServer().listen(join(dir, 'socket'));
  await once(socket, 'listening');
  t.after(() => socket.close());
  if (process.getuid?.() === 0) {
    // Device files carry their numbers (rdev); as root only.
    execFileSync('mknod', [join(dir, 'char'), 'c', '1', '3']);
    execFileSync('mknod', [join(dir, 'block'), 'b', '7', '200']);
    // An owner with no name here: user and group go empty, the ids as they are.
    writeFileSync(join(dir, 'nobody knows'), '');
    lchownSync(join(dir, 'nobody knows'), 54_321, 54_322);
  }
  const listing = jsListing(dir, INCLUDE);
  const listed = list(dir, INCLUDE);
  const native = decoded(nativeFrames(listing, listed));
  assert.deepEqual(native, decoded(jsFrames(listing)));
  assert.equal(native.length, 1);
  assert.equal(native[0]!.entries.length, listing.entries.length);
  assert.ok(
    native[0]!.entries.some((e) => e.entry!.xattrs.some((x) => x.name === 'user.note')),
    'the xattr travels',
  );
  const specials = native[0]!.entries.filter((e) => e.entry!.special !== 0).map((e) => e.entry!.name);
  if (process.getuid?.() === 0) {
    assert.deepEqual(specials.sort(), ['block', 'char', 'fifo', 'socket']);
    assert.equal(
      native[0]!.entries.find((e) => e.entry!.name === 'block')?.entry?.rdev,
      BigInt((7 << 8) | 200),
    );
    // The owners' names travel (root's files), and none for an id without one.
    assert.equal(native[0]!.entries.find((e) => e.entry!.name === 'empty')?.entry?.user, 'root');
    assert.equal(native[0]!.entries.find((e) => e.entry!.name === 'nobody knows')?.entry?.user, '');
  } else assert.deepEqual(specials.sort(), ['fifo', 'socket']);
  // Only the subdirectories come back as objects (the walk goes on through them).
  assert.deepEqual(listed.contents.entries.map((e) => e.name).sort(), ['other subdir', 'subdir']);
  assert.equal(listed.encoded?.count, listing.entries.length);
  const sizes = listing.entries.filter((e) => e.kind === 'file').map((e) => e.size);
  assert.deepEqual([...listed.encoded!.fileSizes].sort(), sizes.sort());

  // Another verdict goes on every entry.
  const traverse: FilterVerdict = { status: 'traverse', met: 1 };
  const again = jsListing(dir, traverse);
  assert.deepEqual(decoded(nativeFrames(again, list(dir, traverse))), decoded(jsFrames(again)));
});

test('a directory of more than a batch goes as several frames, the first with its own entry, the last marked', (t) => {
  const list = lister();
  const dir = tempDir(t);
  const files = BATCH_ENTRIES * 2 + 52;
  for (let i = 0; i < files; i++) writeFileSync(join(dir, `f${i}`), `${i}`);
  const listing = jsListing(dir, INCLUDE);
  const native = decoded(nativeFrames(listing, list(dir, INCLUDE)));
  assert.deepEqual(native, decoded(jsFrames(listing)));
  assert.deepEqual(
    native.map((b) => [b.entries.length, b.last, b.directoryEntry !== undefined]),
    [
      [BATCH_ENTRIES, false, true],
      [BATCH_ENTRIES, false, false],
      [52, true, false],
    ],
  );
});

test('an empty directory goes as one frame with no entries, marked last', (t) => {
  const list = lister();
  const dir = tempDir(t);
  const listing = jsListing(dir, INCLUDE);
  const native = decoded(nativeFrames(listing, list(dir, INCLUDE)));
  assert.deepEqual(native, decoded(jsFrames(listing)));
  assert.equal(native.length, 1);
  assert.equal(native[0]!.last, true);
});

test('an entry only the JavaScript side can say makes the directory an ordinary listing', (t) => {
  const list = lister();
  const root = tempDir(t);
  const cases: [string, (dir: string) => void][] = [
    ['a name that is not UTF-8', (dir) => writeFileSync(Buffer.from(`${dir}/caf\xe9`, 'latin1'), '')],
    [
      'a link target that is not UTF-8',
      (dir) => symlinkSync(Buffer.from('caf\xe9', 'latin1'), join(dir, 'link')),
    ],
    [
      'a file with another name (its hard-link group)',
      (dir) => {
        writeFileSync(join(dir, 'a'), '');
        linkSync(join(dir, 'a'), join(dir, 'b'));
      },
    ],
    [
      'an ACL (the names of the ids it holds)',
      (dir) => {
        writeFileSync(join(dir, 'acl'), '');
        execFileSync('setfacl', ['-m', 'u:1234:r', join(dir, 'acl')]);
      },
    ],
  ];
  for (const [what, make] of cases) {
    const dir = join(root, what.replace(/\W+/g, '-'));
    mkdirSync(dir);
    writeFileSync(join(dir, 'plain'), 'an ordinary file beside it');
    make(dir);
    const listed = list(dir, INCLUDE);
    assert.equal(listed.encoded, undefined, what);
    assert.deepEqual(listed.contents, listDirectory(dir), what);
  }
});
