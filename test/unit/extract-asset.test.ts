import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { assetCacheDir, extractToCache } from '../../src/sea/extract-asset.js';
import { IS_ROOT, NOBODY, tempDir } from '../helpers.js';

const BYTES = new Uint8Array(Buffer.from('an addon, as far as this test is concerned\n'));

test('the cache is $XDG_CACHE_HOME/blit, else ~/.cache/blit (a relative XDG_CACHE_HOME is ignored)', () => {
  assert.equal(assetCacheDir({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' }), '/x/cache/blit');
  assert.equal(assetCacheDir({ XDG_CACHE_HOME: 'rel', HOME: '/home/u' }), '/home/u/.cache/blit');
  assert.equal(assetCacheDir({ HOME: '/home/u' }), '/home/u/.cache/blit');
});

test('the first extraction writes the bytes under their hash in a 0700 directory, with no temp file left', (t) => {
  const dir = join(tempDir(t), 'cache', 'blit');
  const path = extractToCache(dir, 'blit_native.node', BYTES);
  assert.match(path, new RegExp(`^${dir}/[0-9a-f]{32}-blit_native\\.node$`));
  assert.deepEqual(new Uint8Array(readFileSync(path)), BYTES);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.deepEqual(readdirSync(dir), [path.slice(dir.length + 1)]);
});

test('an identical copy is reused as it is; other contents get another name', (t) => {
  const dir = tempDir(t);
  const path = extractToCache(dir, 'a.node', BYTES);
  const before = statSync(path);
  assert.equal(extractToCache(dir, 'a.node', BYTES), path);
  const after = statSync(path);
  assert.equal(after.ino, before.ino, 'not rewritten');
  const other = extractToCache(dir, 'a.node', new Uint8Array(Buffer.from('another build\n')));
  assert.notEqual(other, path);
  assert.deepEqual(new Uint8Array(readFileSync(path)), BYTES);
});

test('a copy that differs from the embedded bytes (truncated, altered) is replaced before use', (t) => {
  const dir = tempDir(t);
  const path = extractToCache(dir, 'a.node', BYTES);
  writeFileSync(path, 'tampered');
  assert.equal(extractToCache(dir, 'a.node', BYTES), path);
  assert.deepEqual(new Uint8Array(readFileSync(path)), BYTES);
});

test('a cache directory of ours that others could write to is made 0700', (t) => {
  const dir = join(tempDir(t), 'loose');
  mkdirSync(dir);
  chmodSync(dir, 0o777);
  extractToCache(dir, 'a.node', BYTES);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
});

test('a cache path that is not a directory, or a directory of another user, is refused', (t) => {
  const root = tempDir(t);
  const file = join(root, 'file');
  writeFileSync(file, '');
  assert.throws(() => extractToCache(join(file, 'blit'), 'a.node', BYTES), /ENOTDIR|EEXIST/);
  if (!IS_ROOT) return;
  const theirs = join(root, 'theirs');
  mkdirSync(theirs, { mode: 0o700 });
  chownSync(theirs, NOBODY, NOBODY);
  assert.throws(() => extractToCache(theirs, 'a.node', BYTES), /theirs belongs to another user/);
  assert.deepEqual(readdirSync(theirs), []);
});
