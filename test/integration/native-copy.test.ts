/**
 * The addon's batch copy counts as it goes: the stall detector's beat per 64 MiB chunk and the bytes
 * written (progress inside a huge file), not only once per file.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAddon } from '../../src/fsops/native.js';
import { tempDir, writeFile } from '../helpers.js';

const addon = nativeAddon();
const MIB = 1024 * 1024;

test('copyFiles adds every byte it writes and beats per chunk of a large file', (t) => {
  assert.ok(addon, 'npm install builds the native addon');
  const root = tempDir(t);
  const sizes = [3, 200 * MIB, 5000];
  const srcs = sizes.map((size, i) => {
    const path = join(root, `src${i}`);
    writeFile(path, Buffer.alloc(size, i + 1));
    return path;
  });
  const dsts = sizes.map((_, i) => join(root, `dst${i}`));
  const n = sizes.length;
  // The copy checks the source against what the scan saw: pass its real mtimes.
  const mtimes = srcs.map((path) => statSync(path, { bigint: true }).mtimeNs);
  const beat = new Int32Array(new SharedArrayBuffer(4));
  const written = new BigInt64Array(new SharedArrayBuffer(8));
  const result = addon.copyFiles(
    srcs,
    dsts,
    Float64Array.from(sizes),
    Float64Array.from(mtimes, (ns) => Number(ns / 1_000_000_000n)),
    Uint32Array.from(mtimes, (ns) => Number(ns % 1_000_000_000n)),
    new Uint32Array(n).fill(0o644),
    new Uint8Array(n),
    beat,
    written,
  );
  assert.equal(result.done, n);
  assert.deepEqual([...result.status], [0, 0, 0]);
  assert.equal(Number(written[0]), 200 * MIB + 5003);
  // 200 MiB is four kernel chunks (64+64+64+8), each beating, plus one beat per file.
  assert.ok(beat[0]! >= 4 + n, `beats: ${beat[0]}`);
  assert.equal(statSync(dsts[1]!).size, 200 * MIB);
  assert.equal(readFileSync(dsts[2]!)[4999], 3);
});
