/** The POSIX ACL xattr codec: ids listed and mapped, malformed values refused whole. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { aclIds, isAclXattr, mapAclIds } from '../../src/fsops/posix-acl.js';
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
