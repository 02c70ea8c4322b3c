/** cli/stdio.ts: which descriptors count as a terminal, without one at hand. */
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isTerminal } from '../../src/cli/stdio.js';
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
