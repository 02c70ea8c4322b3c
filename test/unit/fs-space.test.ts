/** df's figures from statfs(2) fields (fsops/fs-space.ts) and its use percentage (df-command.ts), as df(1) counts them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { usePercent } from '../../src/cli/df-command.js';
import { spaceFromStatfs } from '../../src/fsops/fs-space.js';

test('used is blocks minus free blocks; free is what an unprivileged writer may use', () => {
  const space = spaceFromStatfs({
    bsize: 4096n,
    blocks: 1000n,
    bfree: 300n,
    bavail: 250n,
    files: 500n,
    ffree: 120n,
  });
  assert.deepEqual(space, {
    totalBytes: 4_096_000n,
    usedBytes: 700n * 4096n,
    freeBytes: 250n * 4096n,
    totalInodes: 500n,
    usedInodes: 380n,
    freeInodes: 120n,
  });
});

test('a file system that reports no inodes (or more free than total) gives no negative figures', () => {
  const space = spaceFromStatfs({ bsize: 512n, blocks: 0n, bfree: 0n, bavail: 0n, files: 0n, ffree: 5n });
  assert.equal(space.usedInodes, 0n);
  assert.equal(space.usedBytes, 0n);
});

test('use% is used over used + free, rounded up, as df(1) prints it', () => {
  assert.equal(usePercent(700n, 250n), '74%'); // 73.68… rounds up
  assert.equal(usePercent(1n, 999n), '1%');
  assert.equal(usePercent(0n, 10n), '0%');
  assert.equal(usePercent(10n, 0n), '100%');
  assert.equal(usePercent(0n, 0n), '-');
});
