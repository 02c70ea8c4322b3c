/**
 * A session larger than both of its windows: more files than the destination asks for at once
 * (MAX_FILES_ASKED), then more manifest than the source may have untaken (MANIFEST_WINDOW_BYTES:
 * directories of long links, with nothing to fetch), pushed and pulled through a real blitd, over
 * data sockets and inside the stream (--force-grpc-data). Each completes with the tree intact: both
 * windows fill and drain without the sides waiting on each other for ever. That a source out of
 * window serves the files asked meanwhile is pinned, step by step, by hostile-daemon's test of the
 * window (here the timing decides whether it comes to that).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { BATCH_ENTRIES, MANIFEST_WINDOW_BYTES } from '../../src/protocol/manifest-wire.js';
import { MAX_FILES_ASKED } from '../../src/transport/stream/peer-data.js';
import { assertSameTree, jsonReport, tempDir } from '../helpers.js';
import { runBlit, startDaemon } from './daemon-harness.js';

/** The root's files: more than the destination asks for at once. */
const ROOT_FILES = MAX_FILES_ASKED + BATCH_ENTRIES;
/** Directories of links to a long target after it: one batch each, more than the window together. */
const TARGET = 'x'.repeat(3900);
const LINKS = 100;
const DIRS = Math.ceil((1.25 * MANIFEST_WINDOW_BYTES) / (LINKS * TARGET.length));

/** A source of ROOT_FILES files and `dirs` directories of links, and a blitd serving an empty module beside it. */
async function servedTree(t: TestContext, dirs: number) {
  const root = tempDir(t, 'blit-windows-');
  const src = join(root, 'src');
  mkdirSync(src);
  for (let f = 0; f < ROOT_FILES; f++) writeFileSync(join(src, `f${f}`), `${f}\n`);
  for (let d = 0; d < dirs; d++) {
    mkdirSync(join(src, `d${d}`));
    for (let l = 0; l < LINKS; l++) symlinkSync(TARGET, join(src, `d${d}`, `l${l}`));
  }
  const module = join(root, 'module');
  mkdirSync(module);
  return { root, src, module, daemon: await startDaemon(t, ['--root', module]) };
}

test('a push and a pull larger than both windows complete intact, over data sockets and in the stream', async (t) => {
  const { root, src, module, daemon } = await servedTree(t, DIRS);
  const entries = ROOT_FILES + DIRS * (LINKS + 1);
  for (const [how, flags] of [
    ['data sockets', []],
    ['the stream', ['--force-grpc-data']],
  ] as const) {
    const name = `push-${flags.length}`;
    const push = await runBlit([
      'copy',
      '--json',
      ...flags,
      `${src}/`,
      `127.0.0.1:${daemon.port}:/default/${name}`,
    ]);
    assert.equal(push.status, 0, `push over ${how}: ${push.stderr}`);
    assert.equal(jsonReport(push).copied, entries, how);
    assertSameTree(join(module, name), src);
    const pulled = join(root, `pull-${flags.length}`);
    const pull = await runBlit([
      'copy',
      '--json',
      ...flags,
      `127.0.0.1:${daemon.port}:/default/${name}/`,
      pulled,
    ]);
    assert.equal(pull.status, 0, `pull over ${how}: ${pull.stderr}`);
    assert.equal(jsonReport(pull).copied, entries, how);
    assertSameTree(pulled, src);
  }
});

test('a checksum mirror and a move of more files than are asked for at once complete intact', async (t) => {
  const { root, src, module, daemon } = await servedTree(t, 0);
  const remote = `127.0.0.1:${daemon.port}:/default/copy`;
  const copy = await runBlit(['copy', `${src}/`, remote]);
  assert.equal(copy.status, 0, copy.stderr);
  // Same sizes, other bytes: only their hashes tell these apart. Every file of equal size is
  // hashed here first, and the needs wait for their hashes in one queue.
  const changed = [0, 5000, ROOT_FILES - 1];
  for (const f of changed) writeFileSync(join(module, 'copy', `f${f}`), `${f}\n`.replace(/\d/g, 'x'));
  const mirror = await runBlit(['mirror', '--checksum', '--yes', '--json', `${src}/`, remote]);
  assert.equal(mirror.status, 0, mirror.stderr);
  assert.equal(jsonReport(mirror).copied, changed.length);
  assertSameTree(join(module, 'copy'), src);
  // A pull-move: the daemon removes each file once the client says it landed.
  const moved = join(root, 'moved');
  const move = await runBlit(['move', '--json', `${remote}/`, moved]);
  assert.equal(move.status, 0, move.stderr);
  assertSameTree(moved, src, { ignoreRootMtime: true });
  assert.deepEqual(readdirSync(join(module, 'copy')), [], 'every moved file left the daemon');
});
