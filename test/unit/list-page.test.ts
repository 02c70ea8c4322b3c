/** Which names one List page holds (the same for the descriptor path and the path-string one), and the cache of sorted names. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pageOfNames, sortNames } from '../../src/daemon/list-page.js';
import { CACHE_TTL_MS, MAX_CACHED_DIRS, NamesCache } from '../../src/daemon/names-cache.js';
import { NOT_UTF8_NAME } from '../../src/fsops/listing.js';

const raw = (...names: string[]) => sortNames(names.map((name) => Buffer.from(name)));
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

test('names that are not UTF-8 are never listed: each is a problem on the page where it sorts', () => {
  const names = sortNames([Buffer.from('a'), BAD, Buffer.from('c')]);
  assert.deepEqual(pageOfNames(names, 'dir', '', 10), {
    names: ['a', 'c'],
    problems: [{ path: 'dir/b\\xff', reason: NOT_UTF8_NAME }],
    nextStartAfter: '',
  });
  // Paged one at a time, it comes once, between a and c, and counts against the page size.
  const first = pageOfNames(names, 'dir', '', 1);
  const second = pageOfNames(names, 'dir', first.nextStartAfter, 1);
  const third = pageOfNames(names, 'dir', second.nextStartAfter, 1);
  assert.deepEqual([first.names, second.problems.length, third.names], [['a'], 1, ['c']]);
  assert.equal(third.nextStartAfter, '');
  // A UTF-8 name spelled like another name's escaped form is a different item.
  const lookalike = sortNames([BAD, Buffer.from('b\\xff')]);
  const page = pageOfNames(lookalike, '', '', 1);
  assert.deepEqual(page.names, ['b\\xff']);
  assert.equal(pageOfNames(lookalike, '', page.nextStartAfter, 1).problems.length, 1);
});

test('a directory of 6,000 names that are not UTF-8 pages within the page size, each reported once', () => {
  const names = sortNames(
    Array.from({ length: 6000 }, (_, i) => Buffer.concat([Buffer.from(`n${i}`), Buffer.of(0xff)])),
  );
  const seen = new Set<string>();
  let startAfter = '';
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 10, 'paging ends');
    const page = pageOfNames(names, '', startAfter, 1000);
    assert.ok(page.names.length + page.problems.length <= 1000);
    for (const problem of page.problems) {
      assert.ok(!seen.has(problem.path), `${problem.path} reported twice`);
      seen.add(problem.path);
    }
    if (page.nextStartAfter === '') break;
    startAfter = page.nextStartAfter;
  }
  assert.equal(seen.size, 6000);
});

test('sorted names are read once per directory state, within bounds and for a while', () => {
  let clock = 0;
  const cache = new NamesCache(() => clock);
  let reads = 0;
  const read = () => {
    reads++;
    return [Buffer.from('b'), Buffer.from('a')];
  };
  const dir = { dev: 1n, ino: 2n, mtimeNs: 3n, ctimeNs: 4n };
  assert.deepEqual(cache.sorted('m', dir, read).keys, ['a', 'b']);
  cache.sorted('m', dir, read);
  assert.equal(reads, 1);
  // Changed (an entry added or removed changes its times), another module, or stale: read again.
  cache.sorted('m', { ...dir, mtimeNs: 5n }, read);
  cache.sorted('other', dir, read);
  assert.equal(reads, 3);
  clock += CACHE_TTL_MS + 1;
  cache.sorted('m', dir, read);
  assert.equal(reads, 4);
  for (let i = 0; i < MAX_CACHED_DIRS * 2; i++) cache.sorted('m', { ...dir, ino: BigInt(100 + i) }, read);
  assert.ok(cache.size <= MAX_CACHED_DIRS);
});
