/** Which names one List page holds (the same for the descriptor path and the path-string one). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pageOfNames } from '../../src/daemon/list-page.js';
import { NOT_UTF8_NAME } from '../../src/fsops/listing.js';

const raw = (...names: string[]) => names.map((name) => Buffer.from(name));
const BAD = Buffer.from([0x62, 0xff]);

test('sorts, then pages after startAfter; nextStartAfter only while more follow', () => {
  const names = raw('c', 'a', 'e', 'b', 'd');
  assert.deepEqual(pageOfNames(names, 'dir', '', 2), {
    names: ['a', 'b'],
    problems: [],
    nextStartAfter: 'b',
  });
  assert.deepEqual(pageOfNames(names, 'dir', 'b', 2), {
    names: ['c', 'd'],
    problems: [],
    nextStartAfter: 'd',
  });
  assert.deepEqual(pageOfNames(names, 'dir', 'd', 2), { names: ['e'], problems: [], nextStartAfter: '' });
  assert.deepEqual(pageOfNames(names, 'dir', 'a', 4), {
    names: ['b', 'c', 'd', 'e'],
    problems: [],
    nextStartAfter: '',
  });
  // A name that vanished between pages: the page goes on after where it would be.
  assert.deepEqual(pageOfNames(raw('a', 'c'), '', 'b', 5).names, ['c']);
});

test('names that are not UTF-8 are never listed, and reported on the first page only', () => {
  const names = [...raw('a'), BAD];
  assert.deepEqual(pageOfNames(names, 'dir', '', 10), {
    names: ['a'],
    problems: [{ path: 'dir/b\\xff', reason: NOT_UTF8_NAME }],
    nextStartAfter: '',
  });
  assert.deepEqual(pageOfNames(names, '', 'a', 10).problems, []);
  assert.equal(pageOfNames([BAD], '', '', 10).problems[0]!.path, 'b\\xff');
});
