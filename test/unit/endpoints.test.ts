import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Endpoints,
  type PathKind,
  type PathProbe,
  resolveEndpoints,
} from '../../src/engine/endpoints.js';
import { BlitError } from '../../src/util/errors.js';

/**
 * An in-memory file system for the endpoint rules: absolute paths mapped to files, directories,
 * 'other' entries and symlinks (absolute targets). Everything not listed is missing.
 */
class FakeProbe implements PathProbe {
  private readonly nodes = new Map<
    string,
    { kind: 'file' | 'dir' | 'other' } | { kind: 'symlink'; to: string }
  >();

  constructor(spec: Record<string, 'file' | 'dir' | 'other' | `-> ${string}`>) {
    this.nodes.set('/', { kind: 'dir' });
    for (const [path, what] of Object.entries(spec)) {
      if (what.startsWith('-> ')) this.nodes.set(path, { kind: 'symlink', to: what.slice(3) });
      else this.nodes.set(path, { kind: what as 'file' | 'dir' | 'other' });
    }
  }

  kind(path: string, follow: boolean): PathKind {
    let node = this.nodes.get(this.canonicalParent(path));
    for (let hops = 0; follow && node?.kind === 'symlink'; hops++) {
      if (hops > 20) throw new Error('loop');
      node = this.nodes.get(this.canonical(node.to));
    }
    return node ? node.kind : 'missing';
  }

  /** `path` with the symlinks among its ancestors resolved (the last component left as is). */
  private canonicalParent(path: string): string {
    if (path === '/') return '/';
    const slash = path.lastIndexOf('/');
    const parent = slash === 0 ? '/' : this.canonical(path.slice(0, slash));
    return parent === '/' ? `/${path.slice(slash + 1)}` : `${parent}/${path.slice(slash + 1)}`;
  }

  canonical(path: string): string {
    let current = '/';
    for (const part of path.split('/').filter((p) => p !== '')) {
      const next = current === '/' ? `/${part}` : `${current}/${part}`;
      const node = this.nodes.get(next);
      current = node?.kind === 'symlink' ? this.canonical(node.to) : next;
    }
    return current;
  }
}

const fs = () =>
  new FakeProbe({
    '/t': 'dir',
    '/t/src': 'dir',
    '/t/src/sub': 'dir',
    '/t/src/a.txt': 'file',
    '/t/dst': 'dir',
    '/t/file.txt': 'file',
    '/t/fifo': 'other',
    '/t/link-to-src': '-> /t/src',
    '/t/link-to-file': '-> /t/file.txt',
    '/t/dst-with-src-file': 'dir',
    '/t/dst-with-src-file/src': 'file',
    '/t/dst-with-src-dir': 'dir',
    '/t/dst-with-src-dir/src': 'dir',
    '/t/src-alias': '-> /t/src',
  });

function resolved(src: string, dst: string): Endpoints {
  return resolveEndpoints(src, dst, fs());
}

function refused(src: string, dst: string, message: RegExp): void {
  assert.throws(
    () => resolved(src, dst),
    (error: unknown) => {
      assert.ok(error instanceof BlitError, `expected a BlitError, got ${String(error)}`);
      assert.match(error.message, message);
      return true;
    },
  );
}

describe('resolveEndpoints: trees (rsync trailing-slash rules)', () => {
  test('SRC/ copies the contents of SRC into an existing DST', () => {
    assert.deepEqual(resolved('/t/src/', '/t/dst'), {
      kind: 'tree',
      source: '/t/src',
      target: '/t/dst',
      contentsOnly: true,
      sourceInsideTarget: false,
    });
  });

  test('SRC/ copies the contents into a missing DST, which becomes the target', () => {
    assert.deepEqual(resolved('/t/src/', '/t/new'), {
      kind: 'tree',
      source: '/t/src',
      target: '/t/new',
      contentsOnly: true,
      sourceInsideTarget: false,
    });
  });

  test('SRC/ with DST/ still targets DST itself', () => {
    assert.equal(resolved('/t/src/', '/t/dst/').target, '/t/dst');
    assert.equal(resolved('/t/src//', '/t/new//').target, '/t/new');
  });

  test('SRC into an existing directory creates DST/basename(SRC)', () => {
    assert.deepEqual(resolved('/t/src', '/t/dst'), {
      kind: 'tree',
      source: '/t/src',
      target: '/t/dst/src',
      contentsOnly: false,
      sourceInsideTarget: false,
    });
  });

  test("SRC into a missing DST ending in '/' creates DST/basename(SRC)", () => {
    assert.equal(resolved('/t/src', '/t/new/').target, '/t/new/src');
  });

  test('SRC into a missing DST without a slash makes DST the exact target', () => {
    assert.deepEqual(resolved('/t/src', '/t/new'), {
      kind: 'tree',
      source: '/t/src',
      target: '/t/new',
      contentsOnly: false,
      sourceInsideTarget: false,
    });
  });

  test('SRC into a DST that already holds a directory of that name reuses it', () => {
    assert.equal(resolved('/t/src', '/t/dst-with-src-dir').target, '/t/dst-with-src-dir/src');
  });

  test('a DST that is a symlink to a directory counts as an existing directory', () => {
    const probe = new FakeProbe({ '/t': 'dir', '/t/src': 'dir', '/t/real': 'dir', '/t/ln': '-> /t/real' });
    assert.equal(resolveEndpoints('/t/src', '/t/ln', probe).target, '/t/ln/src');
  });

  test('a symlink to a directory given as SRC/ is followed and copied as a tree', () => {
    const e = resolved('/t/link-to-src/', '/t/new');
    assert.equal(e.kind, 'tree');
    assert.equal(e.contentsOnly, true);
    assert.equal(e.source, '/t/link-to-src');
  });

  test('relative paths are resolved against the working directory', () => {
    const cwd = process.cwd();
    const probe = new FakeProbe({ [cwd]: 'dir', [`${cwd}/s`]: 'dir' });
    const e = resolveEndpoints('s/', 'out', probe);
    assert.equal(e.source, `${cwd}/s`);
    assert.equal(e.target, `${cwd}/out`);
  });
});

describe('resolveEndpoints: single-file sources', () => {
  test('a file into an existing directory lands as DST/name', () => {
    assert.deepEqual(resolved('/t/file.txt', '/t/dst'), {
      kind: 'single',
      source: '/t/file.txt',
      target: '/t/dst/file.txt',
      contentsOnly: false,
      sourceInsideTarget: false,
    });
  });

  test('a file to a missing path is copied under exactly that name', () => {
    assert.deepEqual(resolved('/t/file.txt', '/t/copy.txt'), {
      kind: 'single',
      source: '/t/file.txt',
      target: '/t/copy.txt',
      contentsOnly: false,
      sourceInsideTarget: false,
    });
  });

  test('a file onto an existing file replaces it', () => {
    const e = resolved('/t/file.txt', '/t/src/a.txt');
    assert.equal(e.kind, 'single');
    assert.equal(e.target, '/t/src/a.txt');
  });

  test("a file to a missing DST ending in '/' lands inside it", () => {
    assert.equal(resolved('/t/file.txt', '/t/new/').target, '/t/new/file.txt');
  });

  test('a symlink source (no trailing slash) is a single entry, not followed', () => {
    const e = resolved('/t/link-to-src', '/t/dst');
    assert.equal(e.kind, 'single');
    assert.equal(e.source, '/t/link-to-src');
    assert.equal(e.target, '/t/dst/link-to-src');
  });

  test('a symlink to a file into a directory is a single entry', () => {
    assert.equal(resolved('/t/link-to-file', '/t/dst').kind, 'single');
  });

  test("a file onto an existing file given with a trailing '/' is refused", () => {
    refused('/t/file.txt', '/t/src/a.txt/', /not a directory/);
  });

  // 'SRC/' means "the contents of directory SRC"; a file has none (rsync and cp refuse it too).
  test('a source below the target is flagged, so a mirror can refuse to delete its own source', () => {
    assert.equal(resolved('/t/src/', '/t').sourceInsideTarget, true);
    assert.equal(resolved('/t/src/', '/t/dst').sourceInsideTarget, false);
  });

  test("a file given with a trailing '/' is refused as not a directory", () => {
    refused('/t/file.txt/', '/t/dst', /file\.txt.*not a directory/);
    refused('/t/link-to-file/', '/t/new', /not a directory/);
  });

  test('a file into a path whose parent is a file is refused', () => {
    refused('/t/file.txt', '/t/file.txt/x', /not a directory/);
  });
});

describe('resolveEndpoints: refusals', () => {
  test('an empty SRC or DST', () => {
    refused('', '/t/dst', /source path is empty/);
    refused('/t/src', '', /destination path is empty/);
  });

  test('a missing SRC names the path', () => {
    refused('/t/nope', '/t/dst', /\/t\/nope: no such file or directory/);
    refused('/t/nope/', '/t/dst', /no such file or directory/);
  });

  test('a SRC that is neither file, directory nor symlink', () => {
    refused('/t/fifo', '/t/dst', /not a regular file, directory or symbolic link/);
  });

  test('SRC == DST for a tree (contents onto itself)', () => {
    refused('/t/src/', '/t/src', /same/);
    refused('/t/src/', '/t/src/', /same/);
  });

  test('SRC == DST through a symlinked DST', () => {
    refused('/t/src/', '/t/src-alias', /same/);
  });

  test('SRC == DST for a single file', () => {
    refused('/t/file.txt', '/t/file.txt', /same/);
  });

  test('SRC == DST when the target is SRC reached through its parent', () => {
    // `copy /t/src /t` would write /t/src onto itself.
    refused('/t/src', '/t', /same/);
  });

  test('DST inside SRC', () => {
    refused('/t/src/', '/t/src/sub', /inside the source/);
    refused('/t/src/', '/t/src/sub/deeper/new', /inside the source/);
    // SRC into an existing directory SRC creates SRC/SRC: still inside.
    refused('/t/src', '/t/src', /inside the source/);
  });

  test('DST inside SRC through a symlink', () => {
    refused('/t/src/', '/t/src-alias/sub', /inside the source/);
    const probe = new FakeProbe({ '/t': 'dir', '/t/src': 'dir', '/t/out': '-> /t/src/inner' });
    assert.throws(() => resolveEndpoints('/t/src/', '/t/out', probe), /inside the source/);
  });

  test('a sibling whose name starts with SRC is not inside SRC', () => {
    const e = resolved('/t/src/', '/t/src2');
    assert.equal(e.target, '/t/src2');
  });

  test('the root directory as a tree source is refused (every DST lies inside it)', () => {
    refused('/', '/t/dst', /inside the source/);
  });

  test("'/' without a slash has no basename to create inside DST", () => {
    // '/' always ends in '/', so it is a contents copy; either refusal is fine, copying is not.
    assert.throws(() => resolved('/', '/t/dst/'), BlitError);
  });

  test('DST an existing file for a tree', () => {
    refused('/t/src/', '/t/file.txt', /destination exists and is not a directory/);
    refused('/t/src', '/t/file.txt', /destination exists and is not a directory/);
  });

  test('DST/basename(SRC) an existing file for a tree', () => {
    refused(
      '/t/src',
      '/t/dst-with-src-file',
      /dst-with-src-file\/src: destination exists and is not a directory/,
    );
  });

  test('a tree into a path whose parent is a file', () => {
    refused('/t/src/', '/t/file.txt/x', /not a directory/);
  });
});
