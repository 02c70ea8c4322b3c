import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { blit, tempDir } from '../helpers.js';
import { runBlit, startDaemon } from './daemon-harness.js';

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

test('a pull-mirror whose disk fills up stops with exit 1 and deletes nothing, on either data path', async (t) => {
  const root = tempDir(t);
  const module = join(root, 'module');
  mkdirSync(module);
  writeFileSync(join(module, 'big'), Buffer.alloc(2 << 20, 7));
  const daemon = await startDaemon(t, ['--root', module]);
  const paths: Record<string, string>[] = [{ BLIT_FORCE_GRPC_DATA: '1' }, {}];
  for (const env of paths) {
    const disk = join(root, `disk${Object.keys(env).length}`);
    mkdirSync(disk);
    if (!mountTinyDisk(disk)) {
      t.skip('cannot mount a tmpfs here (needs root); CI runs as root');
      return;
    }
    try {
      writeFileSync(join(disk, 'extra'), 'only here\n');
      const result = await runBlit(['mirror', '--yes', `127.0.0.1:${daemon.port}:/default/`, `${disk}/`], {
        env,
      });
      assert.equal(result.status, 1, `${JSON.stringify(env)}: ${result.stderr}`);
      assert.match(result.stderr, /no space left on device/);
      assert.deepEqual(readdirSync(disk), ['extra'], 'nothing deleted, no temp file left');
    } finally {
      spawnSync('umount', [disk]);
    }
  }
});
