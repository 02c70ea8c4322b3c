/** fsops/xattrs.ts (which names, equal sets, what to change) and protocol/wire-xattrs.ts (bounds on a peer's). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Entry, Xattr } from '../../src/fsops/entry.js';
import { classifyXattr, keepMask, sameXattrs, xattrChanges } from '../../src/fsops/xattrs.js';
import {
  fromWireXattrs,
  MAX_XATTR_ENTRY_BYTES,
  MAX_XATTR_NAME_BYTES,
  MAX_XATTR_VALUE_BYTES,
  MAX_XATTRS,
  toWireXattrs,
} from '../../src/protocol/wire-xattrs.js';

const x = (name: string, value = ''): Xattr => ({ name, value: Buffer.from(value) });
const entry = (xattrs?: Xattr[]): Entry => ({
  name: 'f',
  kind: 'file',
  size: 0,
  mtimeNs: 0n,
  mode: 0o644,
  ...(xattrs ? { xattrs } : {}),
});
const BOTH = keepMask({ xattrs: true, acls: true });

describe('which xattrs blit keeps', () => {
  test('user.* always, trusted.* and security.* as root, the two ACL names as ACLs, other system.* never', () => {
    assert.equal(classifyXattr('user.a', false), 'xattrs');
    assert.equal(classifyXattr('trusted.a', true), 'xattrs');
    assert.equal(classifyXattr('trusted.a', false), 'skip');
    assert.equal(classifyXattr('security.selinux', true), 'xattrs');
    assert.equal(classifyXattr('security.selinux', false), 'skip');
    assert.equal(classifyXattr('system.posix_acl_access', false), 'acls');
    assert.equal(classifyXattr('system.posix_acl_default', true), 'acls');
    assert.equal(classifyXattr('system.nfs4_acl', true), 'skip');
    assert.equal(classifyXattr('userx', true), 'skip');
  });

  test('keepMask: 1 xattrs, 2 ACLs', () => {
    assert.equal(keepMask({ xattrs: true, acls: false }), 1);
    assert.equal(keepMask({ xattrs: false, acls: true }), 2);
    assert.equal(BOTH, 3);
  });
});

describe('equal sets', () => {
  test('same names and bytes are equal, in any order', () => {
    assert.ok(
      sameXattrs(entry([x('user.a', '1'), x('user.b')]), entry([x('user.b'), x('user.a', '1')]), BOTH, true),
    );
  });
  test('a value, a name more or less, differs', () => {
    assert.ok(!sameXattrs(entry([x('user.a', '1')]), entry([x('user.a', '2')]), BOTH, true));
    assert.ok(!sameXattrs(entry([x('user.a', '1')]), entry([]), BOTH, true));
    assert.ok(!sameXattrs(entry([]), entry([x('user.a', '1')]), BOTH, true));
    assert.ok(!sameXattrs(entry([x('user.a', '')]), entry([x('user.a', '\0')]), BOTH, true));
  });
  test('unread on either side compares equal (nothing can be applied then)', () => {
    assert.ok(sameXattrs(entry([x('user.a', '1')]), entry(), BOTH, true));
    assert.ok(sameXattrs(entry(), entry([x('user.a', '1')]), BOTH, true));
  });
  test('only the kinds kept count', () => {
    const acl = x('system.posix_acl_access', 'v');
    assert.ok(sameXattrs(entry([acl]), entry([]), 1, true));
    assert.ok(!sameXattrs(entry([acl]), entry([]), 2, true));
    assert.ok(sameXattrs(entry([x('user.a')]), entry([]), 2, true));
    assert.ok(sameXattrs(entry([x('user.a')]), entry([]), 0, true));
    // Not root: trusted.* is neither read nor compared.
    assert.ok(sameXattrs(entry([x('trusted.a')]), entry([]), BOTH, false));
    assert.ok(!sameXattrs(entry([x('trusted.a')]), entry([]), BOTH, true));
  });
});

describe('what to change', () => {
  test('sets what differs or lacks, removes what the source lacks, within the kinds kept', () => {
    const want = [
      x('user.same', '1'),
      x('user.changed', 'new'),
      x('user.added', 'a'),
      x('system.posix_acl_access', 'acl'),
    ];
    const have = [
      x('user.same', '1'),
      x('user.changed', 'old'),
      x('user.gone', 'g'),
      x('system.posix_acl_default', 'd'),
      x('system.other', 'o'),
    ];
    const both = xattrChanges(want, have, BOTH, true);
    assert.deepEqual(both.set.map((a) => a.name).sort(), [
      'system.posix_acl_access',
      'user.added',
      'user.changed',
    ]);
    assert.deepEqual(both.remove.sort(), ['system.posix_acl_default', 'user.gone']);
    const xattrsOnly = xattrChanges(want, have, 1, true);
    assert.deepEqual(xattrsOnly.set.map((a) => a.name).sort(), ['user.added', 'user.changed']);
    assert.deepEqual(xattrsOnly.remove, ['user.gone']);
  });
});

describe('xattrs from a peer', () => {
  const refuse = (reason: string) => new Error(reason);
  const wire = (xattrs: Xattr[], xattrsRead = true) => ({
    xattrs: xattrs.map((a) => ({ name: a.name, value: Buffer.from(a.value) })),
    xattrsRead,
  });

  test('round trip: read and sorted; not read stays unknown; an empty list read means none', () => {
    const sent = toWireXattrs(entry([x('user.b', '2'), x('user.a', '1')]));
    assert.equal(sent.xattrsRead, true);
    assert.deepEqual(
      fromWireXattrs(sent, 'f', refuse)?.map((a) => a.name),
      ['user.a', 'user.b'],
    );
    assert.equal(fromWireXattrs(toWireXattrs(entry()), 'f', refuse), undefined);
    assert.deepEqual(fromWireXattrs(toWireXattrs(entry([])), 'f', refuse), []);
  });

  test('bounds: count, name length, value size, total, duplicates, NUL, sent but not read', () => {
    const many = Array.from({ length: MAX_XATTRS + 1 }, (_, i) => x(`user.${i}`));
    assert.throws(() => fromWireXattrs(wire(many), 'f', refuse), /more than 1024 xattrs/);
    assert.doesNotThrow(() => fromWireXattrs(wire(many.slice(0, MAX_XATTRS)), 'f', refuse));
    const longName = `user.${'n'.repeat(MAX_XATTR_NAME_BYTES - 4)}`;
    assert.throws(() => fromWireXattrs(wire([x(longName)]), 'f', refuse), /longer than 255/);
    assert.doesNotThrow(() => fromWireXattrs(wire([x(longName.slice(1))]), 'f', refuse));
    assert.throws(
      () => fromWireXattrs(wire([x('user.v', 'v'.repeat(MAX_XATTR_VALUE_BYTES + 1))]), 'f', refuse),
      /larger than 65536/,
    );
    assert.doesNotThrow(() =>
      fromWireXattrs(wire([x('user.v', 'v'.repeat(MAX_XATTR_VALUE_BYTES))]), 'f', refuse),
    );
    const big = Array.from({ length: 17 }, (_, i) => x(`user.${i}`, 'v'.repeat(MAX_XATTR_VALUE_BYTES - 10)));
    assert.ok(17 * MAX_XATTR_VALUE_BYTES > MAX_XATTR_ENTRY_BYTES);
    assert.throws(() => fromWireXattrs(wire(big), 'f', refuse), /in all/);
    assert.throws(() => fromWireXattrs(wire([x('user.a'), x('user.a')]), 'f', refuse), /twice/);
    assert.throws(() => fromWireXattrs(wire([x('user.\0a')]), 'f', refuse), /NUL/);
    assert.throws(() => fromWireXattrs(wire([x('')]), 'f', refuse), /empty/);
    assert.throws(() => fromWireXattrs(wire([x('user.a')], false), 'f', refuse), /not said to be read/);
  });
});
