/**
 * The rules the native addon repeats in C++ (native/), pinned to their TypeScript originals: each
 * table of cases below runs through the TypeScript function and through the addon's copy of it
 * (NativeAddon.testRules), and both must give the expected answer. A change to one side alone — a
 * wider mtime tolerance, another temp-name pattern — fails here, even where no transfer test
 * happens to notice.
 */
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { constants } from 'node:fs';
import { describe, test } from 'node:test';
import { type Decision, decide } from '../../src/engine/compare.js';
import { buildFilter, namePattern } from '../../src/engine/filter.js';
import type { CompareMode, Entry, EntryKind } from '../../src/engine/types.js';
import { needsChmod } from '../../src/fsops/metadata.js';
import { type NativeTestEntry, nativeAddon } from '../../src/fsops/native.js';
import { isTempName } from '../../src/fsops/temp-path.js';
import { ActivityBoard } from '../../src/util/activity-board.js';

const addon = nativeAddon();

function rules() {
  assert.ok(addon, 'npm install builds the native addon');
  return addon.testRules;
}

function codes() {
  assert.ok(addon, 'npm install builds the native addon');
  return addon.codes;
}

function nativeEntry(entry: Entry): NativeTestEntry {
  return {
    kind: codes().kind[entry.kind],
    size: entry.size,
    mtimeNs: entry.mtimeNs,
    mode: entry.mode,
    name: entry.name,
    link: entry.linkTarget,
    ...(entry.uid === undefined ? {} : { uid: entry.uid }),
    ...(entry.gid === undefined ? {} : { gid: entry.gid }),
    fileType: entry.special ? SPECIAL_FILE_TYPE[entry.special] : 0,
    rdev: entry.rdev ?? 0n,
    ...(entry.xattrs ? { xattrs: entry.xattrs.map((x): [string, Uint8Array] => [x.name, x.value]) } : {}),
  };
}

const SPECIAL_FILE_TYPE: Record<NonNullable<Entry['special']>, number> = {
  fifo: constants.S_IFIFO,
  char: constants.S_IFCHR,
  block: constants.S_IFBLK,
  socket: constants.S_IFSOCK,
  unknown: 0,
};

// ---- compare: what the destination needs for an entry on both sides ----------------------------

/** A time with nanoseconds, today. */
const T = 1_700_000_000_123_456_789n;
/** The last nanosecond of a second, to cross into the next one. */
const EDGE = 1_700_000_000_999_999_999n;
/** The tolerance of engine/compare.ts: mtimes closer than this are equal. */
const TOL = 2000n;

const file = (over: Partial<Entry> = {}): Entry => ({
  name: 'f',
  kind: 'file',
  size: 100,
  mtimeNs: T,
  mode: 0o644,
  ...over,
});
const dir = (over: Partial<Entry> = {}): Entry => ({
  name: 'd',
  kind: 'dir',
  size: 4096,
  mtimeNs: T,
  mode: 0o755,
  ...over,
});
const link = (target: string, over: Partial<Entry> = {}): Entry => ({
  name: 'l',
  kind: 'symlink',
  size: target.length,
  mtimeNs: T,
  mode: 0o777,
  linkTarget: target,
  ...over,
});
const other = (over: Partial<Entry> = {}): Entry => ({
  name: 'p',
  kind: 'other',
  size: 0,
  mtimeNs: T,
  mode: 0o644,
  ...over,
});

interface CompareCase {
  what: string;
  source: Entry;
  dest: Entry;
  mode: CompareMode;
  expected: Decision;
  /** The transfer keeps owners (root, no --no-owner): an owner-only difference counts. */
  owners?: boolean;
  /** The xattr kinds compared (fsops/xattrs.ts keepMask); both when absent. */
  keep?: number;
}

/** Owner cases: each with and without owners kept. */
const OWNED = { uid: 1234, gid: 5678 };
const ownerCases = (
  what: string,
  source: Entry,
  dest: Entry,
  mode: CompareMode,
  kept: Decision,
  notKept: Decision,
): CompareCase[] => [
  { what: `${what}, owners kept`, source, dest, mode, expected: kept, owners: true },
  { what: `${what}, owners not kept`, source, dest, mode, expected: notKept, owners: false },
];

const COMPARE_CASES: CompareCase[] = [
  // The mtime tolerance, at its edges, both ways.
  ...(
    [
      [0n, 'skip'],
      [1n, 'skip'],
      [TOL - 1n, 'skip'],
      [TOL, 'transfer'],
      [TOL + 1n, 'transfer'],
      [1_000_000n, 'transfer'],
      [999_999_999n, 'transfer'],
      [1_000_000_000n, 'transfer'],
    ] as const
  ).flatMap(
    ([diff, expected]) =>
      [
        {
          what: `dest ${diff} ns later`,
          source: file(),
          dest: file({ mtimeNs: T + diff }),
          mode: 'default',
          expected,
        },
        {
          what: `dest ${diff} ns earlier`,
          source: file(),
          dest: file({ mtimeNs: T - diff }),
          mode: 'default',
          expected,
        },
      ] satisfies CompareCase[],
  ),
  // Across a whole second (the addon keeps seconds and nanoseconds apart).
  {
    what: 'across a second, 1 ns',
    source: file({ mtimeNs: EDGE }),
    dest: file({ mtimeNs: EDGE + 1n }),
    mode: 'default',
    expected: 'skip',
  },
  {
    what: 'across a second, just under the tolerance',
    source: file({ mtimeNs: EDGE }),
    dest: file({ mtimeNs: EDGE + TOL - 1n }),
    mode: 'default',
    expected: 'skip',
  },
  {
    what: 'across a second, at the tolerance',
    source: file({ mtimeNs: EDGE + TOL }),
    dest: file({ mtimeNs: EDGE }),
    mode: 'default',
    expected: 'transfer',
  },
  // Before 1970.
  {
    what: 'before 1970, within',
    source: file({ mtimeNs: -1n }),
    dest: file({ mtimeNs: TOL - 2n }),
    mode: 'default',
    expected: 'skip',
  },
  {
    what: 'before 1970, at',
    source: file({ mtimeNs: -1n }),
    dest: file({ mtimeNs: -1n - TOL }),
    mode: 'default',
    expected: 'transfer',
  },
  {
    what: 'before 1970, a second apart',
    source: file({ mtimeNs: -1_000_000_000n }),
    dest: file({ mtimeNs: 0n }),
    mode: 'default',
    expected: 'transfer',
  },
  // Times set through Node's utimes (microseconds) are the same; a coarse file system's are not:
  // compare.ts has no rule for whole-second or 2-second (FAT) timestamps, so neither has the addon.
  {
    what: 'dest rounded to microseconds',
    source: file(),
    dest: file({ mtimeNs: (T / 1000n) * 1000n }),
    mode: 'default',
    expected: 'skip',
  },
  {
    what: 'dest rounded up to microseconds',
    source: file(),
    dest: file({ mtimeNs: (T / 1000n + 1n) * 1000n }),
    mode: 'default',
    expected: 'skip',
  },
  {
    what: 'dest truncated to whole seconds (coarse file system)',
    source: file(),
    dest: file({ mtimeNs: (T / 1_000_000_000n) * 1_000_000_000n }),
    mode: 'default',
    expected: 'transfer',
  },
  {
    what: 'dest on a 2 s grid (FAT)',
    source: file({ mtimeNs: 1_700_000_001_000_000_000n }),
    dest: file({ mtimeNs: 1_700_000_002_000_000_000n }),
    mode: 'default',
    expected: 'transfer',
  },
  {
    what: 'whole seconds on both sides, equal',
    source: file({ mtimeNs: 1_700_000_000_000_000_000n }),
    dest: file({ mtimeNs: 1_700_000_000_000_000_000n }),
    mode: 'default',
    expected: 'skip',
  },
  // Sizes, modes.
  { what: 'another size', source: file(), dest: file({ size: 101 }), mode: 'default', expected: 'transfer' },
  { what: 'empty dest', source: file(), dest: file({ size: 0 }), mode: 'default', expected: 'transfer' },
  {
    what: 'only the mode differs',
    source: file(),
    dest: file({ mode: 0o600 }),
    mode: 'default',
    expected: 'update',
  },
  {
    what: 'the mode differs, mtime within',
    source: file(),
    dest: file({ mode: 0o600, mtimeNs: T + TOL - 1n }),
    mode: 'default',
    expected: 'update',
  },
  {
    what: 'setuid differs',
    source: file({ mode: 0o4755 }),
    dest: file({ mode: 0o755 }),
    mode: 'default',
    expected: 'update',
  },
  {
    what: 'sticky differs',
    source: file({ mode: 0o1644 }),
    dest: file(),
    mode: 'default',
    expected: 'update',
  },
  {
    what: 'file-type bits ignored',
    source: file({ mode: 0o100644 }),
    dest: file(),
    mode: 'default',
    expected: 'skip',
  },
  // size-only: the mtime never makes a copy, but it is metadata to set.
  { what: 'size-only, equal', source: file(), dest: file(), mode: 'size-only', expected: 'skip' },
  {
    what: 'size-only, mtime within',
    source: file(),
    dest: file({ mtimeNs: T + TOL - 1n }),
    mode: 'size-only',
    expected: 'skip',
  },
  {
    what: 'size-only, mtime at',
    source: file(),
    dest: file({ mtimeNs: T + TOL }),
    mode: 'size-only',
    expected: 'update',
  },
  {
    what: 'size-only, mtime far',
    source: file(),
    dest: file({ mtimeNs: 0n }),
    mode: 'size-only',
    expected: 'update',
  },
  {
    what: 'size-only, mode',
    source: file(),
    dest: file({ mode: 0o600 }),
    mode: 'size-only',
    expected: 'update',
  },
  {
    what: 'size-only, size',
    source: file(),
    dest: file({ size: 1 }),
    mode: 'size-only',
    expected: 'transfer',
  },
  // checksum: equal sizes are compared by content whatever the times.
  { what: 'checksum, equal', source: file(), dest: file(), mode: 'checksum', expected: 'hash' },
  {
    what: 'checksum, mtime far',
    source: file(),
    dest: file({ mtimeNs: 0n }),
    mode: 'checksum',
    expected: 'hash',
  },
  { what: 'checksum, mode', source: file(), dest: file({ mode: 0o600 }), mode: 'checksum', expected: 'hash' },
  {
    what: 'checksum, size',
    source: file(),
    dest: file({ size: 99 }),
    mode: 'checksum',
    expected: 'transfer',
  },
  // ignore-times: files and links always; directories never.
  {
    what: 'ignore-times, equal file',
    source: file(),
    dest: file(),
    mode: 'ignore-times',
    expected: 'transfer',
  },
  {
    what: 'ignore-times, equal link',
    source: link('a'),
    dest: link('a'),
    mode: 'ignore-times',
    expected: 'transfer',
  },
  {
    what: 'ignore-times, dir',
    source: dir(),
    dest: dir({ mtimeNs: 0n }),
    mode: 'ignore-times',
    expected: 'skip',
  },
  // ignore-existing: whatever exists stays, whatever its kind.
  {
    what: 'ignore-existing, differing file',
    source: file(),
    dest: file({ size: 1, mtimeNs: 0n, mode: 0o600 }),
    mode: 'ignore-existing',
    expected: 'skip',
  },
  {
    what: 'ignore-existing, file over dir',
    source: file(),
    dest: dir(),
    mode: 'ignore-existing',
    expected: 'skip',
  },
  {
    what: 'ignore-existing, dir over file',
    source: dir(),
    dest: file(),
    mode: 'ignore-existing',
    expected: 'skip',
  },
  {
    what: 'ignore-existing, other links',
    source: link('a'),
    dest: link('b'),
    mode: 'ignore-existing',
    expected: 'skip',
  },
  // Kinds that differ.
  ...(['default', 'checksum', 'size-only', 'ignore-times'] as const).flatMap((mode) => [
    { what: `${mode}, file over dir`, source: file(), dest: dir(), mode, expected: 'conflict' as const },
    { what: `${mode}, dir over file`, source: dir(), dest: file(), mode, expected: 'conflict' as const },
    { what: `${mode}, link over file`, source: link('x'), dest: file(), mode, expected: 'conflict' as const },
    { what: `${mode}, file over link`, source: file(), dest: link('x'), mode, expected: 'conflict' as const },
    { what: `${mode}, other over file`, source: other(), dest: file(), mode, expected: 'conflict' as const },
    {
      what: `${mode}, dirs`,
      source: dir(),
      dest: dir({ mtimeNs: 0n, mode: 0o700 }),
      mode,
      expected: 'skip' as const,
    },
    {
      what: `${mode}, others`,
      source: other(),
      dest: other({ mtimeNs: 0n }),
      mode,
      expected: 'skip' as const,
    },
  ]),
  // FIFOs and devices (engine/special-files.ts): another node, mode or mtime is replaced; sockets never.
  ...ownerCases(
    'fifo, uid differs',
    other({ special: 'fifo', ...OWNED }),
    other({ special: 'fifo', ...OWNED, uid: 1 }),
    'default',
    'transfer',
    'skip',
  ),
  ...ownerCases(
    'fifo, same owner, xattrs differ (never made on nodes)',
    other({ special: 'fifo', ...OWNED, xattrs: [{ name: 'trusted.a', value: Buffer.from('1') }] }),
    other({ special: 'fifo', ...OWNED, xattrs: [] }),
    'default',
    'skip',
    'skip',
  ),
  {
    what: 'fifos, same',
    source: other({ special: 'fifo' }),
    dest: other({ special: 'fifo' }),
    mode: 'default',
    expected: 'skip',
  },
  {
    what: 'fifos, other mtime',
    source: other({ special: 'fifo' }),
    dest: other({ special: 'fifo', mtimeNs: 0n }),
    mode: 'default',
    expected: 'transfer',
  },
  {
    what: 'fifos, other mode',
    source: other({ special: 'fifo' }),
    dest: other({ special: 'fifo', mode: 0o600 }),
    mode: 'size-only',
    expected: 'transfer',
  },
  {
    what: 'char devices, other rdev',
    source: other({ special: 'char', rdev: 0x103n }),
    dest: other({ special: 'char', rdev: 0x105n }),
    mode: 'default',
    expected: 'transfer',
  },
  {
    what: 'char devices, same rdev',
    source: other({ special: 'char', rdev: 0x103n }),
    dest: other({ special: 'char', rdev: 0x103n }),
    mode: 'default',
    expected: 'skip',
  },
  {
    what: 'fifo over block device',
    source: other({ special: 'fifo' }),
    dest: other({ special: 'block', rdev: 0x801n }),
    mode: 'default',
    expected: 'transfer',
  },
  {
    what: 'sockets, other mtime',
    source: other({ special: 'socket' }),
    dest: other({ special: 'socket', mtimeNs: 0n }),
    mode: 'default',
    expected: 'skip',
  },
  {
    what: 'fifo, ignore-existing',
    source: other({ special: 'fifo' }),
    dest: other({ special: 'char' }),
    mode: 'ignore-existing',
    expected: 'skip',
  },
  // Symbolic links keep their own mtime, with the same tolerance.
  { what: 'link, same', source: link('a/b'), dest: link('a/b'), mode: 'default', expected: 'skip' },
  {
    what: 'link, same, size-only',
    source: link('a/b'),
    dest: link('a/b'),
    mode: 'size-only',
    expected: 'skip',
  },
  {
    what: 'link, same, checksum',
    source: link('a/b'),
    dest: link('a/b'),
    mode: 'checksum',
    expected: 'skip',
  },
  {
    what: 'link, other target',
    source: link('aaa'),
    dest: link('bbb'),
    mode: 'default',
    expected: 'transfer',
  },
  {
    what: 'link, other target, size-only',
    source: link('aaa'),
    dest: link('bbb'),
    mode: 'size-only',
    expected: 'transfer',
  },
  {
    what: 'link, other target, checksum',
    source: link('aaa'),
    dest: link('bbb'),
    mode: 'checksum',
    expected: 'transfer',
  },
  {
    what: 'link, mtime within',
    source: link('a'),
    dest: link('a', { mtimeNs: T + TOL - 1n }),
    mode: 'default',
    expected: 'skip',
  },
  {
    what: 'link, mtime at',
    source: link('a'),
    dest: link('a', { mtimeNs: T - TOL }),
    mode: 'default',
    expected: 'transfer',
  },
  {
    what: 'link, mtime at, size-only',
    source: link('a'),
    dest: link('a', { mtimeNs: T + TOL }),
    mode: 'size-only',
    expected: 'transfer',
  },
  {
    what: 'link, mode differs',
    source: link('a'),
    dest: link('a', { mode: 0o755 }),
    mode: 'default',
    expected: 'skip',
  },
  // Owners: an owner-only difference is a metadata update (a link is made again), only when kept.
  ...ownerCases('file, same owner', file(OWNED), file(OWNED), 'default', 'skip', 'skip'),
  ...ownerCases('file, uid differs', file(OWNED), file({ ...OWNED, uid: 1 }), 'default', 'update', 'skip'),
  ...ownerCases('file, gid differs', file(OWNED), file({ ...OWNED, gid: 1 }), 'default', 'update', 'skip'),
  ...ownerCases(
    'file, uid differs, size-only',
    file(OWNED),
    file({ ...OWNED, uid: 0 }),
    'size-only',
    'update',
    'skip',
  ),
  ...ownerCases(
    'file, uid and mtime differ',
    file(OWNED),
    file({ ...OWNED, uid: 1, mtimeNs: T + TOL }),
    'default',
    'transfer',
    'transfer',
  ),
  ...ownerCases(
    'file, uid differs, checksum',
    file(OWNED),
    file({ ...OWNED, uid: 1 }),
    'checksum',
    'hash',
    'hash',
  ),
  ...ownerCases(
    'file, uid differs, ignore-existing',
    file(OWNED),
    file({ ...OWNED, uid: 1 }),
    'ignore-existing',
    'skip',
    'skip',
  ),
  ...ownerCases(
    'link, uid differs',
    link('a', OWNED),
    link('a', { ...OWNED, uid: 1 }),
    'default',
    'transfer',
    'skip',
  ),
  ...ownerCases(
    'link, gid differs',
    link('a', OWNED),
    link('a', { ...OWNED, gid: 1 }),
    'default',
    'transfer',
    'skip',
  ),
  ...ownerCases('link, same owner', link('a', OWNED), link('a', OWNED), 'default', 'skip', 'skip'),
  // A directory's owner is set with its mode and mtime, after its contents.
  ...ownerCases('dir, uid differs', dir(OWNED), dir({ ...OWNED, uid: 1 }), 'default', 'skip', 'skip'),
  // xattrs and ACLs: a difference alone is an update; unread on either side compares equal.
  ...XATTR_CASES(),
];

function XATTR_CASES(): CompareCase[] {
  const x = (name: string, value: string) => ({ name, value: Buffer.from(value) });
  const acl = x('system.posix_acl_access', 'acl-bytes');
  return [
    {
      what: 'xattrs equal',
      source: file({ xattrs: [x('user.a', '1')] }),
      dest: file({ xattrs: [x('user.a', '1')] }),
      mode: 'default',
      expected: 'skip',
    },
    {
      what: 'xattr value differs',
      source: file({ xattrs: [x('user.a', '1')] }),
      dest: file({ xattrs: [x('user.a', '2')] }),
      mode: 'default',
      expected: 'update',
    },
    {
      what: 'xattr missing at the destination',
      source: file({ xattrs: [x('user.a', '1')] }),
      dest: file({ xattrs: [] }),
      mode: 'default',
      expected: 'update',
    },
    {
      what: 'xattr only at the destination',
      source: file({ xattrs: [] }),
      dest: file({ xattrs: [x('user.b', '')] }),
      mode: 'default',
      expected: 'update',
    },
    {
      what: 'xattrs not read at the destination',
      source: file({ xattrs: [x('user.a', '1')] }),
      dest: file(),
      mode: 'default',
      expected: 'skip',
    },
    {
      what: 'xattrs not read at the source',
      source: file(),
      dest: file({ xattrs: [x('user.a', '1')] }),
      mode: 'default',
      expected: 'skip',
    },
    {
      what: 'ACL differs',
      source: file({ xattrs: [acl] }),
      dest: file({ xattrs: [] }),
      mode: 'default',
      expected: 'update',
    },
    {
      what: 'ACL differs, --no-acls',
      source: file({ xattrs: [acl] }),
      dest: file({ xattrs: [] }),
      mode: 'default',
      expected: 'skip',
      keep: 1,
    },
    {
      what: 'xattr differs, --no-xattrs',
      source: file({ xattrs: [x('user.a', '1')] }),
      dest: file({ xattrs: [] }),
      mode: 'default',
      expected: 'skip',
      keep: 2,
    },
    {
      what: 'xattr differs, size differs too',
      source: file({ size: 1, xattrs: [x('user.a', '1')] }),
      dest: file({ xattrs: [] }),
      mode: 'default',
      expected: 'transfer',
    },
    {
      what: 'other system.* names are not compared',
      source: file({ xattrs: [x('system.other', '1')] }),
      dest: file({ xattrs: [] }),
      mode: 'default',
      expected: 'skip',
    },
    {
      what: 'xattr differs, --checksum',
      source: file({ xattrs: [x('user.a', '1')] }),
      dest: file({ xattrs: [] }),
      mode: 'checksum',
      expected: 'hash',
    },
  ];
}

describe('compare rules: engine/compare.ts decide() and the copy threads (native Decide)', () => {
  test('TypeScript gives the expected decision for every case', () => {
    for (const c of COMPARE_CASES)
      assert.equal(decide(c.source, c.dest, c.mode, c.owners, c.keep), c.expected, c.what);
  });

  test('the addon gives the expected decision for every case', () => {
    const native = rules();
    for (const c of COMPARE_CASES) {
      assert.equal(
        native.decide(nativeEntry(c.source), nativeEntry(c.dest), codes().compare[c.mode], c.owners, c.keep),
        c.expected,
        c.what,
      );
    }
  });
});

// ---- temp names ---------------------------------------------------------------------------------

const TEMP_NAME_CASES: [name: string, expected: boolean][] = [
  ['.blit-1234-0123456789ab.tmp', true],
  ['.blit-1-000000000000.tmp', true],
  ['.blit-4194304-ffffffffffff.tmp', true],
  ['.blit-00-abcdefabcdef.tmp', true],
  ['.blit-12345678901234567890-0123456789ab.tmp', true],
  ['blit-1234-0123456789ab.tmp', false],
  ['.blit-1234-0123456789ab', false],
  ['.blit-1234-0123456789ab.tmp.bak', false],
  ['.blit-1234-0123456789ab.tmp\n', false],
  ['.blit-1234-0123456789ab.tm', false],
  ['.blit-1234-0123456789ab.TMP', false],
  ['.blit-1234-0123456789ab.tmx', false],
  ['.blit-1234-0123456789ab_tmp', false],
  ['.blit-1234-0123456789abctmp', false],
  ['x.blit-1234-0123456789ab.tmp', false],
  ['.BLIT-1234-0123456789ab.tmp', false],
  ['.blit-1234_0123456789ab.tmp', false],
  ['.blit--0123456789ab.tmp', false],
  ['.blit-abc-0123456789ab.tmp', false],
  ['.blit-12a-0123456789ab.tmp', false],
  ['.blit- 12-0123456789ab.tmp', false],
  ['.blit-+12-0123456789ab.tmp', false],
  ['.blit-١٢-0123456789ab.tmp', false],
  ['.blit-12-34-0123456789ab.tmp', false],
  ['.blit-1234-0123456789a.tmp', false],
  ['.blit-1234-0123456789abc.tmp', false],
  ['.blit-1234-0123456789AB.tmp', false],
  ['.blit-1234-0123456789ag.tmp', false],
  ['.blit-1234-0123456789a-.tmp', false],
  ['.blit-1234-.tmp', false],
  ['.blit-.tmp', false],
  ['file.tmp', false],
  ['', false],
];

describe('temp names: fsops/temp-path.ts isTempName() and the copy threads (native IsTempName)', () => {
  test('TypeScript recognises exactly the expected names', () => {
    for (const [name, expected] of TEMP_NAME_CASES)
      assert.equal(isTempName(name), expected, JSON.stringify(name));
  });

  test('the addon recognises exactly the expected names', () => {
    const native = rules();
    for (const [name, expected] of TEMP_NAME_CASES)
      assert.equal(native.isTempName(name), expected, JSON.stringify(name));
  });
});

// ---- which modes need a chmod after the file is created ----------------------------------------

const CHMOD_CASES: [mode: number, umask: number, expected: boolean][] = [
  [0o644, 0o022, false],
  [0o755, 0o022, false],
  [0o600, 0o077, false],
  [0o000, 0o777, false],
  [0o664, 0o022, true],
  [0o666, 0o002, true],
  [0o664, 0o002, false],
  [0o777, 0o002, true],
  [0o755, 0o077, true],
  [0o644, 0o000, false],
  [0o4755, 0o022, true],
  [0o2755, 0o000, true],
  [0o1777, 0o000, true],
  [0o7000, 0o000, true],
  [0o100644, 0o022, true],
];

describe('modes: fsops/metadata.ts needsChmod() and the copy threads (native NeedsChmod)', () => {
  test('TypeScript gives the expected answer for every case', () => {
    for (const [mode, umask, expected] of CHMOD_CASES)
      assert.equal(needsChmod(mode, umask), expected, `${mode.toString(8)} under ${umask.toString(8)}`);
  });

  test('the addon gives the expected answer for every case', () => {
    const native = rules();
    for (const [mode, umask, expected] of CHMOD_CASES)
      assert.equal(
        native.needsChmod(mode, umask),
        expected,
        `${mode.toString(8)} under ${umask.toString(8)}`,
      );
  });
});

// ---- --exclude name patterns ------------------------------------------------------------------

const EXCLUDE_CASES: [glob: string, name: string, kind: EntryKind, expected: boolean][] = [
  ['*.log', 'a.log', 'file', true],
  ['*.log', '.log', 'file', true],
  ['*.log', 'a.log.x', 'file', false],
  ['*.log', 'a.LOG', 'file', false],
  ['*.log', 'a.log', 'dir', true],
  ['*.log', '\nx.log', 'file', false],
  ['*.log', '\rx.log', 'file', false],
  ['*.log', '\u2028x.log', 'file', false],
  ['*.log', '\u2029x.log', 'file', false],
  ['*.log', 'x\n.log', 'file', true],
  ['*', '.hidden', 'file', true],
  ['*', 'x', 'symlink', true],
  ['*', '\n', 'file', false],
  ['x', 'x', 'file', true],
  ['x', 'xx', 'file', false],
  ['x', '\n', 'file', false],
  ['build/', 'build', 'dir', true],
  ['build/', 'build', 'file', false],
  ['build/', 'build', 'symlink', false],
  ['*/', 'any', 'dir', true],
  ['*/', 'any', 'file', false],
  ['a*b*c', 'abc', 'file', true],
  ['a*b*c', 'aXbYc', 'file', true],
  ['a*b*c', 'aXbYcZ', 'file', false],
  ['a*b*c', 'acb', 'file', false],
  ['a*b*c', 'abcbc', 'file', true],
  ['*x', 'x', 'file', true],
  ['x*', 'x', 'file', true],
  ['é*', 'éa', 'file', true],
  ['*é', 'aé', 'file', true],
  ['*é', 'ae', 'file', false],
  ['日本*', '日本語', 'file', true],
  ['a-b', 'a-b', 'file', true],
  ['a b', 'a b', 'file', true],
  ['5.dat', '5xdat', 'file', false],
  ['*5.dat', 'f15.dat', 'file', true],
];

describe('--exclude: engine/filter.ts and the copy threads (native Excluded)', () => {
  test('TypeScript gives the expected answer for every case', () => {
    for (const [glob, name, kind, expected] of EXCLUDE_CASES) {
      const filter = buildFilter({ include: [], exclude: [glob] });
      const status = filter.test(name, kind === 'dir', filter.root).status;
      assert.equal(status === 'exclude', expected, `${JSON.stringify(glob)} ${JSON.stringify(name)} ${kind}`);
    }
  });

  test('the addon gives the expected answer for every case', () => {
    const native = rules();
    for (const [glob, name, kind, expected] of EXCLUDE_CASES) {
      const what = `${JSON.stringify(glob)} ${JSON.stringify(name)} ${kind}`;
      const pattern = namePattern(glob);
      assert.ok(pattern !== undefined, `${what}: a name pattern the copy threads take`);
      const entry: NativeTestEntry = {
        kind: codes().kind[kind],
        name,
        link: kind === 'symlink' ? 't' : undefined,
      };
      assert.equal(native.excluded([pattern], entry), expected, what);
    }
  });

  test('the addon keeps what the walk reports whatever the filters say', () => {
    const native = rules();
    const bad = Buffer.from([0x61, 0xff]);
    assert.equal(native.excluded(['*'], { kind: codes().kind.file, name: bad }), false, 'a name not UTF-8');
    assert.equal(
      native.excluded(['*'], { kind: codes().kind.symlink, name: 'l', link: bad }),
      false,
      'a link target not UTF-8',
    );
    assert.equal(
      native.excluded(['*'], { kind: codes().kind.error, name: 'x' }),
      false,
      'an entry that could not be stat’ed',
    );
  });
});

// ---- which names are UTF-8 --------------------------------------------------------------------

const UTF8_CASES: [bytes: number[], expected: boolean][] = [
  [[], true],
  [[0x61, 0x62, 0x63], true],
  [[0x00], true],
  [[0x7f], true],
  [[0xc3, 0xa9], true],
  [[0xe2, 0x82, 0xac], true],
  [[0xf0, 0x9f, 0x98, 0x80], true],
  [[0xef, 0xbf, 0xbf], true],
  [[0xf4, 0x8f, 0xbf, 0xbf], true],
  [[0x80], false],
  [[0xbf], false],
  [[0xc3], false],
  [[0xc3, 0x28], false],
  [[0xc0, 0xaf], false],
  [[0xc1, 0xbf], false],
  [[0xe0, 0x80, 0xaf], false],
  [[0xf0, 0x80, 0x80, 0xaf], false],
  [[0xed, 0xa0, 0x80], false],
  [[0xed, 0xbf, 0xbf], false],
  [[0xf4, 0x90, 0x80, 0x80], false],
  [[0xe2, 0x82], false],
  [[0xf0, 0x9f, 0x98], false],
  [[0xf8, 0x88, 0x80, 0x80, 0x80], false],
  [[0xfe], false],
  [[0xff], false],
  [[0x61, 0xff, 0x62], false],
];

describe('UTF-8 names: node:buffer isUtf8() and the addon (native IsValidUtf8)', () => {
  test('Node gives the expected answer for every case', () => {
    for (const [bytes, expected] of UTF8_CASES)
      assert.equal(isUtf8(Buffer.from(bytes)), expected, String(bytes));
  });

  test('the addon gives the expected answer for every case', () => {
    const native = rules();
    for (const [bytes, expected] of UTF8_CASES)
      assert.equal(native.isUtf8(Buffer.from(bytes)), expected, String(bytes));
  });
});

// ---- the stall message --------------------------------------------------------------------------

const STALL_CASES: [slots: Record<number, string>, timeoutMs: number, expected: string][] = [
  [{}, 10_000, 'stalled: no progress for 10 s; nothing in flight'],
  [{ 0: 'scan: listing a' }, 10_000, 'stalled: no progress for 10 s; in flight: scan: listing a'],
  [{ 1: 'copy: a', 3: 'copy: é' }, 10_000, 'stalled: no progress for 10 s; in flight: copy: a; copy: é'],
  [{ 31: 'last' }, 1250, 'stalled: no progress for 1.3 s; in flight: last'],
  [{}, 150, 'stalled: no progress for 0.2 s; nothing in flight'],
  [{}, 10_049, 'stalled: no progress for 10 s; nothing in flight'],
  [{}, 10_050, 'stalled: no progress for 10.1 s; nothing in flight'],
  [{}, 40, 'stalled: no progress for 0 s; nothing in flight'],
];

describe('stall message: engine/stall-watchdog.ts and the native watchdog (StallMessage)', () => {
  const board = (slots: Record<number, string>) => {
    const b = new ActivityBoard();
    for (const [slot, text] of Object.entries(slots)) b.set(Number(slot), text);
    return b;
  };

  test('TypeScript gives the expected message for every case', () => {
    for (const [slots, timeoutMs, expected] of STALL_CASES)
      assert.equal(board(slots).stallMessage(timeoutMs), expected);
  });

  test('the addon gives the expected message for every case', () => {
    const native = rules();
    for (const [slots, timeoutMs, expected] of STALL_CASES)
      assert.equal(native.stallMessage(board(slots).slots, timeoutMs), expected);
  });
});
