/** `blit diagnostics dump`'s pure parts: the open-files limit read from /proc/self/limits. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseOpenFilesLimit } from '../../src/cli/diagnostics-dump-command.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max processes             63541                63541                processes
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

test('the open-files limit: soft and hard, as /proc/self/limits writes them', () => {
  assert.deepEqual(parseOpenFilesLimit(LIMITS), { soft: '1024', hard: '524288' });
  assert.deepEqual(
    parseOpenFilesLimit('Max open files            unlimited            unlimited            files\n'),
    { soft: 'unlimited', hard: 'unlimited' },
  );
  assert.equal(parseOpenFilesLimit('Max processes 10 10 processes\n'), undefined);
  assert.equal(parseOpenFilesLimit(''), undefined);
});
