/**
 * A peer's listing of a directory this session made, read by the addon into a table of its small
 * plain files (native/fresh.cc freshFiles, through transport/stream/fresh-files.ts takeFreshFiles):
 * exactly those files taken, every other record left as received, nothing taken from a listing the
 * generated decoder would read otherwise; the needs encoded as the generated encoder encodes them
 * (freshNeeds); the files landed from the table with their bytes, mode and times (freshLand).
 */
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { localIdNames } from '../../src/fsops/id-map.js';
import { type FreshTableHandle, nativeAddon } from '../../src/fsops/native.js';
import {
  Entry,
  EntryKind,
  FilterStatus,
  ManifestBatch,
  type ManifestEntry,
  Role,
  TransferFrame,
} from '../../src/generated/blit.js';
import { fromManifestEntry } from '../../src/protocol/manifest-wire.js';
import { decodeEntries } from '../../src/protocol/received-manifest.js';
import {
  type FreshOptions,
  MAX_TABLE_FILES,
  takeFreshFiles,
} from '../../src/transport/stream/fresh-files.js';
import { SMALL_FILE_BYTES } from '../../src/transport/tcp/layout.js';
import { prng, tempDir } from '../helpers.js';

const addon = nativeAddon();
const OPTIONS: FreshOptions = { stripSetId: false, numericIds: true, giveOwners: false, keep: 0 };
const MTIME = 1_500_000_000_123_456_789n;

function wire(fields: Partial<Entry>, status = FilterStatus.FILTER_STATUS_INCLUDE): ManifestEntry {
  return {
    entry: Entry.fromPartial({ kind: EntryKind.ENTRY_KIND_FILE, mtimeNs: MTIME, mode: 0o644, ...fields }),
    filterStatus: status,
    filterMet: 0,
  };
}

/** ManifestBatch field-3 records, as a peer sends them. */
function records(entries: ManifestEntry[]): Buffer {
  return Buffer.from(ManifestBatch.encode(ManifestBatch.fromPartial({ entries })).finish());
}

/** The field-3 records of `raw`, each whole. */
function split(raw: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = raw[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
  };
  while (at < raw.length) {
    const start = at;
    varint();
    const length = varint();
    at += length;
    out.push(Buffer.from(raw.subarray(start, at)));
  }
  return out;
}

function entryOf(table: FreshTableHandle, index: number) {
  const [name, size, sec, nsec, mode, uid, gid, owned, xattrsRead] = addon!.freshEntry(table, index);
  return {
    name,
    size,
    mtimeNs: BigInt(sec) * 1_000_000_000n + BigInt(nsec),
    mode,
    uid,
    gid,
    owned,
    xattrsRead,
  };
}

test('takes the small plain files, in order, and leaves every other record as it came', {
  skip: !addon,
}, () => {
  const entries = [
    wire({ name: 'a', size: 4n }),
    wire({ name: 'dir', kind: EntryKind.ENTRY_KIND_DIRECTORY }),
    wire({ name: 'link', kind: EntryKind.ENTRY_KIND_SYMLINK, linkTarget: 'a' }),
    wire({ name: 'big', size: BigInt(SMALL_FILE_BYTES + 1) }),
    wire({ name: 'linked', size: 3n, linkGroup: 7n }),
    wire({
      name: 'xattr',
      size: 3n,
      xattrsRead: true,
      xattrs: [{ name: 'user.x', value: Buffer.from('1') }],
    }),
    wire({ name: 'holes', size: 8192n, allocated: 4096n }),
    wire({ name: 'acl', size: 3n, aclNames: [{ id: 5, name: 'someone', group: false }] }),
    wire({ name: 'fifo', kind: EntryKind.ENTRY_KIND_OTHER, special: 1 }),
    wire({ name: 'b é 日本\nline', size: BigInt(SMALL_FILE_BYTES), mtimeNs: -1_500_000_000n, mode: 0o4755 }),
    wire({ name: 'walked', size: 1n }, FilterStatus.FILTER_STATUS_TRAVERSE),
    wire({ name: 'empty', size: 0n, mtimeNs: 0n, mode: 0, xattrsRead: true, allocated: 1n }),
  ];
  const taken = takeFreshFiles(records(entries), 'in/here', OPTIONS);
  assert.ok(taken);
  const names = ['a', 'b é 日本\nline', 'walked', 'empty'];
  assert.equal(taken.fresh.count, names.length);
  assert.equal(taken.fresh.bytes, 4 + SMALL_FILE_BYTES + 1 + 0);
  assert.deepEqual([...taken.fresh.sizes], [4, SMALL_FILE_BYTES, 1, 0]);
  assert.deepEqual(
    names.map((_, i) => entryOf(taken.fresh.table, i)),
    [
      { name: 'a', size: 4, mtimeNs: MTIME, mode: 0o644, uid: 0, gid: 0, owned: false, xattrsRead: false },
      {
        name: 'b é 日本\nline',
        size: SMALL_FILE_BYTES,
        mtimeNs: -1_500_000_000n,
        mode: 0o4755,
        uid: 0,
        gid: 0,
        owned: false,
        xattrsRead: false,
      },
      {
        name: 'walked',
        size: 1,
        mtimeNs: MTIME,
        mode: 0o644,
        uid: 0,
        gid: 0,
        owned: false,
        xattrsRead: false,
      },
      { name: 'empty', size: 0, mtimeNs: 0n, mode: 0, uid: 0, gid: 0, owned: false, xattrsRead: true },
    ],
  );
  // The rest: the other records, byte for byte, in the order they came.
  const rest = entries.filter((e) => !names.includes(e.entry!.name));
  assert.deepEqual(Buffer.from(taken.rest), records(rest));
  assert.deepEqual(
    [...decodeEntries(taken.rest)].map((e) => e.entry!.name),
    rest.map((e) => e.entry!.name),
  );
});

test('set-ID bits are dropped when asked; owners are kept only when given, by name unless numeric', {
  skip: !addon,
}, () => {
  const root = [...localIdNames().users.idOf].find(([, id]) => id === 0)?.[0];
  const group = [...localIdNames().groups.idOf].find(([, id]) => id === 0)?.[0];
  const owned = wire({ name: 'f', size: 1n, mode: 0o6755, uid: 4242, gid: 4343, user: root, group });
  const bare = wire({ name: 'g', size: 1n, uid: 7, gid: 8 });
  const take = (options: Partial<FreshOptions>) => {
    const taken = takeFreshFiles(records([owned, bare]), '', { ...OPTIONS, ...options });
    assert.ok(taken);
    return [entryOf(taken.fresh.table, 0), entryOf(taken.fresh.table, 1)];
  };
  assert.equal(take({ stripSetId: true })[0]!.mode, 0o755);
  assert.equal(take({})[0]!.mode, 0o6755);
  assert.deepEqual(
    take({}).map((e) => e.owned),
    [false, false],
  );
  const numeric = take({ giveOwners: true, numericIds: true });
  assert.deepEqual(
    numeric.map((e) => [e.owned, e.uid, e.gid]),
    [
      [true, 4242, 4343],
      [true, 7, 8],
    ],
  );
  if (root !== undefined && group !== undefined) {
    const named = take({ giveOwners: true, numericIds: false });
    assert.deepEqual(
      named.map((e) => [e.owned, e.uid, e.gid]),
      [
        [true, 0, 0],
        [true, 7, 8],
      ],
    );
  }
});

test('nothing is taken from a listing the decoder would read otherwise, or that names an entry twice', {
  skip: !addon,
}, () => {
  const good = records([wire({ name: 'a', size: 1n }), wire({ name: 'b', size: 1n })]);
  assert.ok(takeFreshFiles(good, '', OPTIONS));
  const refused: [string, Buffer][] = [
    ['a file twice', records([wire({ name: 'a', size: 1n }), wire({ name: 'a', size: 2n })])],
    [
      'a file and a directory of one name',
      records([wire({ name: 'a', size: 1n }), wire({ name: 'a', kind: EntryKind.ENTRY_KIND_DIRECTORY })]),
    ],
    ['no small plain file', records([wire({ name: 'd', kind: EntryKind.ENTRY_KIND_DIRECTORY })])],
    ['cut short', good.subarray(0, good.length - 1)],
  ];
  // An entry whose name field comes twice (the generated decoder takes the last).
  const twice = Buffer.from(
    Entry.encode(Entry.fromPartial({ name: 'x', kind: EntryKind.ENTRY_KIND_FILE, size: 1n })).finish(),
  );
  const withName = Buffer.concat([twice, Buffer.from([0x0a, 1, 0x62])]);
  // A name that is not UTF-8 (the decoder would read it as another string).
  const badName = Buffer.from([0x0a, 2, 0x61, 0xff, 0x10, 1, 0x18, 1]);
  // A name given again under a tag past 32 bits, which the generated decoder reads as field 1.
  const longTag = Buffer.concat([twice, Buffer.from([0x8a, 0x80, 0x80, 0x80, 0x10, 1, 0x61])]);
  for (const [what, entry] of [
    ['a name twice', withName],
    ['a name that is not UTF-8', badName],
    ['a name under a tag past 32 bits', longTag],
  ] as const) {
    const manifestEntry = Buffer.concat([Buffer.from([0x0a, entry.length]), entry, Buffer.from([0x10, 1])]);
    refused.push([what, Buffer.concat([good, Buffer.from([0x1a, manifestEntry.length]), manifestEntry])]);
  }
  // The same one level up: a second entry under a long tag in the ManifestEntry.
  const inner = Buffer.from(
    Entry.encode(
      Entry.fromPartial({ name: 'a', kind: EntryKind.ENTRY_KIND_SYMLINK, linkTarget: 't' }),
    ).finish(),
  );
  const outer = Buffer.concat([
    Buffer.from([0x0a, twice.length]),
    twice,
    Buffer.from([0x8a, 0x80, 0x80, 0x80, 0x10, inner.length]),
    inner,
    Buffer.from([0x10, 1]),
  ]);
  refused.push([
    'an entry under a tag past 32 bits',
    Buffer.concat([good, Buffer.from([0x1a, outer.length]), outer]),
  ]);
  for (const [what, raw] of refused) assert.equal(takeFreshFiles(raw, '', OPTIONS), undefined, what);
});

test('a table takes at most MAX_TABLE_FILES files; the rest stay records', { skip: !addon }, () => {
  const entries = Array.from({ length: MAX_TABLE_FILES + 100 }, (_, i) => wire({ name: `f${i}`, size: 1n }));
  const taken = takeFreshFiles(records(entries), '', OPTIONS);
  assert.ok(taken);
  assert.equal(taken.fresh.count, MAX_TABLE_FILES);
  assert.deepEqual(Buffer.from(taken.rest), records(entries.slice(MAX_TABLE_FILES)));
});

test('the needs are the frames the generated encoder makes, 1,024 needs a frame', { skip: !addon }, () => {
  const entries = Array.from({ length: 1500 }, (_, i) =>
    wire({ name: `f${i}`, size: BigInt(i % 7), mtimeNs: BigInt(i - 700) * 1_000_000_007n }),
  );
  for (const rel of ['', 'a/b c']) {
    const taken = takeFreshFiles(records(entries), rel, OPTIONS);
    assert.ok(taken);
    const frames = addon!.freshNeeds(taken.fresh.table, 5000, Role.ROLE_DESTINATION);
    const expected = [entries.slice(0, 1024), entries.slice(1024)].map((part, p) =>
      TransferFrame.encode({
        role: Role.ROLE_DESTINATION,
        body: {
          $case: 'needBatch',
          value: {
            needs: part.map((e, i) => ({
              fileId: BigInt(5000 + p * 1024 + i),
              path: rel === '' ? e.entry!.name : `${rel}/${e.entry!.name}`,
              hashFirst: false,
              blocks: [],
              destinationHash: Buffer.alloc(0),
              size: e.entry!.size,
              mtimeNs: e.entry!.mtimeNs,
            })),
          },
        },
      }).finish(),
    );
    assert.deepEqual(
      frames.map((f) => Buffer.from(f)),
      expected.map((f) => Buffer.from(f)),
    );
  }
});

test('files land from the table with their bytes, mode and times; a missing directory fails each', {
  skip: !addon,
}, async (t) => {
  const dir = join(tempDir(t, 'blit-fresh-'), 'made');
  mkdirSync(dir);
  const taken = takeFreshFiles(
    records([
      wire({ name: 'one', size: 3n, mode: 0o640 }),
      wire({ name: 'two', size: 0n, mode: 0o600, mtimeNs: 1_000_000_001n }),
      wire({ name: 'three', size: 1n, mode: 0o4755 }),
    ]),
    'made',
    { ...OPTIONS, keep: 0 },
  );
  assert.ok(taken);
  const land = (into: string, views: Uint8Array[]) =>
    new Promise<number[]>((resolve) =>
      addon!.freshLand(taken.fresh.table, into, Uint32Array.of(0, 1, 2), views, (errnos) =>
        resolve([...errnos]),
      ),
    );
  assert.deepEqual(await land(dir, [Buffer.from('abc'), Buffer.alloc(0), Buffer.from('3')]), [0, 0, 0]);
  assert.equal(readFileSync(join(dir, 'one'), 'utf8'), 'abc');
  assert.equal(lstatSync(join(dir, 'one')).mode & 0o7777, 0o640);
  assert.equal(lstatSync(join(dir, 'two')).mode & 0o7777, 0o600);
  // A mode the create cannot give (set-ID) is set after it.
  assert.equal(lstatSync(join(dir, 'three')).mode & 0o7777, 0o4755);
  assert.equal(lstatSync(join(dir, 'one'), { bigint: true }).mtimeNs, MTIME);
  assert.equal(lstatSync(join(dir, 'two'), { bigint: true }).mtimeNs, 1_000_000_001n);
  assert.deepEqual(readdirSync(dir).sort(), ['one', 'three', 'two']);
  const errnos = await land(join(dir, 'gone'), [Buffer.from('abc'), Buffer.alloc(0), Buffer.from('3')]);
  assert.deepEqual(
    errnos.map((e) => addon!.errnoName(e)),
    ['ENOENT', 'ENOENT', 'ENOENT'],
  );
  // Views that do not fit the table are refused before anything lands.
  assert.throws(
    () => addon!.freshLand(taken.fresh.table, dir, Uint32Array.of(0), [Buffer.from('ab')], () => {}),
    TypeError,
  );
  assert.throws(
    () => addon!.freshLand(taken.fresh.table, dir, Uint32Array.of(3), [Buffer.alloc(0)], () => {}),
    RangeError,
  );
});

test('staged: each file is created straight under its name, with its mode and times, and never over a name that is there', {
  skip: !addon,
}, async (t) => {
  const dir = join(tempDir(t, 'blit-fresh-'), '.blit-1-000000000001.tmp');
  mkdirSync(dir);
  writeFileSync(join(dir, 'two'), 'already here');
  const taken = takeFreshFiles(
    records([
      wire({ name: 'one', size: 3n, mode: 0o640 }),
      wire({ name: 'two', size: 1n, mode: 0o600 }),
      wire({ name: 'three', size: 1n, mode: 0o4755 }),
    ]),
    'made',
    { ...OPTIONS, keep: 0 },
  );
  assert.ok(taken);
  const errnos = await new Promise<number[]>((resolve) =>
    addon!.freshLand(
      taken.fresh.table,
      dir,
      Uint32Array.of(0, 1, 2),
      [Buffer.from('abc'), Buffer.from('2'), Buffer.from('3')],
      (answers) => resolve([...answers]),
      true,
    ),
  );
  assert.deepEqual(
    errnos.map((e) => (e === 0 ? 0 : addon!.errnoName(e))),
    [0, 'EEXIST', 0],
  );
  assert.equal(readFileSync(join(dir, 'two'), 'utf8'), 'already here', 'never replaced');
  assert.equal(readFileSync(join(dir, 'one'), 'utf8'), 'abc');
  assert.equal(lstatSync(join(dir, 'one')).mode & 0o7777, 0o640);
  assert.equal(lstatSync(join(dir, 'three')).mode & 0o7777, 0o4755);
  assert.equal(lstatSync(join(dir, 'one'), { bigint: true }).mtimeNs, MTIME);
  assert.deepEqual(readdirSync(dir).sort(), ['one', 'three', 'two'], 'no temp name left');
});

test('mutated listings: whatever is taken is what the decoder reads, and the rest is the other records', {
  skip: !addon,
}, () => {
  const random = prng(14);
  const base = records([
    wire({ name: 'a', size: 4n }),
    wire({ name: 'dir', kind: EntryKind.ENTRY_KIND_DIRECTORY }),
    wire({ name: 'b', size: 100n, mode: 0o755, uid: 3, gid: 4, user: 'u', group: 'g' }),
    wire({ name: 'c', size: 1n, xattrsRead: true }),
    wire({ name: 'link', kind: EntryKind.ENTRY_KIND_SYMLINK, linkTarget: 'a' }),
  ]);
  let takenAny = 0;
  for (let round = 0; round < 2000; round++) {
    const raw = Buffer.from(base);
    for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--)
      raw[Math.floor(random() * raw.length)] = Math.floor(random() * 256);
    const cut = random() < 0.2 ? raw.subarray(0, Math.floor(random() * raw.length)) : raw;
    const taken = takeFreshFiles(cut, 'd', OPTIONS);
    if (!taken) continue;
    takenAny++;
    // Every record of the listing is whole and either in the rest (in order) or taken (in order).
    const all = split(cut);
    const rest = split(taken.rest);
    let r = 0;
    let t = 0;
    for (const record of all) {
      if (r < rest.length && rest[r]!.equals(record)) {
        r++;
        continue;
      }
      const [wireEntry] = [...decodeEntries(record)];
      const decoded = fromManifestEntry(wireEntry!, false, { here: localIdNames, numericIds: true });
      const mine = entryOf(taken.fresh.table, t++);
      assert.equal(decoded.kind, 'file');
      assert.deepEqual(
        [mine.name, mine.size, mine.mtimeNs, mine.mode],
        [decoded.name, decoded.size, decoded.mtimeNs, decoded.mode],
      );
      assert.ok(decoded.allocated === undefined || decoded.allocated >= decoded.size);
      assert.equal(decoded.inode, undefined);
      assert.equal(decoded.xattrs === undefined ? false : decoded.xattrs.length === 0, mine.xattrsRead);
    }
    assert.equal(r, rest.length);
    assert.equal(t, taken.fresh.count);
  }
  assert.ok(takenAny > 50, `some mutated listings still have files taken (${takenAny})`);
});
