/**
 * fsops/beneath.ts on real trees: resolution beneath a root (both resolvers: openat2, and the
 * O_NOFOLLOW walk under BLIT_NO_OPENAT2=1, must agree), removal through descriptors (a link
 * swapped in for a directory mid-removal is removed as a link), and the thin fd-relative writes.
 */
import assert from 'node:assert/strict';
import {
  closeSync,
  existsSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type BeneathDir, BeneathError, BeneathRoot } from '../../src/fsops/beneath.js';
import { kindOfMode } from '../../src/fsops/listing.js';
import type { RemovalFailure } from '../../src/fsops/remove-tree.js';
import { tempDir } from '../helpers.js';

type After = { after(fn: () => void): void };

function openRoot(t: After, path: string): BeneathRoot {
  const root = BeneathRoot.open(path);
  assert.ok(root, 'npm install builds the native addon');
  t.after(() => root.close());
  return root;
}

/** A module with links of every sort, and an outside directory beside it. */
function moduleTree(t: After): { base: string; module: string; outside: string } {
  const base = realpathSync(tempDir(t));
  const module = join(base, 'module');
  const outside = join(base, 'outside');
  mkdirSync(join(module, 'sub', 'deeper'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(module, 'sub', 'file'), 'x');
  writeFileSync(join(outside, 'secret'), 'secret');
  symlinkSync('sub', join(module, 'inner'));
  symlinkSync('inner/deeper/..', join(module, 'dots'));
  symlinkSync(join(module, 'sub'), join(module, 'absolute-inside'));
  symlinkSync(outside, join(module, 'absolute-outside'));
  symlinkSync('../outside', join(module, 'relative-outside'));
  symlinkSync('sub/../../module/sub', join(module, 'round-trip'));
  symlinkSync('nowhere', join(module, 'dangling'));
  symlinkSync('loop-b', join(module, 'loop-a'));
  symlinkSync('loop-a', join(module, 'loop-b'));
  symlinkSync('sub/file', join(module, 'to-file'));
  return { base, module, outside };
}

/** Where `rel` leads as a directory: its real path below the module, or the refusal (code@component). */
function outcome(root: BeneathRoot, module: string, rel: string): string {
  let dir: BeneathDir | undefined;
  try {
    dir = root.openDir(rel, true);
    const path = readlinkSync(`/proc/self/fd/${dir.fd}`);
    return path === module ? '.' : path.slice(module.length + 1);
  } catch (error) {
    assert.ok(error instanceof BeneathError, String(error));
    return `${error.code}@${error.depth}`;
  } finally {
    dir?.close();
  }
}

const CASES: [string, string][] = [
  ['', '.'],
  ['sub', 'sub'],
  ['inner', 'sub'],
  ['inner/deeper', 'sub/deeper'],
  ['dots', 'sub'],
  ['absolute-inside/deeper', 'sub/deeper'],
  ['absolute-outside', 'EXDEV@0'],
  ['relative-outside', 'EXDEV@0'],
  ['relative-outside/x', 'EXDEV@0'],
  // Out and back in is refused: the outside is never walked.
  ['round-trip', 'EXDEV@0'],
  ['sub/deeper/nope/x', 'ENOENT@2'],
  ['dangling', 'ENOENT@0'],
  ['loop-a', 'ELOOP@0'],
  ['sub/file', 'ENOTDIR@1'],
  ['sub/file/x', 'ENOTDIR@1'],
  ['to-file', 'ENOTDIR@0'],
];

for (const resolver of ['openat2', 'walk']) {
  describe(`resolution beneath a root (${resolver})`, () => {
    const withResolver = (fn: () => void) => {
      const before = process.env.BLIT_NO_OPENAT2;
      if (resolver === 'walk') process.env.BLIT_NO_OPENAT2 = '1';
      try {
        fn();
      } finally {
        if (before === undefined) delete process.env.BLIT_NO_OPENAT2;
        else process.env.BLIT_NO_OPENAT2 = before;
      }
    };

    test('follows links that stay inside; refuses escapes, naming the component', (t) => {
      const { module } = moduleTree(t);
      const root = openRoot(t, module);
      withResolver(() => {
        assert.deepEqual(
          CASES.map(([rel]) => [rel, outcome(root, module, rel)]),
          CASES,
        );
      });
    });

    test('the last link is kept when not followed', (t) => {
      const { module } = moduleTree(t);
      const root = openRoot(t, module);
      withResolver(() => {
        assert.throws(
          () => root.openDir('inner', false),
          (error: unknown) => {
            assert.ok(error instanceof BeneathError);
            assert.ok(['ELOOP', 'ENOTDIR'].includes(error.code), error.code);
            return true;
          },
        );
        assert.throws(() => root.openSubdir('inner'), BeneathError);
      });
    });
  });
}

test('no descriptor stays open: resolutions that succeed or fail, both resolvers, removals', async (t) => {
  const { module, outside } = moduleTree(t);
  mkdirSync(join(module, 'tree', 'a', 'b'), { recursive: true });
  writeFileSync(join(module, 'tree', 'a', 'b', 'f'), 'f');
  symlinkSync(outside, join(module, 'tree', 'a', 'escape'));
  const root = openRoot(t, module);
  // Descriptors opened meanwhile and still open; one that Node or the test runner closes meanwhile
  // (an earlier test's stream) is no leak of ours.
  const open = () => new Set(readdirSync('/proc/self/fd'));
  const before = open();
  const leaked = () => [...open()].filter((fd) => !before.has(fd));
  for (const walk of [false, true]) {
    if (walk) process.env.BLIT_NO_OPENAT2 = '1';
    try {
      for (const [rel] of CASES) outcome(root, module, rel);
    } finally {
      delete process.env.BLIT_NO_OPENAT2;
    }
  }
  await root.removeTree('tree', 'tree', [], async () => {}, 3);
  await root.removeTree('nothing', 'nothing', [], async () => {});
  assert.deepEqual(leaked(), []);
});

describe('listing through descriptors', () => {
  test('names as bytes, lstat of links and files, vanished entries as ENOENT', (t) => {
    const { module, outside } = moduleTree(t);
    const raw = Buffer.concat([Buffer.from(join(module, 'sub', 'bad')), Buffer.from([0xff])]);
    writeFileSync(raw, 'raw');
    const root = openRoot(t, module);
    const dir = root.openDir('inner', true);
    t.after(() => dir.close());
    const names = dir.readNames();
    assert.deepEqual(names.map((name) => name.toString('latin1')).sort(), ['bad\xff', 'deeper', 'file']);
    const [file, missing] = dir.lstat(['file', 'missing']);
    assert.ok(file && 'stats' in file);
    assert.equal(kindOfMode(file.stats.mode), 'file');
    assert.equal(file.stats.size, 1);
    assert.equal(file.stats.mtimeNs, lstatSync(join(module, 'sub', 'file'), { bigint: true }).mtimeNs);
    assert.ok(missing && 'error' in missing);
    assert.equal(missing.error.code, 'ENOENT');
    const link = root.lstatOne('absolute-outside');
    assert.equal(kindOfMode(link!.mode), 'symlink');
    assert.equal(link!.linkTarget!.toString(), outside);
    assert.equal(root.lstatOne('nothing-here'), undefined);
  });
});

describe('removal through descriptors', () => {
  test('removes a tree, links as links, and counts every entry', async (t) => {
    const { module, outside } = moduleTree(t);
    mkdirSync(join(module, 'tree', 'a', 'b'), { recursive: true });
    writeFileSync(join(module, 'tree', 'a', 'b', 'f'), 'f');
    writeFileSync(join(module, 'tree', 'g'), 'g');
    symlinkSync(outside, join(module, 'tree', 'a', 'escape'));
    const root = openRoot(t, module);
    const failures: RemovalFailure[] = [];
    let turns = 0;
    const removed = await root.removeTree(
      'tree',
      'tree',
      failures,
      async () => {
        turns++;
      },
      2,
    );
    assert.deepEqual(failures, []);
    assert.equal(removed, 6);
    assert.ok(turns > 0, 'small chunks give the event loop turns');
    assert.equal(existsSync(join(module, 'tree')), false);
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'secret');
    assert.equal(
      await root.removeTree('tree', 'tree', failures, async () => {}),
      0,
      'missing: nothing to do',
    );
  });

  test('a directory swapped for a link to the outside mid-removal loses the link, nothing outside', async (t) => {
    const { module, outside } = moduleTree(t);
    const tree = join(module, 'tree');
    mkdirSync(join(tree, 'victim'), { recursive: true });
    writeFileSync(join(tree, 'victim', 'inside'), 'i');
    const root = openRoot(t, module);
    const failures: RemovalFailure[] = [];
    // One unit per chunk: tree entered (1), `victim` read and noted as a directory (2), the end of
    // tree's entries (3), then `victim` entered; the swap comes after the second.
    let chunks = 0;
    const removed = await root.removeTree(
      'tree',
      'tree',
      failures,
      async () => {
        if (++chunks === 2) {
          renameSync(join(tree, 'victim'), join(module, 'moved-away'));
          symlinkSync(outside, join(tree, 'victim'));
        }
      },
      1,
    );
    assert.ok(chunks >= 2);
    assert.deepEqual(failures, []);
    assert.equal(removed, 2, 'the link and tree itself');
    assert.deepEqual(readdirSync(outside), ['secret']);
    assert.equal(readFileSync(join(module, 'moved-away', 'inside'), 'utf8'), 'i');
  });
});

describe('writes relative to a directory descriptor', () => {
  test('mkdir, a temp file never through a link, rename (no-replace, exchange), times, mode', (t) => {
    const { module, outside } = moduleTree(t);
    const root = openRoot(t, module);
    root.mkdir('new', 0o755);
    const dir = root.openDir('new', false);
    t.after(() => dir.close());

    const fd = dir.createFile('.tmp', 0o600);
    writeSync(fd, 'data');
    dir.chmodFd(fd, 0o640);
    dir.setTimesFd(fd, 1_600_000_000_123_456_789n);
    assert.equal(fstatSync(fd, { bigint: true }).mtimeNs, 1_600_000_000_123_456_789n);
    closeSync(fd);
    assert.equal(lstatSync(join(module, 'new', '.tmp')).mode & 0o777, 0o640);
    assert.throws(() => dir.createFile('.tmp', 0o600), { code: 'EEXIST' });

    dir.symlink(join(outside, 'planted'), 'trap');
    assert.throws(() => dir.createFile('trap', 0o600), { code: 'EEXIST' });
    assert.equal(existsSync(join(outside, 'planted')), false, 'nothing written through the link');
    assert.throws(() => dir.openFile('trap'), { code: 'ELOOP' });

    dir.rename('.tmp', dir, 'final');
    writeFileSync(join(module, 'new', 'other'), 'other');
    assert.throws(() => dir.rename('other', dir, 'final', 'noReplace'), { code: 'EEXIST' });
    dir.rename('other', dir, 'final', 'exchange');
    assert.equal(readFileSync(join(module, 'new', 'final'), 'utf8'), 'other');
    assert.equal(readFileSync(join(module, 'new', 'other'), 'utf8'), 'data');

    dir.unlink('trap');
    dir.unlink('other');
    dir.unlink('final');
    assert.deepEqual(readdirSync(join(module, 'new')), []);
    root.rmdir('new');
    assert.equal(existsSync(join(module, 'new')), false);
  });

  test('names are single components: a path would be resolved, links and all', (t) => {
    const { module } = moduleTree(t);
    const root = openRoot(t, module);
    assert.throws(() => root.createFile('../escape', 0o600), { code: 'EINVAL' });
    assert.throws(() => root.openSubdir('inner/deeper'), { code: 'EINVAL' });
    assert.throws(() => root.openFile('inner/file'), { code: 'EINVAL' });
    assert.throws(() => root.mkdir('inner/new', 0o755), { code: 'EINVAL' });
    assert.throws(() => root.unlink('inner/file'), { code: 'EINVAL' });
    assert.throws(() => root.rmdir('..'), { code: 'EINVAL' });
    assert.throws(() => root.rename('inner/file', root, 'moved'), { code: 'EINVAL' });
    assert.throws(() => root.symlink('x', 'inner/link'), { code: 'EINVAL' });
    const [nested] = root.lstat(['inner/file']);
    assert.ok(nested && 'error' in nested && nested.error.code === 'EINVAL');
    assert.equal(readFileSync(join(module, 'sub', 'file'), 'utf8'), 'x');
  });
});
