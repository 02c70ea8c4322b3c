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

interface Grown {
  loaded: State;
  grown: State;
  /** Node's executable's mappings (address range and permissions) before and after the load. */
  before: string[];
  after: string[];
}

/** The addon's prefault state in a fresh Node as it loads and after ~40 MiB of objects. */
function grow(env: Record<string, string | undefined>): Grown {
  const script = `
    const { readFileSync } = require('node:fs');
    const mappings = () => readFileSync('/proc/self/maps', 'utf8').split('\\n')
      .filter((line) => line.endsWith(process.execPath)).map((line) => line.split(' ').slice(0, 2).join(' '));
    const before = mappings();
    const addon = require(${JSON.stringify(ADDON)});
    const after = mappings();
    const loaded = addon.prefaultState();
    const keep = [];
    for (let i = 0; i < 300000; i++) keep.push({ i, name: 'entry ' + i, pair: [i, -i] });
    const grown = addon.prefaultState();
    process.stdout.write(JSON.stringify({ loaded, grown, before, after, kept: keep.length }));`;
  const r = spawnSync(process.execPath, ['-e', script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Grown & { kept: number };
  assert.equal(out.kept, 300000);
  return out;
}

test("Node's mprotect is routed as the addon loads, and V8's new heap pages are made present through it", () => {
  assert.equal(process.platform, 'linux', 'the routing is built for Linux with glibc');
  const { loaded, grown, before, after } = grow({ BLIT_NO_PREFAULT: undefined });
  assert.ok(loaded.sites >= 1, `call sites routed: ${loaded.sites}`);
  // The slot's page is read-only again, as the loader left it: Node's mappings are as they were.
  assert.ok(before.length > 0);
  assert.deepEqual(after, before);
  assert.equal(grown.sites, loaded.sites);
  // The objects take tens of MiB of V8's pages, each committed by an mprotect the routing saw.
  assert.ok(grown.bytes - loaded.bytes >= 16 * MIB, `made present: ${grown.bytes - loaded.bytes} bytes`);
});

test('BLIT_NO_PREFAULT=1 routes nothing, and the heap grows as usual', () => {
  const { loaded, grown } = grow({ BLIT_NO_PREFAULT: '1' });
  assert.deepEqual(loaded, { sites: 0, bytes: 0 });
  assert.deepEqual(grown, { sites: 0, bytes: 0 });
});

test('an addon first loaded by a worker that then ends stays loaded: the routed calls keep working', () => {
  // Node unloads a worker's addons when the worker ends; a routed slot must not outlive the addon.
  const script = `
    const { Worker } = require('node:worker_threads');
    const worker = new Worker(${JSON.stringify(`require(${JSON.stringify(ADDON)}); require('node:worker_threads').parentPort.postMessage('loaded');`)}, { eval: true });
    worker.on('message', () => {});
    worker.on('exit', (code) => {
      const keep = [];
      for (let i = 0; i < 300000; i++) keep.push({ i, name: 'entry ' + i });
      const addon = require(${JSON.stringify(ADDON)});
      process.stdout.write(JSON.stringify({ code, state: addon.prefaultState(), kept: keep.length }));
    });`;
  const r = spawnSync(process.execPath, ['-e', script], {
    env: { ...process.env, BLIT_NO_PREFAULT: undefined },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `status ${r.status} signal ${r.signal} ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { code: number; state: State; kept: number };
  assert.equal(out.code, 0);
  assert.equal(out.kept, 300000);
  assert.ok(out.state.sites >= 1 && out.state.bytes >= 16 * MIB, JSON.stringify(out.state));
});
