/**
 * Remote sessions broken halfway: the daemon killed mid-push, the client killed mid-push and
 * mid-pull, Ctrl+C on the client. A file is caught half-written on purpose (BLIT_TEST_HANG=
 * send:REL pauses the source once the first chunk of REL is out; the test waits for that chunk's
 * temp file), then the fault. After it: a prompt exit with one line, no partial file under a final
 * name, the daemon still serving and without the session's temp files, and a rerun converges.
 */
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertSameTree, isOneLineError, snapshot, tempDir } from '../helpers.js';
import { runBlit, startBlit, startDaemon } from './daemon-harness.js';

const CHUNK = 1 << 20;
const WAIT_MS = 20_000;

/** A source tree with a file of three chunks (`big`) between small ones. */
function makeSource(root: string): string {
  const src = join(root, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'a small'), 'small');
  const big = Buffer.alloc(3 * CHUNK);
  for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
  writeFileSync(join(src, 'sub', 'big'), big);
  writeFileSync(join(src, 'sub', 'z last'), 'last');
  return src;
}

/**
 * Every temp file below `dir` (links not followed), read while a transfer may be renaming and
 * removing entries: what vanishes between the listing and its stat is passed over.
 */
function tempsIn(dir: string): { rel: string; size: number }[] {
  const temps: { rel: string; size: number }[] = [];
  const visit = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(rel === '' ? dir : join(dir, rel));
    } catch {
      return;
    }
    for (const name of names) {
      const child = rel === '' ? name : `${rel}/${name}`;
      const stats = lstatSync(join(dir, child), { throwIfNoEntry: false });
      if (stats?.isDirectory()) visit(child);
      else if (stats && /^\.blit-\d+-[0-9a-f]{12}\.tmp$/.test(name))
        temps.push({ rel: child, size: stats.size });
    }
  };
  visit('');
  return temps;
}

/** Polls (bounded) until `condition` holds; fails with `what` otherwise. */
async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every file under a final name in `dst` is whole: the same bytes as its twin in `src`. */
function noPartialFiles(dst: string, src: string): void {
  const source = snapshot(src);
  for (const [rel, node] of snapshot(dst)) {
    if (node.kind !== 'file' || /\.blit-\d+-[0-9a-f]{12}\.tmp$/.test(rel)) continue;
    assert.equal(node.hash, source.get(rel)?.hash, `${rel} is whole under its final name`);
  }
}

/**
 * A daemon on a fresh module, and `blit ARGS SRC/ HOST:/default/dst` caught halfway: the source
 * pauses after the first chunk of sub/big, and that chunk is in the daemon's temp file.
 */
async function pushCaughtHalfway(t: { after(fn: () => unknown): void }, args: string[]) {
  const root = tempDir(t, 'blit-fault-');
  const src = makeSource(root);
  const module = join(root, 'module');
  mkdirSync(module);
  const daemon = await startDaemon(t, ['--root', module]);
  const push = startBlit([...args, `${src}/`, `127.0.0.1:${daemon.port}:/default/dst`], {
    BLIT_TEST_HANG: 'send:sub/big',
  });
  await until('the first chunk of big at the daemon', () =>
    tempsIn(module).some((temp) => temp.size === CHUNK),
  );
  return { src, module, daemon, push };
}

test('the daemon killed mid-push: the client exits 1 at once with one line; a rerun converges', async (t) => {
  const { src, module, daemon, push } = await pushCaughtHalfway(t, ['copy']);
  const killedAt = Date.now();
  await daemon.stop('SIGKILL');
  const { code } = await push.exited;
  assert.equal(code, 1, push.stderr());
  assert.ok(Date.now() - killedAt < 10_000, 'the client noticed within seconds');
  assert.match(push.stderr(), new RegExp(`^blit: lost blitd at 127\\.0\\.0\\.1:${daemon.port}: `));
  assert.ok(isOneLineError(push.stderr()), push.stderr());
  noPartialFiles(join(module, 'dst'), src);

  const again = await startDaemon(t, ['--root', module]);
  const rerun = await runBlit(['copy', `${src}/`, `127.0.0.1:${again.port}:/default/dst`]);
  assert.equal(rerun.status, 0, rerun.stderr);
  assertSameTree(join(module, 'dst'), src);
  // The dead daemon's temp file went with the rerun (its writer is gone).
  assert.deepEqual(tempsIn(module), []);
});

test('the client killed mid-push: the daemon drops the session and its temp file at once and keeps serving', async (t) => {
  const { src, module, daemon, push } = await pushCaughtHalfway(t, ['mirror', '--yes']);
  push.child.kill('SIGKILL');
  await push.exited;
  await until('the daemon to drop the temp file', () => tempsIn(module).length === 0);
  await until('the daemon to log the failed session', () =>
    /"rpc":"transfer".*"code":"FAILED"/.test(daemon.log()),
  );
  noPartialFiles(join(module, 'dst'), src);
  const listing = await runBlit(['ls', `127.0.0.1:${daemon.port}:/default/dst`]);
  assert.equal(listing.status, 0, listing.stderr);
  const rerun = await runBlit(['mirror', '--yes', `${src}/`, `127.0.0.1:${daemon.port}:/default/dst`]);
  assert.equal(rerun.status, 0, rerun.stderr);
  assertSameTree(join(module, 'dst'), src);
});

test('Ctrl+C on a push ends the daemon session too: exit 130, nothing half-written anywhere', async (t) => {
  const { src, module, push } = await pushCaughtHalfway(t, ['copy']);
  push.child.kill('SIGINT');
  const { code } = await push.exited;
  assert.equal(code, 130, push.stderr());
  assert.match(push.stderr(), /^blit: interrupted \(SIGINT\)/);
  await until('the daemon to drop the temp file', () => tempsIn(module).length === 0);
  noPartialFiles(join(module, 'dst'), src);
});

test('the client killed mid-pull: no partial file under a final name; the daemon keeps serving; a rerun converges', async (t) => {
  const root = tempDir(t, 'blit-fault-');
  const module = join(root, 'module');
  mkdirSync(module);
  const src = makeSource(module);
  const slow = await startDaemon(t, ['--root', module], { BLIT_TEST_HANG: 'send:sub/big' });
  const dst = join(root, 'dst');
  const pull = startBlit(['copy', `127.0.0.1:${slow.port}:/default/src/`, dst]);
  await until('the first chunk of big here', () => {
    try {
      return tempsIn(dst).some((temp) => temp.size === CHUNK);
    } catch {
      return false;
    }
  });
  pull.child.kill('SIGKILL');
  await pull.exited;
  noPartialFiles(dst, src);
  await until('the daemon to log the failed session', () =>
    /"rpc":"transfer".*"code":"FAILED"/.test(slow.log()),
  );
  const listing = await runBlit(['ls', `127.0.0.1:${slow.port}:/default/src`]);
  assert.equal(listing.status, 0, listing.stderr);

  const daemon = await startDaemon(t, ['--root', module]);
  const rerun = await runBlit(['copy', `127.0.0.1:${daemon.port}:/default/src/`, dst]);
  assert.equal(rerun.status, 0, rerun.stderr);
  assertSameTree(dst, src);
  assert.deepEqual(tempsIn(dst), [], 'the killed client’s temp file went with the rerun');
  assert.deepEqual(readdirSync(module), ['src']);
});
