/**
 * The main script of dist/sea/blit. It runs the CLI bundle (the asset `blit.cjs`) as a vm.Script
 * with the V8 code cache `blit.cjs.cache`, as bin/blit.js does for dist/blit.cjs: Node's own
 * `useCodeCache` holds only the compiled top level, while this cache, made by scripts/build-sea.mjs
 * with a first build of the binary after a real mirror (BLIT_SEA_WRITE_CODE_CACHE=/ABSOLUTE/FILE,
 * build use only; not bin/blit.js's BLIT_WRITE_CODE_CACHE=1, which would name a file `1` here), also holds the functions a transfer runs. V8 ignores a cache it does not accept (then blit
 * compiles as usual); a binary built without one compiles as usual too.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { wrap } from 'node:module';
import { getAsset } from 'node:sea';
import { Script } from 'node:vm';

const BUNDLE = 'blit.cjs';

let cachedData: Buffer | undefined;
try {
  cachedData = Buffer.from(getAsset('blit.cjs.cache'));
} catch {
  // Built without a cache: compile as usual.
}
const script = new Script(wrap(getAsset(BUNDLE, 'utf8')), { filename: BUNDLE, cachedData });
const cacheFile = process.env.BLIT_SEA_WRITE_CODE_CACHE;
if (cacheFile?.startsWith('/')) {
  // At build time, after a run: the cache then holds the functions a transfer compiled.
  process.on('exit', () => {
    writeFileSync(`${cacheFile}.tmp`, script.createCachedData());
    renameSync(`${cacheFile}.tmp`, cacheFile);
  });
}
// In the binary, __filename is the binary itself: the bundle sees the same.
script.runInThisContext()(exports, require, module, __filename, __dirname);
