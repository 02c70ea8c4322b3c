/**
 * Wiring for blit's single executables (dist/sea/blit and blitd, built by scripts/build-sea.mjs,
 * which bundles this module ahead of each entry point and worker). A binary has no files beside
 * it, so it takes from its embedded assets (node:sea) what the ordinary build finds on disk: the
 * native addon (written once to the per-user cache, see extract-asset.ts), the worker scripts, and
 * hash-wasm, bundled inside. The native BLAKE3 (@napi-rs/blake-hash) is not embedded: hashing
 * without the addon uses hash-wasm. Run as plain Node (the bundle outside its binary) it changes
 * nothing.
 */
import { getAsset, getRawAsset, isSea } from 'node:sea';
import { useBlake3Modules } from '../fsops/hash.js';
import { useEmbeddedAddon } from '../fsops/native.js';
import { useEmbeddedWorkers } from '../util/start-worker.js';
import { assetCacheDir, extractToCache } from './extract-asset.js';

/** The asset names scripts/build-sea.mjs gives the addon and the workers (`NAME.js`). */
export const ADDON_ASSET = 'blit_native.node';

if (isSea()) {
  useEmbeddedAddon(() => {
    let bytes: ArrayBuffer;
    try {
      bytes = getRawAsset(ADDON_ASSET) as ArrayBuffer;
    } catch {
      return undefined; // built without the addon
    }
    return extractToCache(assetCacheDir(), ADDON_ASSET, new Uint8Array(bytes));
  });
  useEmbeddedWorkers((name) => getAsset(`${name}.js`, 'utf8'));
  useBlake3Modules({
    native: () => undefined,
    // Bundled by esbuild (a require it can see): BLAKE3 alone, not every hash-wasm algorithm.
    wasm: () => require('hash-wasm/dist/blake3.umd.min.js'),
  });
}
