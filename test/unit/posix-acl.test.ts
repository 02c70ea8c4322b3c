/** The POSIX ACL xattr codec: ids listed and mapped, malformed values refused whole. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SourceEntry } from '../../src/engine/roles.js';
import { IdNames, localIdNames } from '../../src/fsops/id-map.js';
import {
  type AclName,
  aclIds,
  aclNamesOf,
  isAclXattr,
  mapAclIds,
  mapAclNames,
} from '../../src/fsops/posix-acl.js';
import { fromManifestEntry, ProtocolError, toManifestBatches } from '../../src/protocol/manifest-wire.js';
import { MAX_ACL_NAMES } from '../../src/protocol/wire-xattrs.js';
import { tempDir } from '../helpers.js';

/** An ACL value from (tag, perm, id) triples. */
function acl(entries: [number, number, number][]): Buffer {
  const out = Buffer.alloc(4 + entries.length * 8);
  out.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm, id], i) => {
    out.writeUInt16LE(tag, 4 + i * 8);
    out.writeUInt16LE(perm, 6 + i * 8);
    out.writeUInt32LE(id, 8 + i * 8);
  });
  return out;
}

const UNDEFINED = 0xffffffff;
const sample = acl([
  [0x01, 6, UNDEFINED],
  [0x02, 6, 1234],
  [0x04, 4, UNDEFINED],
  [0x08, 4, 5678],
  [0x10, 6, UNDEFINED],
  [0x20, 4, UNDEFINED],
]);

test('the two ACL xattrs are told from the others', () => {
  assert.ok(isAclXattr('system.posix_acl_access'));
  assert.ok(isAclXattr('system.posix_acl_default'));
  assert.ok(!isAclXattr('user.posix_acl_access'));
  assert.ok(!isAclXattr('system.posix_acl'));
});

test('named users and groups are listed; owner, mask and other entries are not', () => {
  assert.deepEqual(aclIds(sample), { users: [1234], groups: [5678] });
});

test('mapping rewrites only named users and groups, and leaves the input alone', () => {
  const before = Buffer.from(sample);
  const mapped = mapAclIds(
    sample,
    (id) => id + 1,
    (id) => id + 2,
  );
  assert.deepEqual(aclIds(mapped!), { users: [1235], groups: [5680] });
  assert.deepEqual(sample, before);
  // Everything else byte for byte: the tags, perms and undefined ids.
  const back = mapAclIds(
    mapped!,
    (id) => id - 1,
    (id) => id - 2,
  );
  assert.deepEqual(back, sample);
});

test('a value that is not an ACL is refused whole', () => {
  assert.equal(aclIds(Buffer.alloc(0)), undefined);
  assert.equal(aclIds(sample.subarray(0, sample.length - 1)), undefined);
  const badVersion = Buffer.from(sample);
  badVersion.writeUInt32LE(1, 0);
  assert.equal(aclIds(badVersion), undefined);
  const badTag = Buffer.from(sample);
  badTag.writeUInt16LE(0x40, 4);
  assert.equal(
    mapAclIds(
      badTag,
      (id) => id,
      (id) => id,
    ),
    undefined,
  );
});

test('what setfacl stores parses, with the ids setfacl was given', (t) => {
  let getfattr: string;
  const file = join(tempDir(t, 'blit-acl-'), 'f');
  writeFileSync(file, '');
  try {
    execFileSync('setfacl', ['-m', 'u:1234:rw,g:5678:r', file]);
    getfattr = execFileSync(
      'getfattr',
      ['-n', 'system.posix_acl_access', '-e', 'hex', '--absolute-names', file],
      {
        encoding: 'utf8',
      },
    );
  } catch (error) {
    // setfacl and getfattr come from Debian's acl and attr packages (.ci/run installs them).
    throw new Error(`setfacl/getfattr failed (are acl and attr installed?): ${String(error)}`);
  }
  const hex = /=0x([0-9a-f]+)/.exec(getfattr)![1]!;
  assert.deepEqual(aclIds(Buffer.from(hex, 'hex')), { users: [1234], groups: [5678] });
});

test('across machines: the source names its ACL ids, the destination maps them by name, else keeps the numbers', () => {
  const source = IdNames.fromText('ann:x:1234:1::/:/bin/sh\n', 'ops:x:5678:\nspare:x:42:\n');
  const here = IdNames.fromText('ann:x:2001:1::/:/bin/sh\n', 'ops:x:3001:\n');
  const xattrs = [
    { name: 'system.posix_acl_access', value: sample },
    {
      name: 'system.posix_acl_default',
      value: acl([
        [0x02, 6, 1234],
        [0x08, 4, 42],
        [0x08, 4, 777],
      ]),
    },
    { name: 'user.note', value: Buffer.from('not an ACL') },
  ];
  const sent = aclNamesOf(xattrs, source);
  assert.deepEqual(
    [...sent].sort((a, b) => a.name.localeCompare(b.name)),
    [
      { id: 1234, name: 'ann', group: false },
      { id: 5678, name: 'ops', group: true },
      { id: 42, name: 'spare', group: true },
    ].sort((a, b) => a.name.localeCompare(b.name)),
    'each named id once; 777 has no name there',
  );
  const mapped = mapAclNames(xattrs, sent, here);
  assert.deepEqual(aclIds(mapped[0]!.value), { users: [2001], groups: [3001] });
  // 'spare' is unknown here and 777 had no name: both keep their numbers.
  assert.deepEqual(aclIds(mapped[1]!.value), { users: [2001], groups: [42, 777] });
  assert.equal(mapped[2], xattrs[2], 'other xattrs untouched');
});

test('on the wire: the names travel with the entry, a peer that sends too many or bad ones is refused', () => {
  // Root's uid 0 and gid 0 have names on every machine: named in an ACL, they go with it.
  const listed: SourceEntry = {
    name: 'f',
    kind: 'file',
    size: 1,
    mtimeNs: 0n,
    mode: 0o644,
    xattrs: [
      {
        name: 'system.posix_acl_access',
        value: acl([
          [0x02, 6, 0],
          [0x08, 4, 0],
        ]),
      },
    ],
    verdict: { status: 'include', met: 0 },
  };
  const [batch] = toManifestBatches({ rel: '', entries: [listed], partial: false });
  const wire = batch!.entries[0]!;
  const rootName = localIdNames().users.nameOf.get(0);
  if (rootName === undefined) return; // no /etc/passwd here: nothing is named
  assert.deepEqual(
    wire.entry!.aclNames.map(({ name, group }) => [name, group]).sort(),
    [
      [rootName, false],
      [localIdNames().groups.nameOf.get(0)!, true],
    ].sort(),
  );
  // A machine where that user is 4242: mapped; with --numeric-ids: as sent.
  const here = IdNames.fromText(`${rootName}:x:4242:1::/:/bin/sh\n`, '');
  const mapped = fromManifestEntry(wire, false, { here: () => here, numericIds: false });
  assert.deepEqual(aclIds(mapped.xattrs![0]!.value), { users: [4242], groups: [0] });
  const numeric = fromManifestEntry(wire, false, { here: () => here, numericIds: true });
  assert.deepEqual(aclIds(numeric.xattrs![0]!.value), { users: [0], groups: [0] });
  const refuse = (aclNames: AclName[]) =>
    assert.throws(() => fromManifestEntry({ ...wire, entry: { ...wire.entry!, aclNames } }), ProtocolError);
  refuse([{ id: 1, name: 'a:b', group: false }]);
  refuse(Array.from({ length: MAX_ACL_NAMES + 1 }, (_, id) => ({ id, name: `u${id}`, group: false })));
});
