/**
 * A session larger than both of its windows: more files than the destination asks for at once
 * (MAX_FILES_ASKED), listed in more manifest batches than the source may have unread
 * (MANIFEST_WINDOW_FRAMES), pushed and pulled through a real blitd, over data sockets and inside
 * the stream (--force-grpc-data). Each completes with the tree intact.
 *
 * The tree is laid out so that both sides wait on each other: the root's own listing holds more
 * files than the destination asks for at once, and many small directories' listings follow it. The
 * destination asks for the root's files and waits for them while the source, out of window after
 * the small listings, waits for credit: it must serve those files meanwhile (a source that did not
 * was seen to hang here, broken on purpose).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BATCH_ENTRIES, MANIFEST_WINDOW_FRAMES } from '../../src/protocol/manifest-wire.js';
import { MAX_FILES_ASKED } from '../../src/transport/stream/peer-data.js';
import { assertSameTree, jsonReport, tempDir } from '../helpers.js';
import { runBlit, startDaemon } from './daemon-harness.js';

/** The root's files: more than the destination asks for at once. */
const ROOT_FILES = MAX_FILES_ASKED + BATCH_ENTRIES;
/** Small directories after it, one batch each: twice the window, and then some. */
const DIRS = 2 * MANIFEST_WINDOW_FRAMES + 1;

test('a push and a pull larger than both windows complete intact, over data sockets and in the stream', async (t) => {
  const root = tempDir(t, 'blit-windows-');
  const src = join(root, 'src');
  mkdirSync(src);
  for (let f = 0; f < ROOT_FILES; f++) writeFileSync(join(src, `f${f}`), `${f}\n`);
  for (let d = 0; d < DIRS; d++) {
    mkdirSync(join(src, `d${d}`));
    writeFileSync(join(src, `d${d}`, 'f'), `${d}\n`);
  }
  const module = join(root, 'module');
  mkdirSync(module);
  const daemon = await startDaemon(t, ['--root', module]);
  const entries = ROOT_FILES + 2 * DIRS;
  for (const [how, flags] of [
    ['data sockets', []],
    ['the stream', ['--force-grpc-data']],
  ] as const) {
    const pushed = join(module, `push-${flags.length}`);
    const push = await runBlit([
      'copy',
      '--json',
      ...flags,
      `${src}/`,
      `127.0.0.1:${daemon.port}:/default/push-${flags.length}`,
    ]);
    assert.equal(push.status, 0, `push over ${how}: ${push.stderr}`);
    assert.equal(jsonReport(push).copied, entries, how);
    assertSameTree(pushed, src);
    const pulled = join(root, `pull-${flags.length}`);
    const pull = await runBlit([
      'copy',
      '--json',
      ...flags,
      `127.0.0.1:${daemon.port}:/default/push-${flags.length}/`,
      pulled,
    ]);
    assert.equal(pull.status, 0, `pull over ${how}: ${pull.stderr}`);
    assert.equal(jsonReport(pull).copied, entries, how);
    assertSameTree(pulled, src);
  }
});
