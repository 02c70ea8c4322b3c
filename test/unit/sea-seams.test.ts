// The seams a single executable plugs its embedded assets into (src/sea/setup.ts): the addon from
// the path its extraction returns (fsops/native.ts), workers from code rather than files
// (util/start-worker.ts), hash-wasm's BLAKE3 file alone in place of node_modules (fsops/hash.ts).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hashFileSync, loadBlake3, useBlake3Modules } from '../../src/fsops/hash.js';
import { nativeAddon, nativeStatus, useEmbeddedAddon } from '../../src/fsops/native.js';
import { extractToCache } from '../../src/sea/extract-asset.js';
import { startWorker, useEmbeddedWorkers } from '../../src/util/start-worker.js';
import { tempDir } from '../helpers.js';

const ADDON = fileURLToPath(new URL('../../native/build/Release/blit_native.node', import.meta.url));
// The BLAKE3 reference digest of "abc".
const ABC = '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85';

test('an embedded addon is extracted, loaded from its cached copy and reported as embedded', (t) => {
  if (process.env.BLIT_NO_NATIVE === '1') return t.skip('BLIT_NO_NATIVE=1 turns the addon off');
  assert.ok(existsSync(ADDON), 'npm install builds the native addon');
  const cache = tempDir(t);
  let extracted: string | undefined;
  useEmbeddedAddon(() => {
    extracted = extractToCache(cache, 'blit_native.node', new Uint8Array(readFileSync(ADDON)));
    return extracted;
  });
  assert.equal(nativeStatus(), 'native addon (embedded)');
  assert.ok(extracted?.startsWith(cache));
  assert.equal(typeof nativeAddon()?.abiVersion, 'number');
});

test('embedded workers run their code as a CommonJS script, with require and workerData', async () => {
  const names: string[] = [];
  useEmbeddedWorkers((name) => {
    names.push(name);
    return "const { parentPort, workerData } = require('node:worker_threads'); parentPort.postMessage(workerData * 2);";
  });
  const worker = startWorker(import.meta.url, 'copy-worker', { workerData: 21 });
  const answer = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  assert.equal(answer, 42);
  assert.deepEqual(names, ['copy-worker']);
});

test("hash-wasm's BLAKE3 file alone, without the native hasher, hashes as the reference", async (t) => {
  let loads = 0;
  useBlake3Modules({
    native: () => undefined,
    wasm: () => {
      loads++;
      return createRequire(import.meta.url)('hash-wasm/dist/blake3.umd.min.js');
    },
  });
  const create = await loadBlake3();
  assert.equal(loads, 1, 'the module the seam gives is the one used');
  const file = join(tempDir(t), 'abc');
  writeFileSync(file, 'abc');
  assert.equal(hashFileSync(file, create, Buffer.alloc(65536)), ABC);
});
