import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { blit, tempDir } from '../helpers.js';

/** Mounts a 1 MiB tmpfs at `dir`; false where this user may not mount. */
function mountTinyDisk(dir: string): boolean {
  return spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]).status === 0;
}

test('disk full stops the run with exit 1 and leaves no temp or partial files', (t) => {
  const root = tempDir(t);
  const src = join(root, 'src');
  const disk = join(root, 'disk');
  mkdirSync(src);
  mkdirSync(disk);
  if (!mountTinyDisk(disk)) {
    t.skip('cannot mount a tmpfs here (needs root); CI runs as root');
    return;
  }
  try {
    fillUp(src, disk);
  } finally {
    spawnSync('umount', [disk]);
  }
});

function fillUp(src: string, disk: string): void {
  for (let i = 0; i < 12; i++) writeFileSync(join(src, `f${i}`), Buffer.alloc(256 * 1024, i));

  const result = blit(['copy', `${src}/`, `${disk}/out/`]);

  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /^blit: .*: cannot write: no space left on device\n$/);
  assert.equal(result.stderr.trim().split('\n').length, 1, `one line expected: ${result.stderr}`);
  const left = readdirSync(join(disk, 'out'));
  assert.deepEqual(
    left.filter((name) => name.startsWith('.blit-')),
    [],
    'temp files removed',
  );
  for (const name of left) {
    // Every file that landed is complete.
    const size = spawnSync('stat', ['-c', '%s', join(disk, 'out', name)], { encoding: 'utf8' }).stdout.trim();
    assert.equal(Number(size), 256 * 1024, `${name} is complete`);
  }
  assert.ok(left.length < 12, 'the disk could not hold everything');
}
