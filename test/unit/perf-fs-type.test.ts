import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fsTypeIn, fsTypeOf, parseMountInfo } from '../../src/perf/fs-type.js';

const MOUNTINFO = [
  '26 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
  '24 23 0:22 / /dev/shm rw,relatime - tmpfs tmpfs rw',
  '29 24 0:26 / /dev/shm rw,relatime - ramfs none rw', // mounted over the first: hides it
  '41 26 0:38 / /data rw,relatime shared:5 master:1 - xfs /dev/sdb rw', // optional fields before '-'
  '42 41 0:39 / /data/my\\040disk rw,relatime - btrfs /dev/sdc rw', // a space in the mount point
  '43 26 0:40 / /mnt/nfs rw - nfs4 server:/export rw',
  'garbage line',
  '',
].join('\n');

describe('filesystem type detection', () => {
  const mounts = parseMountInfo(MOUNTINFO);

  test('parses mount points (unescaping octal) and types, skipping malformed lines', () => {
    assert.deepEqual(
      mounts.map((m) => `${m.mountPoint}=${m.fsType}`),
      ['/=ext4', '/dev/shm=tmpfs', '/dev/shm=ramfs', '/data=xfs', '/data/my disk=btrfs', '/mnt/nfs=nfs4'],
    );
  });

  test('the longest mount-point prefix wins, on whole path components', () => {
    assert.equal(fsTypeIn(mounts, '/home/u/file'), 'ext4');
    assert.equal(fsTypeIn(mounts, '/data'), 'xfs');
    assert.equal(fsTypeIn(mounts, '/data/x/y'), 'xfs');
    assert.equal(fsTypeIn(mounts, '/database'), 'ext4', 'not a component of /data');
    assert.equal(fsTypeIn(mounts, '/data/my disk/a'), 'btrfs');
    assert.equal(fsTypeIn(mounts, '/mnt/nfs/share'), 'nfs4');
  });

  test('of two mounts on one point, the later one (on top) wins', () => {
    assert.equal(fsTypeIn(mounts, '/dev/shm/x'), 'ramfs');
  });

  test('no mounts: unknown', () => {
    assert.equal(fsTypeIn([], '/x'), 'unknown');
  });

  test('on this machine: real paths, and paths that do not exist yet (their nearest ancestor)', () => {
    if (!existsSync('/proc/self/mountinfo')) {
      assert.equal(fsTypeOf('/'), 'unknown');
      return;
    }
    const root = fsTypeOf('/');
    assert.notEqual(root, 'unknown');
    assert.equal(fsTypeOf('/no/such/dir/below/root'), root);
  });
});
