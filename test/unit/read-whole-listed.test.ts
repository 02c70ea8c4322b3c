/**
 * readWholeListed (fsops/read-listed.ts): a small file opened, checked, read, checked again and
 * closed in one addon call, as the sending side's batches take it (transport/stream/source-side.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
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

/** What readWholeListed answered, errors by their code, with the bytes it read. */
function readWhole(path: string, listed: Listed): { kind: string; code?: string; bytes: Buffer } {
  const into = Buffer.alloc(Number(listed.size));
  const answer = readWholeListed(path, into, listed) as WholeRead;
  assert.ok(answer !== undefined, 'the addon answers');
  return 'error' in answer
    ? { kind: answer.kind, code: answer.error.code, bytes: into }
    : { kind: answer.kind, bytes: into };
}

test('with the addon: read when as listed; not as listed, or the open refused, without reading', (t) => {
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

  // The open's own errors: a missing file, and a link in the file's place (never followed).
  assert.deepEqual((({ kind, code }) => ({ kind, code }))(readWhole(join(dir, 'missing'), listed)), {
    kind: 'open-failed',
    code: 'ENOENT',
  });
  const link = join(dir, 'link');
  symlinkSync(dense, link);
  assert.deepEqual((({ kind, code }) => ({ kind, code }))(readWhole(link, listed)), {
    kind: 'open-failed',
    code: 'ELOOP',
  });

  assert.throws(() => readWholeListed(dense, Buffer.alloc(10), listed), RangeError);
});

test('with the addon: a file that changes once read is reported changed, not read', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'changes');
  writeFileSync(file, randomBytes(3_000));
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
