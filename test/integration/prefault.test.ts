/**
 * native/prefault.cc: as the addon loads, the process's imports of mprotect are routed through a
 * function that makes a region of V8's heap present in one step once V8 has made it writable, and
 * BLIT_NO_PREFAULT=1 routes none. Run in a child of plain Node, which loads the addon as the CLI
 * does and then grows its heap.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ADDON = fileURLToPath(new URL('../../native/build/Release/blit_native.node', import.meta.url));
const MIB = 1024 * 1024;

interface State {
  sites: number;
  bytes: number;
}

/** The addon's prefault state in a fresh Node as it loads and after ~40 MiB of objects. */
function grow(env: Record<string, string> = {}): { loaded: State; grown: State } {
  const script = `
    const addon = require(${JSON.stringify(ADDON)});
    const loaded = addon.prefaultState();
    const keep = [];
    for (let i = 0; i < 300000; i++) keep.push({ i, name: 'entry ' + i, pair: [i, -i] });
    const grown = addon.prefaultState();
    process.stdout.write(JSON.stringify({ loaded, grown, kept: keep.length }));`;
  const r = spawnSync(process.execPath, ['-e', script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { loaded: State; grown: State; kept: number };
  assert.equal(out.kept, 300000);
  return out;
}

test("Node's mprotect is routed as the addon loads, and V8's new heap pages are made present through it", () => {
  assert.equal(process.platform, 'linux', 'the routing is built for Linux with glibc');
  const { loaded, grown } = grow();
  assert.ok(loaded.sites >= 1, `call sites routed: ${loaded.sites}`);
  assert.equal(grown.sites, loaded.sites);
  // The objects take tens of MiB of V8's pages, each committed by an mprotect the routing saw.
  assert.ok(grown.bytes - loaded.bytes >= 16 * MIB, `made present: ${grown.bytes - loaded.bytes} bytes`);
});

test('BLIT_NO_PREFAULT=1 routes nothing, and the heap grows as usual', () => {
  const { loaded, grown } = grow({ BLIT_NO_PREFAULT: '1' });
  assert.deepEqual(loaded, { sites: 0, bytes: 0 });
  assert.deepEqual(grown, { sites: 0, bytes: 0 });
});
