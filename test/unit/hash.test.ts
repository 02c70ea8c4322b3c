import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashFileSync, loadNativeBlake3, loadWasmBlake3 } from '../../src/fsops/hash.js';
import { tempDir } from '../helpers.js';

// The BLAKE3 reference digest of "abc".
const ABC = '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85';

test('native and WebAssembly BLAKE3 agree with the reference and with each other on files', async (t) => {
  const native = loadNativeBlake3();
  assert.ok(native, 'the native BLAKE3 loads on this platform');
  const wasm = await loadWasmBlake3();
  const dir = tempDir(t);
  const abc = join(dir, 'abc');
  writeFileSync(abc, 'abc');
  // Larger than the scratch buffer, so the incremental path is used; odd length on purpose.
  const big = join(dir, 'big');
  writeFileSync(big, Buffer.from(Array.from({ length: 3 * 65536 + 17 }, (_, i) => (i * 31) % 251)));
  const buffer = Buffer.alloc(65536);
  assert.equal(hashFileSync(abc, native, buffer), ABC);
  assert.equal(hashFileSync(abc, wasm, buffer), ABC);
  assert.equal(hashFileSync(big, native, buffer), hashFileSync(big, wasm, buffer));
  assert.notEqual(hashFileSync(big, wasm, buffer), ABC);
});
