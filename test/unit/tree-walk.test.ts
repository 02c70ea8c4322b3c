/**
 * The operator verbs' walk (tree-walk.ts) and du's sums (du-totals.ts) on an in-memory tree:
 * find(1)'s order whatever order listings come in, each directory left after its contents, the
 * read-ahead used and bounded, problems passed on, and du's per-directory sums and --max-depth.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type DuLine, DuTotals } from '../../src/cli/du-totals.js';
import { type TreeListing, type TreeSource, walkTree } from '../../src/cli/tree-walk.js';
import type { Entry } from '../../src/fsops/entry.js';

type Node = number | { [name: string]: Node } | 'link';

const file = (name: string, size: number): Entry => ({ name, kind: 'file', size, mtimeNs: 0n, mode: 0o644 });

/** A TreeSource over nested objects (numbers are file sizes), answering listings in reverse name order. */
function memorySource(tree: { [name: string]: Node }, options: { problems?: Record<string, string[]> } = {}) {
  const calls: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const pending: (() => void)[] = [];
  const source: TreeSource = {
    list(rel) {
      calls.push(rel);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      let node: Node = tree;
      for (const part of rel === '' ? [] : rel.split('/')) node = (node as Record<string, Node>)[part]!;
      const entries = Object.entries(node as Record<string, Node>)
        .map(([name, child]): Entry => {
          if (typeof child === 'number') return file(name, child);
          if (child === 'link')
            return { name, kind: 'symlink', size: 4, mtimeNs: 0n, mode: 0o777, linkTarget: 'x' };
          return { name, kind: 'dir', size: 4096, mtimeNs: 0n, mode: 0o755 };
        })
        .reverse();
      const listing: TreeListing = { entries, problems: options.problems?.[rel] ?? [] };
      // Answers arrive later, after other listings had a chance to start.
      return new Promise((resolve) => {
        pending.push(() => {
          inFlight--;
          resolve(listing);
        });
        setImmediate(() => pending.shift()?.());
      });
    },
  };
  return { source, calls, maxInFlight: () => maxInFlight };
}

const TREE = {
  b: { y: 2, deep: { z: 3 } },
  a: { x: 1, link: 'link' as const },
  'c.txt': 10,
  e: {},
  d: { d1: { f: 5 }, d2: { g: 6 }, d3: { h: 7 }, d4: { i: 8 } },
};

async function walk(source: TreeSource, readAhead?: number) {
  const events: string[] = [];
  await walkTree(
    source,
    {
      entry: (rel) => events.push(rel),
      leave: (rel) => events.push(`leave ${rel === '' ? '.' : rel}`),
      problem: (line) => events.push(`problem ${line}`),
    },
    readAhead,
  );
  return events;
}

describe('tree walk', () => {
  test("entries in find(1)'s order, names sorted, each directory left after its contents", async () => {
    const { source } = memorySource(TREE);
    assert.deepEqual(await walk(source), [
      'a',
      'a/link',
      'a/x',
      'leave a',
      'b',
      'b/deep',
      'b/deep/z',
      'leave b/deep',
      'b/y',
      'leave b',
      'c.txt',
      'd',
      'd/d1',
      'd/d1/f',
      'leave d/d1',
      'd/d2',
      'd/d2/g',
      'leave d/d2',
      'd/d3',
      'd/d3/h',
      'leave d/d3',
      'd/d4',
      'd/d4/i',
      'leave d/d4',
      'leave d',
      'e',
      'leave e',
      'leave .',
    ]);
  });

  test('listings are read ahead, never more than the bound at once, each directory once', async () => {
    for (const bound of [1, 2, 3, 8]) {
      const mem = memorySource(TREE);
      await walk(mem.source, bound);
      assert.ok(mem.maxInFlight() <= bound, `bound ${bound}: ${mem.maxInFlight()} in flight`);
      if (bound > 1) assert.ok(mem.maxInFlight() > 1, `bound ${bound}: nothing read ahead`);
      assert.deepEqual([...mem.calls].sort(), [
        '',
        'a',
        'b',
        'b/deep',
        'd',
        'd/d1',
        'd/d2',
        'd/d3',
        'd/d4',
        'e',
      ]);
    }
  });

  test("a directory's problems are passed on where it is listed", async () => {
    const { source } = memorySource(TREE, { problems: { b: ['b/\\xff: not UTF-8'] } });
    const events = await walk(source);
    assert.deepEqual(events.slice(events.indexOf('b'), events.indexOf('b') + 3), [
      'b',
      'problem b/\\xff: not UTF-8',
      'b/deep',
    ]);
  });

  test('a listing that fails ends the walk with its error', async () => {
    const source: TreeSource = {
      list: async (rel) => {
        if (rel === 'b') throw new Error('daemon gone');
        return {
          entries:
            rel === ''
              ? [
                  { ...file('a', 0), kind: 'dir' },
                  { ...file('b', 0), kind: 'dir' },
                ]
              : [],
          problems: [],
        };
      },
    };
    await assert.rejects(walk(source), /daemon gone/);
  });
});

describe('du totals', () => {
  async function du(maxDepth?: number): Promise<DuLine[]> {
    const lines: DuLine[] = [];
    const totals = new DuTotals((line) => lines.push({ ...line }), maxDepth);
    await walkTree(memorySource(TREE).source, {
      entry: (rel, entry) => totals.entry(rel, entry),
      leave: (rel) => totals.leave(rel),
      problem: () => undefined,
    });
    return lines;
  }

  test('each directory sums the regular files of its whole subtree; links add nothing', async () => {
    assert.deepEqual(await du(), [
      { rel: 'a', bytes: 1, files: 1 },
      { rel: 'b/deep', bytes: 3, files: 1 },
      { rel: 'b', bytes: 5, files: 2 },
      { rel: 'd/d1', bytes: 5, files: 1 },
      { rel: 'd/d2', bytes: 6, files: 1 },
      { rel: 'd/d3', bytes: 7, files: 1 },
      { rel: 'd/d4', bytes: 8, files: 1 },
      { rel: 'd', bytes: 26, files: 4 },
      { rel: 'e', bytes: 0, files: 0 },
      { rel: '', bytes: 42, files: 8 },
    ]);
  });

  test('--max-depth limits the lines, not the sums', async () => {
    assert.deepEqual(await du(0), [{ rel: '', bytes: 42, files: 8 }]);
    assert.deepEqual(
      (await du(1)).map((line) => line.rel),
      ['a', 'b', 'd', 'e', ''],
    );
    assert.equal((await du(1)).find((line) => line.rel === 'b')!.bytes, 5);
  });
});
