/**
 * A daemon destination's directories made beneath its module (fsops/beneath-destination-fs.ts
 * makeDirs): in a parent that is there at once, with any missing ancestors otherwise; an existing
 * directory is fine; a name taken by a file, or by a link (even to a directory inside), fails, and
 * nothing is ever made through a link to the outside.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BeneathRoot } from '../../src/fsops/beneath.js';
import { BeneathDestinationFs } from '../../src/fsops/beneath-destination-fs.js';
import { nativeAddon } from '../../src/fsops/native.js';
import { tempDir } from '../helpers.js';

const skip = !nativeAddon() ? 'the native addon is not built' : false;

/** The destination `dst` of the module at `module`, as blitd opens it; closed after the test. */
function destinationIn(t: { after(fn: () => void): void }, module: string): BeneathDestinationFs {
  const root = BeneathRoot.open(module)!;
  t.after(() => root.close());
  const fs = BeneathDestinationFs.open(root, 'dst')!;
  t.after(() => fs.close());
  return fs;
}

test('makeDirs makes a directory in its parent, or with its missing ancestors; an existing one is fine', {
  skip,
}, (t) => {
  const module = tempDir(t);
  mkdirSync(join(module, 'dst'));
  const fs = destinationIn(t, module);
  fs.makeDirs('a');
  fs.makeDirs('a/b');
  fs.makeDirs('x/y/z');
  fs.makeDirs('a/b');
  assert.ok(lstatSync(join(module, 'dst/a/b')).isDirectory());
  assert.ok(lstatSync(join(module, 'dst/x/y/z')).isDirectory());
  // Its parent pinned by an earlier lookup, then removed by someone else: made again with it.
  fs.makeDirs('gone');
  fs.pathOf('gone/child');
  rmSync(join(module, 'dst/gone'), { recursive: true });
  fs.makeDirs('gone/child');
  assert.ok(lstatSync(join(module, 'dst/gone/child')).isDirectory());
});

test('makeDirs fails on a name taken by a file or a link, and makes nothing through a link', {
  skip,
}, (t) => {
  const module = tempDir(t);
  const outside = tempDir(t);
  mkdirSync(join(module, 'dst/inside'), { recursive: true });
  writeFileSync(join(module, 'dst/file'), 'x');
  symlinkSync(outside, join(module, 'dst/out'));
  symlinkSync(join(module, 'dst/inside'), join(module, 'dst/in'));
  const fs = destinationIn(t, module);
  assert.throws(() => fs.makeDirs('file'));
  assert.throws(() => fs.makeDirs('file/sub'));
  assert.throws(() => fs.makeDirs('out'));
  assert.throws(() => fs.makeDirs('out/sub'));
  assert.throws(() => fs.makeDirs('in'));
  assert.deepEqual(readdirSync(outside), [], 'nothing made outside the module');
  assert.ok(!existsSync(join(module, 'dst/inside/sub')));
  assert.ok(lstatSync(join(module, 'dst/out')).isSymbolicLink());
});

test('a directory replaced by another (a staging directory put in its place) is not reached through its old descriptor', {
  skip,
}, (t) => {
  const module = tempDir(t);
  mkdirSync(join(module, 'dst/d/sub'), { recursive: true });
  const fs = destinationIn(t, module);
  // d and d/sub pinned by earlier lookups; then another directory takes d's name.
  fs.pathOf('d/x');
  fs.pathOf('d/sub/x');
  renameSync(join(module, 'dst/d'), join(module, 'dst/old'));
  mkdirSync(join(module, 'dst/d/sub'), { recursive: true });
  fs.replaced('d');
  writeFileSync(fs.pathOf('d/x'), 'new');
  writeFileSync(fs.pathOf('d/sub/x'), 'new');
  assert.deepEqual(readdirSync(join(module, 'dst/d')).sort(), ['sub', 'x']);
  assert.deepEqual(readdirSync(join(module, 'dst/d/sub')), ['x']);
  assert.deepEqual(readdirSync(join(module, 'dst/old/sub')), [], 'nothing went to the one replaced');
});
