// The loader's seam for a single executable (fsops/native.ts useEmbeddedAddon): the addon comes
// from the path the extraction returns, loaded with process.dlopen, and says so in its status.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nativeAddon, nativeStatus, useEmbeddedAddon } from '../../src/fsops/native.js';
import { extractToCache } from '../../src/sea/extract-asset.js';
import { tempDir } from '../helpers.js';

const ADDON = fileURLToPath(new URL('../../native/build/Release/blit_native.node', import.meta.url));

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
