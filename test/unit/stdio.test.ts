/**
 * cli/stdio.ts: which descriptors count as a terminal, without one at hand; when Node's stdio
 * streams made so far let a run end without Node's exit (cli/exit-now.ts).
 */
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { flushed, isTerminal } from '../../src/cli/stdio.js';
import { tempDir } from '../helpers.js';

test('/dev/null, a regular file, a directory and a closed descriptor are not terminals', (t) => {
  const fds = [
    openSync('/dev/null', 'w'),
    openSync(join(tempDir(t), 'file'), 'w'),
    openSync(tempDir(t), 'r'),
    openSync('/dev/zero', 'r'),
  ];
  try {
    for (const fd of fds) assert.equal(isTerminal(fd), false, String(fd));
  } finally {
    for (const fd of fds) closeSync(fd);
  }
  assert.equal(isTerminal(fds[0]!), false, 'closed');
});

test('a run may end at once when no stdin stream was made and no stream made holds writes still to go', () => {
  const quiet = { writableLength: 0, writableNeedDrain: false };
  const streams =
    (of: Record<string, { writableLength: number; writableNeedDrain: boolean }>) => (name: string) =>
      of[name] ?? quiet;
  assert.equal(flushed([], streams({})), true, 'no stream made');
  assert.equal(flushed(['stdout', 'stderr'], streams({})), true, 'streams made, everything written');
  assert.equal(flushed(['stderr', 'stdin'], streams({})), false, 'a stdin stream (a question asked)');
  assert.equal(
    flushed(['stdout', 'stderr'], streams({ stderr: { writableLength: 512, writableNeedDrain: false } })),
    false,
    'bytes queued for a slow reader',
  );
  assert.equal(
    flushed(['stdout'], streams({ stdout: { writableLength: 0, writableNeedDrain: true } })),
    false,
    'a write still waiting for the pipe to drain',
  );
});
