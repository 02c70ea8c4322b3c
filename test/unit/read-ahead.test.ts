import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NativeAddon } from '../../src/fsops/native.js';
import { ReadAhead, type UpcomingDir } from '../../src/fsops/read-ahead.js';

/** A fake addon that records what was read ahead. */
let clock = 0;

function recorder(): {
  addon: NativeAddon;
  requested: string[];
  requestedAt: Map<string, number>;
  dropped: number;
} {
  const state = {
    requested: [] as string[],
    requestedAt: new Map<string, number>(),
    dropped: 0,
    addon: undefined as unknown as NativeAddon,
  };
  state.addon = {
    readAhead: (paths: string[]) => {
      for (const path of paths) state.requestedAt.set(path, clock++);
      state.requested.push(...paths);
    },
    dropReadAhead: () => {
      state.dropped++;
    },
  } as unknown as NativeAddon;
  return state;
}

/** Walks a tree depth first as LocalSource does, telling the read-ahead as the session does. */
const visitedAt = new Map<string, number>();

function walk(tree: Record<string, string[]>, ahead: ReadAhead, visited: string[]): void {
  const stack = [''];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    visited.push(rel);
    visitedAt.set(rel, clock++);
    ahead.reached(rel);
    const children = (tree[rel] ?? []).map((name) => (rel ? `${rel}/${name}` : name));
    ahead.found(children.map((child): UpcomingDir => ({ rel: child, paths: [`src/${child}`] })));
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
}

describe('read-ahead window', () => {
  test('requests follow the walk: next directories first, each once, none after it was visited', () => {
    // a has a deep subtree; siblings b..j come after it.
    const tree: Record<string, string[]> = {
      '': ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'],
      a: ['a1', 'a2'],
      'a/a1': ['x', 'y'],
      'a/a1/x': ['deep'],
    };
    const fake = recorder();
    const ahead = new ReadAhead(fake.addon);
    const visited: string[] = [];
    walk(tree, ahead, visited);
    const order = fake.requested.map((path) => path.slice('src/'.length));
    assert.equal(new Set(order).size, order.length, 'no directory requested twice');
    assert.deepEqual([...order].sort(), visited.filter((rel) => rel !== '').sort(), 'every visited one');
    // Each directory is requested before the walk reaches it.
    for (const rel of order) {
      assert.ok(
        fake.requestedAt.get(`src/${rel}`)! < visitedAt.get(rel)!,
        `${rel} requested before its visit`,
      );
    }
    // The subtree of a is read ahead as the walk goes down, before the far siblings.
    assert.ok(order.indexOf('a/a1/x/deep') < order.indexOf('j'), 'depth first');
  });

  test('a window of 8 directories: a wide level is requested a few at a time', () => {
    const names = Array.from({ length: 40 }, (_, i) => `d${i}`);
    const fake = recorder();
    const ahead = new ReadAhead(fake.addon);
    ahead.reached('');
    ahead.found(names.map((rel) => ({ rel, paths: [`src/${rel}`, `dst/${rel}`] })));
    assert.equal(fake.requested.length, 16, '8 directories, both sides');
    ahead.reached('d0');
    ahead.found([]);
    assert.deepEqual(fake.requested.slice(16), ['src/d8', 'dst/d8']);
  });

  test('directories without paths keep their place but read nothing; close drops what was read', () => {
    const fake = recorder();
    const ahead = new ReadAhead(fake.addon);
    ahead.found([
      { rel: 'fresh', paths: [] },
      { rel: 'both', paths: ['src/both', 'dst/both'] },
    ]);
    assert.deepEqual(fake.requested, ['src/both', 'dst/both']);
    ahead.close();
    assert.equal(fake.dropped, 1);
    ahead.found([{ rel: 'later', paths: ['src/later'] }]);
    assert.deepEqual(fake.requested, ['src/both', 'dst/both'], 'nothing after close');
  });

  test('without the addon it does nothing', () => {
    const ahead = new ReadAhead(undefined);
    ahead.found([{ rel: 'a', paths: ['src/a'] }]);
    ahead.reached('a');
    ahead.close();
  });
});
