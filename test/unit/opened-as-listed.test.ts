/**
 * openedAsListed (fsops/read-listed.ts): what a file opened to be sent is, through the addon and
 * through the pure-JS path, which must answer alike.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers.js';

const READ_LISTED = fileURLToPath(new URL('../../src/fsops/read-listed.ts', import.meta.url));

/** Each case: a path, what it is listed with, and openedAsListed's answer; run in a child process. */
const PROBE = `
import { constants, lstatSync, openSync } from 'node:fs';
import { openedAsListed } from ${JSON.stringify(READ_LISTED)};
const cases = JSON.parse(process.argv[process.argv.length - 1]);
const answers = cases.map(({ path, size, mtimeNs }) => {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  const listed = { size: BigInt(size ?? lstatSync(path, { bigint: true }).size), mtimeNs: BigInt(mtimeNs ?? lstatSync(path, { bigint: true }).mtimeNs) };
  return openedAsListed(fd, listed);
});
process.stdout.write(JSON.stringify(answers));
`;

test('as listed, sparse, another size or mtime, not a regular file: alike with and without the addon', (t) => {
  const dir = tempDir(t);
  const dense = join(dir, 'dense');
  writeFileSync(dense, Buffer.alloc(10_000, 1));
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
  ];
  const expected = ['dense', 'sparse', 'changed', 'changed', 'changed'];
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
    assert.deepEqual(JSON.parse(run.stdout), expected, JSON.stringify(env));
  }
});
