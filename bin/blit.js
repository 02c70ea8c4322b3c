#!/bin/sh
':' //; unset NODE_EXTRA_CA_CERTS; exec node -- "$0" "$@"
// The two lines above are read by sh and skipped by Node: the shell drops NODE_EXTRA_CA_CERTS and
// starts Node on this file. Node 20 parses the whole CA bundle at process start when that variable
// is set (38 ms of every run on a machine that sets it, docs/DECISIONS.md), and blit's TLS
// connections trust only the daemon's pinned certificate, never a CA bundle. `node bin/blit.js`
// works too, without that saving.
// Starts the bundled CLI (dist/blit.cjs) with the V8 code cache that `npm run build` made beside it,
// so a run deserialises compiled code instead of parsing and compiling ~450 kB of JavaScript. V8
// checks the cache against this Node and its flags and ignores it when they differ (then blit
// compiles as usual). CommonJS on purpose: Node 20 keeps no code cache for ES modules.
'use strict';
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { createRequire, wrap } = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

const dist = join(__dirname, '..', 'dist');
const file = join(dist, 'blit.cjs');
const cacheFile = join(dist, 'blit.cjs.cache');

let source;
try {
  source = readFileSync(file, 'utf8');
} catch (error) {
  process.stderr.write(
    `blit: cannot read ${file} (${error.code}); run \`npm install\` (or \`npm run build\`)\n`,
  );
  process.exit(1);
}
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  // No cache (not built yet, or removed): compile as usual.
}
// No import() inside: scripts/build.mjs refuses a bundle that would need one.
const script = new Script(wrap(source), { filename: file, cachedData });
if (process.env.BLIT_WRITE_CODE_CACHE === '1') {
  // At build time, after a run: the cache then holds the functions a transfer compiled, not only
  // the top level.
  process.on('exit', () => {
    const temp = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(temp, script.createCachedData());
    renameSync(temp, cacheFile);
  });
}
script.runInThisContext()({}, createRequire(file), { exports: {} }, file, dist);
