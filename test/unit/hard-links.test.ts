import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HardLinkGroups } from '../../src/engine/hard-links.js';
import type { SourceEntry } from '../../src/engine/roles.js';
import { EntryKind } from '../../src/generated/blit.js';
import { LinkGroupIds, peerLinkKey } from '../../src/protocol/link-groups.js';
import { fromManifestEntry, toManifestBatches } from '../../src/protocol/manifest-wire.js';

describe('hard-link groups', () => {
  test('the first name of an inode leads; later names follow it, in any directory', () => {
    const groups = new HardLinkGroups<string>();
    assert.deepEqual(groups.classify('a/one', '1:7', 3), { role: 'leader' });
    assert.deepEqual(groups.classify('a/two', '1:7', 3), { role: 'follower', leader: 'a/one' });
    assert.deepEqual(groups.classify('b/three', '1:7', 3), { role: 'follower', leader: 'a/one' });
    assert.deepEqual(groups.classify('c/x', '1:8', 2), { role: 'leader' });
    assert.deepEqual(groups.classify('c/y', '1:8', 2), { role: 'follower', leader: 'c/x' });
  });

  test('the same inode on another device is another group', () => {
    const groups = new HardLinkGroups<string>();
    groups.classify('a', '1:7', 2);
    assert.deepEqual(groups.classify('b', '2:7', 2), { role: 'leader' });
  });

  test('a name listed again (a rescan) still leads its group', () => {
    const groups = new HardLinkGroups<string>();
    groups.classify('a', '1:7', 2);
    assert.deepEqual(groups.classify('a', '1:7', 2), { role: 'leader' });
  });

  test('files with one name, or no key, are not remembered', () => {
    const groups = new HardLinkGroups<string>(1);
    assert.deepEqual(groups.classify('a', '1:7', 1), { role: 'none' });
    assert.deepEqual(groups.classify('b', undefined, 2), { role: 'none' });
    assert.deepEqual(groups.classify('c', '1:7', undefined), { role: 'none' });
    // Nothing took the one group allowed.
    assert.deepEqual(groups.classify('d', '1:9', 2), { role: 'leader' });
  });

  test('past the cap, new groups are copied as separate files; known groups still link', () => {
    const groups = new HardLinkGroups<string>(2);
    groups.classify('a', 'k1', 2);
    groups.classify('b', 'k2', 2);
    assert.deepEqual(groups.classify('c', 'k3', 2), { role: 'over-cap' });
    assert.deepEqual(groups.classify('d', 'k3', 2), { role: 'over-cap' });
    assert.deepEqual(groups.classify('e', 'k1', 2), { role: 'follower', leader: 'a' });
  });

  test('followers of a failed leader are copied; the others linked; each taken once', () => {
    const groups = new HardLinkGroups<string>();
    groups.classify('a', 'k1', 2);
    groups.classify('b', 'k2', 2);
    groups.wait('a2', 'a', 'entry a2');
    groups.wait('b2', 'b', 'entry b2');
    groups.failed('b');
    // Not a leader: nothing changes.
    groups.failed('a2');
    assert.equal(groups.waiting, 2);
    const taken = groups.take();
    assert.deepEqual(taken.link, [{ rel: 'a2', leader: 'a', item: 'entry a2' }]);
    assert.deepEqual(taken.copy, [{ rel: 'b2', leader: 'b', item: 'entry b2' }]);
    assert.deepEqual(groups.take(), { link: [], copy: [] });
  });
});

describe('hard-link groups on the wire', () => {
  const file = (name: string, nlink: number, inode?: string): SourceEntry => ({
    name,
    kind: 'file',
    size: 1,
    mtimeNs: 0n,
    mode: 0o644,
    nlink,
    ...(inode ? { inode } : {}),
    verdict: { status: 'include', met: 0 },
  });

  test('ids number inodes 1, 2, … per session; no inode crosses the wire', () => {
    const ids = new LinkGroupIds();
    const [batch] = toManifestBatches(
      {
        rel: '',
        entries: [file('a', 2, '5:100'), file('b', 1), file('c', 2, '5:200'), file('d', 2, '5:100')],
        partial: false,
      },
      ids,
    );
    assert.deepEqual(
      batch!.entries.map((e) => e.entry!.linkGroup),
      [1n, 0n, 2n, 1n],
    );
    assert.equal(ids.idOf(undefined), 0n);
  });

  test("a peer's id becomes a key no local inode has, on files only", () => {
    const [batch] = toManifestBatches(
      { rel: '', entries: [file('a', 2, '5:100'), file('b', 2, '5:100')], partial: false },
      new LinkGroupIds(),
    );
    const a = fromManifestEntry(batch!.entries[0]!);
    assert.equal(a.inode, peerLinkKey(1n));
    assert.equal(a.nlink, 2);
    assert.notEqual(a.inode, '5:100');
    assert.equal(peerLinkKey(0n), undefined);
    // A directory that claims a group is no member of one.
    const wire = batch!.entries[0]!;
    const dir = fromManifestEntry({
      ...wire,
      entry: { ...wire.entry!, kind: EntryKind.ENTRY_KIND_DIRECTORY, name: 'd' },
    });
    assert.equal(dir.kind, 'dir');
    assert.equal(dir.inode, undefined);
  });
});
