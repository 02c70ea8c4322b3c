/** fsops/id-map.ts: owners across machines, by name where the destination knows it, else by number. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  IdNames,
  isPeerIdName,
  MAX_ID_NAME_BYTES,
  ownerNames,
  parseIdTable,
} from '../../src/fsops/id-map.js';
import { Entry, EntryKind, FilterStatus } from '../../src/generated/blit.js';
import { fromManifestEntry } from '../../src/protocol/manifest-wire.js';

const SOURCE = IdNames.fromText(
  'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/:/bin/sh\n',
  'root:x:0:\nstaff:x:50:\nalice:x:1000:\n',
);
const DEST = IdNames.fromText(
  'root:x:0:0::/root:/bin/sh\nalice:x:2000:2000::/home/alice:/bin/sh\ncarol:x:1001:1001::/:/bin/sh\n',
  'root:x:0:\nstaff:x:60:\n',
);

describe('id tables', () => {
  test('name and id both ways; the first line wins; malformed lines are skipped', () => {
    const table = parseIdTable(
      '# comment\nalice:x:1000:1000\nalias:x:1000:1000\nalice:x:7:7\nbroken\nneg:x:-1:0\nbig:x:4294967296:0\n:x:5:5\nnum:x:12a:0\n',
    );
    assert.equal(table.nameOf.get(1000), 'alice');
    assert.equal(table.idOf.get('alice'), 1000);
    assert.equal(table.idOf.get('alias'), 1000);
    assert.deepEqual([...table.nameOf.keys()], [1000, 7]);
    assert.equal(table.idOf.has('neg'), false);
    assert.equal(table.idOf.has('big'), false);
    assert.equal(table.idOf.has('num'), false);
    assert.equal(table.nameOf.has(5), false);
  });

  test('the source sends the names its ids have there, empty where none', () => {
    assert.deepEqual(ownerNames(1000, 50, SOURCE), { user: 'alice', group: 'staff' });
    assert.deepEqual(ownerNames(4242, 4343, SOURCE), { user: '', group: '' });
  });
});

describe('owners of a decoded manifest entry (fromManifestEntry with mappedId)', () => {
  /** What the destination makes of an entry sent with these ids and names. */
  const mapOwner = (sent: { uid: number; gid: number; user: string; group: string }, numericIds: boolean) => {
    const wire = {
      entry: Entry.fromPartial({ name: 'f', kind: EntryKind.ENTRY_KIND_FILE, ...sent }),
      filterStatus: FilterStatus.FILTER_STATUS_INCLUDE,
      filterMet: 0,
    };
    const { uid, gid } = fromManifestEntry(wire, false, { here: () => DEST, numericIds });
    return { uid, gid };
  };
  const sent = (uid: number, gid: number) => ({ uid, gid, ...ownerNames(uid, gid, SOURCE) });

  test('a name the destination knows takes its id there', () => {
    assert.deepEqual(mapOwner(sent(1000, 50), false), { uid: 2000, gid: 60 });
  });

  test('a name it does not know keeps the number, even where that number is someone else', () => {
    // bob (1001) is unknown at the destination, where 1001 is carol: rsync keeps the number too.
    assert.deepEqual(mapOwner(sent(1001, 1000), false), { uid: 1001, gid: 1000 });
  });

  test('no name at the source: the number', () => {
    assert.deepEqual(mapOwner(sent(4242, 4343), false), { uid: 4242, gid: 4343 });
  });

  test('user and group map each on their own', () => {
    assert.deepEqual(mapOwner({ uid: 1000, gid: 9, user: 'alice', group: 'nogroup' }, false), {
      uid: 2000,
      gid: 9,
    });
  });

  test('--numeric-ids never maps', () => {
    assert.deepEqual(mapOwner(sent(1000, 50), true), { uid: 1000, gid: 50 });
  });
});

describe('names from a peer', () => {
  test('empty, ordinary names and names up to the bound are taken', () => {
    for (const name of [
      '',
      'alice',
      'www-data',
      'user.name',
      'DOMAIN\\user',
      'ü'.repeat(MAX_ID_NAME_BYTES / 2),
    ])
      assert.equal(isPeerIdName(name), true, name);
  });

  test('too long, control characters, the separator and slashes are refused', () => {
    for (const name of ['a'.repeat(MAX_ID_NAME_BYTES + 1), 'a:b', 'a/b', 'a\nb', 'a\0b', '\x7f'])
      assert.equal(isPeerIdName(name), false, JSON.stringify(name));
  });

  test('a name found good is remembered, and only that name: any other is still checked', () => {
    for (const [name, good] of [
      ['root', true],
      ['root', true],
      ['root:0', false],
      ['root:0', false],
      ['root', true],
      ['rooT\n', false],
      ['a'.repeat(MAX_ID_NAME_BYTES + 1), false],
      ['root', true],
    ] as const)
      assert.equal(isPeerIdName(name), good, JSON.stringify(name));
  });
});
