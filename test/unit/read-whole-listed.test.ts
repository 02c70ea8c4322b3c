/**
 * readWholeListed (fsops/read-listed.ts): a small file opened, checked, read, checked again and
 * closed in one addon call, as the sending side's batches take it (transport/stream/source-side.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nativeAddon, nativeStatus } from '../../src/fsops/native.js';
import { type Listed, readWholeListed, type WholeRead } from '../../src/fsops/read-listed.js';
import { tempDir } from '../helpers.js';

function listedOf(path: string): Listed {
  const stats = lstatSync(path, { bigint: true });
  return { size: stats.size, mtimeNs: stats.mtimeNs };
}

/** What readWholeListed answered, with the bytes it read. */
function readWhole(path: string, listed: Listed): { kind: string; bytes: Buffer } {
  const into = Buffer.alloc(Number(listed.size));
  const answer = readWholeListed(path, into, listed) as WholeRead;
  assert.ok(answer !== undefined, 'the addon answers');
  return { kind: answer.kind, bytes: into };
}

// A FIFO opened without O_NONBLOCK would hang the open: the time-out fails the test instead.
test('with the addon: read when as listed; not as listed, or not opened, without reading', {
  timeout: 20_000,
}, (t) => {
  assert.match(nativeStatus(), /^native addon/);
  const dir = tempDir(t);
  const dense = join(dir, 'dense');
  const content = randomBytes(5_000);
  writeFileSync(dense, content);
  const listed = listedOf(dense);

  const read = readWhole(dense, listed);
  assert.equal(read.kind, 'read');
  assert.ok(read.bytes.equals(content));

  // Another size or mtime than listed: refused before any byte is read.
  const shorter = readWhole(dense, { size: listed.size - 1n, mtimeNs: listed.mtimeNs });
  assert.equal(shorter.kind, 'not-as-listed');
  assert.ok(shorter.bytes.equals(Buffer.alloc(4_999)));
  assert.equal(readWhole(dense, { size: listed.size, mtimeNs: listed.mtimeNs + 1n }).kind, 'not-as-listed');

  // Not a regular file: a FIFO (the open never blocks) and a directory are never read.
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  assert.equal(readWhole(fifo, { size: 0n, mtimeNs: listedOf(fifo).mtimeNs }).kind, 'not-as-listed');
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  assert.equal(readWhole(sub, { size: 0n, mtimeNs: listedOf(sub).mtimeNs }).kind, 'not-as-listed');

  // Not opened (the caller's own steps open it again and say why): a missing file, and a link in
  // the file's place (never followed, or its target's bytes would be read).
  assert.equal(readWhole(join(dir, 'missing'), listed).kind, 'not-opened');
  const link = join(dir, 'link');
  symlinkSync(dense, link);
  const viaLink = readWhole(link, listed);
  assert.equal(viaLink.kind, 'not-opened');
  assert.ok(viaLink.bytes.equals(Buffer.alloc(5_000)));

  assert.throws(() => readWholeListed(dense, Buffer.alloc(10), listed), RangeError);
});

test('with the addon: a file that changes once read is reported changed, not read', (t) => {
  assert.match(nativeStatus(), /^native addon/);
  const dir = tempDir(t);
  const file = join(dir, 'changes');
  writeFileSync(file, randomBytes(3_000));
  // Dated in the past: the hook's rewrite gives it a new mtime even where the clock's tick is
  // coarser than the time between the two writes.
  utimesSync(file, 1_600_000_000, 1_600_000_000);
  const listed = listedOf(file);
  // The test hook the copy threads use (util/faults.ts changeSource): the first byte is rewritten
  // after the read and before the check.
  nativeAddon()!.setChangeSource(file);
  const before = readFileSync(file);
  assert.equal(readWhole(file, listed).kind, 'changed');
  assert.notEqual(readFileSync(file)[0], before[0], 'the hook changed the file');
});

test('without the addon: undefined, the caller takes the steps one by one', () => {
  const readListed = fileURLToPath(new URL('../../src/fsops/read-listed.ts', import.meta.url));
  const probe = `
import { readWholeListed } from ${JSON.stringify(readListed)};
process.stdout.write(String(readWholeListed('/nonexistent', new Uint8Array(1), { size: 1n, mtimeNs: 0n })));
`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], {
    encoding: 'utf8',
    env: { ...process.env, BLIT_NO_NATIVE: '1' },
    timeout: 30_000,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, 'undefined');
});
