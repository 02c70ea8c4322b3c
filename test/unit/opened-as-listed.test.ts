/**
 * openedAsListed (fsops/read-listed.ts): what a file opened to be sent is, through the addon and
 * through the pure-JS path, which must answer alike.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers.js';

const READ_LISTED = fileURLToPath(new URL('../../src/fsops/read-listed.ts', import.meta.url));
const NATIVE = fileURLToPath(new URL('../../src/fsops/native.ts', import.meta.url));

/** Each case: a path, what it is listed with, and openedAsListed's answer; run in a child process. */
const PROBE = `
import { closeSync, constants, lstatSync, openSync } from 'node:fs';
import { openedAsListed } from ${JSON.stringify(READ_LISTED)};
import { nativeStatus } from ${JSON.stringify(NATIVE)};
const cases = JSON.parse(process.argv[process.argv.length - 1]);
const answers = cases.map(({ path, size, mtimeNs, closed }) => {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  const stats = lstatSync(path, { bigint: true });
  const listed = { size: BigInt(size ?? stats.size), mtimeNs: BigInt(mtimeNs ?? stats.mtimeNs) };
  if (closed) closeSync(fd);
  try {
    return openedAsListed(fd, listed);
  } catch (error) {
    return error.code;
  }
});
process.stdout.write(JSON.stringify({ path: nativeStatus(), answers }));
`;

test('as listed, sparse, another size or mtime, not a regular file: alike with and without the addon', (t) => {
  const dir = tempDir(t);
  const dense = join(dir, 'dense');
  // Random bytes: a file system that compresses could store a run of one byte in fewer blocks.
  writeFileSync(dense, randomBytes(10_000));
  const sparse = join(dir, 'sparse');
  writeFileSync(sparse, 'x');
  truncateSync(sparse, 64 << 20);
  const touched = join(dir, 'touched');
  writeFileSync(touched, 'abc');
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  utimesSync(touched, 1_600_000_000, 1_600_000_000);
  const cases = [
    { path: dense },
    { path: sparse },
    { path: dense, size: 9_999 },
    { path: touched, mtimeNs: String(1_600_000_000n * 1_000_000_000n + 1n) },
    { path: fifo, size: 0 },
    // A failed fstat is an error of its own, never an answer (the addon's errno + 1 undone).
    { path: dense, closed: true },
  ];
  const expected = ['dense', 'sparse', 'changed', 'changed', 'changed', 'EBADF'];
  for (const env of [{}, { BLIT_NO_NATIVE: '1' }]) {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', PROBE, JSON.stringify(cases)],
      {
        encoding: 'utf8',
        env: { ...process.env, ...env },
        timeout: 30_000,
      },
    );
    assert.equal(run.status, 0, run.stderr);
    const { path, answers } = JSON.parse(run.stdout) as { path: string; answers: string[] };
    assert.match(path, 'BLIT_NO_NATIVE' in env ? /^pure JS/ : /^native addon/);
    assert.deepEqual(answers, expected, path);
  }
});
