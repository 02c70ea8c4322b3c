/**
 * Remote sessions broken halfway: the daemon killed mid-push, the client killed mid-push and
 * mid-pull, Ctrl+C on the client. A file is caught half-written on purpose (BLIT_TEST_HANG=
 * send:REL pauses the source once the first chunk of REL is out; the test waits for that chunk's
 * temp file), then the fault. After it: a prompt exit with one line, no partial file under a final
 * name, the daemon still serving and without the session's temp files, and a rerun converges.
 *
 * Then stalls: the source's send paused, or the destination's landing held (land:REL), with a
 * short stall time-out (BLIT_STALL_TIMEOUT_MS) on the side that stalls ends the session with the
 * stall detector's line, on whichever side; the same time-out on the side that waits for it is
 * not a stall there.
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertSameTree, isOneLineError, snapshot, tempDir } from '../helpers.js';
import { runBlit, startBlit, startDaemon } from './daemon-harness.js';

const CHUNK = 1 << 20;
const WAIT_MS = 20_000;

/** `chunks` MiB of data with a byte set in every 4 KiB page (no page is a hole). */
function bigFile(chunks: number): Buffer {
  const big = Buffer.alloc(chunks * CHUNK);
  for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
  return big;
}

/** A source tree with a file of three chunks (`big`) between small ones. */
function makeSource(root: string): string {
  const src = join(root, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'a small'), 'small');
  writeFileSync(join(src, 'sub', 'big'), bigFile(3));
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

/** The staging directories (temp names) directly in `dir`. */
function stagingDirs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && /^\.blit-\d+-[0-9a-f]{12}\.tmp$/.test(entry.name))
    .map((entry) => entry.name);
}

test('the daemon killed while a directory of small files is staged beside its place: a rerun completes and removes the staging directory', async (t) => {
  const root = tempDir(t, 'blit-fault-');
  const src = join(root, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  // One file: the group held is the one it leads (a listing's order is the source's readdir's).
  writeFileSync(join(src, 'sub', 'a'), 'a is small');
  const module = join(root, 'module');
  mkdirSync(module);
  // Held before sub's group of files lands: its staging directory is made by then.
  const daemon = await startDaemon(t, ['--root', module], { BLIT_TEST_HANG: 'land:sub/a' });
  const push = startBlit(['copy', `${src}/`, `127.0.0.1:${daemon.port}:/default/dst`]);
  const dst = join(module, 'dst');
  await until('the staging directory beside sub', () => existsSync(dst) && stagingDirs(dst).length === 1);
  // (Held before anything is written: that staged files stay out of sight until placed is
  // test/unit/fresh-landing.test.ts's.)
  assert.deepEqual(readdirSync(join(dst, 'sub')), []);
  await daemon.stop('SIGKILL');
  assert.equal((await push.exited).code, 1, push.stderr());
  assert.equal(stagingDirs(dst).length, 1, 'left by the killed daemon');

  const again = await startDaemon(t, ['--root', module]);
  const rerun = await runBlit(['copy', `${src}/`, `127.0.0.1:${again.port}:/default/dst`]);
  assert.equal(rerun.status, 0, rerun.stderr);
  // The same tree: the dead daemon's staging directory went with the rerun (its writer is gone).
  assertSameTree(dst, src);
  assert.deepEqual(stagingDirs(dst), []);
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

/** A short stall time-out, for the side that should (or should not) see a stall. */
const STALL = { BLIT_STALL_TIMEOUT_MS: '1000' };
/** How long a side with that time-out is left waiting on a paused peer: well past the time-out. */
const WAIT_PAST_STALL_MS = 3000;

/** A module with a source tree (src, see makeSource) and one small file (held.txt). */
function makeModule(t: { after(fn: () => unknown): void }) {
  const root = tempDir(t, 'blit-stall-');
  const module = join(root, 'module');
  mkdirSync(module);
  const src = makeSource(module);
  writeFileSync(join(module, 'held.txt'), 'held');
  return { root, module, src };
}

/** The daemon still serves: a listing of its module answers. */
async function stillServing(port: number): Promise<void> {
  const listing = await runBlit(['ls', `127.0.0.1:${port}:/default/`]);
  assert.equal(listing.status, 0, listing.stderr);
}

test("a push whose source stalls (a send that does not go on) ends with exit 1 and the client's stall line; the daemon drops the session", async (t) => {
  const { module, src } = makeModule(t);
  const daemon = await startDaemon(t, ['--root', module]);
  const push = await runBlit(['copy', `${src}/`, `127.0.0.1:${daemon.port}:/default/dst`], {
    env: { ...STALL, BLIT_TEST_HANG: 'send:sub/big' },
  });
  assert.equal(push.status, 1, push.stderr);
  assert.equal(push.stderr, 'blit: stalled: no progress for 1 s; in flight: send: sub/big\n');
  await until('the daemon to drop the temp file', () => tempsIn(join(module, 'dst')).length === 0);
  noPartialFiles(join(module, 'dst'), src);
  await stillServing(daemon.port);
});

test("a push whose walk stalls (a listing that hangs) while its loop serving needs waits for the peer ends with exit 1 and the listing's stall line", async (t) => {
  // The walk lists sub, which hangs, while the loop serving needs waits for the peer's needs: that
  // wait must not pause the stall detector while the walk, a flow of this side's own, is stuck.
  // (A filter makes the walk list in JavaScript, where the injected hang blocks the event loop.)
  const { module, src } = makeModule(t);
  const daemon = await startDaemon(t, ['--root', module]);
  const push = await runBlit(
    ['copy', '--exclude', '*.nomatch', `${src}/`, `127.0.0.1:${daemon.port}:/default/dst`],
    {
      env: { ...STALL, BLIT_TEST_HANG: 'scan:sub' },
    },
  );
  assert.equal(push.status, 1, push.stderr);
  assert.equal(push.stderr, 'blit: stalled: no progress for 1 s; in flight: scan: listing sub\n');
  await stillServing(daemon.port);
});

test("a pull whose daemon's source stalls ends with exit 1 and the daemon's stall line; the daemon keeps serving", async (t) => {
  const { root, module, src } = makeModule(t);
  const daemon = await startDaemon(t, ['--root', module], { ...STALL, BLIT_TEST_HANG: 'send:sub/big' });
  const dst = join(root, 'dst');
  const pull = await runBlit(['copy', `127.0.0.1:${daemon.port}:/default/src/`, dst]);
  assert.equal(pull.status, 1, pull.stderr);
  assert.ok(isOneLineError(pull.stderr), pull.stderr);
  assert.match(pull.stderr, /: stalled: no progress for 1 s; in flight: send: sub\/big\n$/);
  assert.match(
    daemon.log(),
    /"code":"FAILED","reason":"stalled: no progress for 1 s; in flight: send: sub\/big"/,
  );
  assert.doesNotMatch(daemon.log(), /internal error/);
  noPartialFiles(dst, src);
  assert.deepEqual(tempsIn(dst), []);
  await stillServing(daemon.port);
});

test('a pull whose landing here stalls (a hung disk) ends with exit 1, naming the file', async (t) => {
  const { root, module } = makeModule(t);
  const daemon = await startDaemon(t, ['--root', module]);
  const dst = join(root, 'dst');
  const pull = await runBlit(['copy', `127.0.0.1:${daemon.port}:/default/held.txt`, `${dst}/`], {
    env: { ...STALL, BLIT_TEST_HANG: 'land:held.txt' },
  });
  assert.equal(pull.status, 1, pull.stderr);
  assert.equal(pull.stderr, 'blit: stalled: no progress for 1 s; in flight: land: held.txt\n');
  assert.deepEqual(readdirSync(dst), []);
});

// A sender's small files are read on the same landing threads (source-side.ts sendGroup): a read
// held there (the land:REL hook holds any of their jobs) is this side's own stall, named as a read.
test('a push whose reading of a small file stalls here (a hung disk) ends with exit 1, naming the file', async (t) => {
  const { module } = makeModule(t);
  const daemon = await startDaemon(t, ['--root', module]);
  const push = await runBlit(['copy', join(module, 'held.txt'), `127.0.0.1:${daemon.port}:/default/dst/`], {
    env: { ...STALL, BLIT_TEST_HANG: 'land:held.txt' },
  });
  assert.equal(push.status, 1, push.stderr);
  assert.equal(push.stderr, 'blit: stalled: no progress for 1 s; in flight: read: held.txt\n');
  assert.deepEqual(readdirSync(join(module, 'dst')), []);
});

test("a pull whose reading of a small file stalls at the daemon ends with exit 1 and the daemon's stall line", async (t) => {
  const { root, module } = makeModule(t);
  const daemon = await startDaemon(t, ['--root', module], { ...STALL, BLIT_TEST_HANG: 'land:held.txt' });
  const dst = join(root, 'dst');
  const pull = await runBlit(['copy', `127.0.0.1:${daemon.port}:/default/held.txt`, `${dst}/`]);
  assert.equal(pull.status, 1, pull.stderr);
  assert.ok(isOneLineError(pull.stderr), pull.stderr);
  assert.match(pull.stderr, /: stalled: no progress for 1 s; in flight: read: held.txt\n$/);
  assert.deepEqual(readdirSync(dst), []);
  daemon.process.kill('SIGUSR2');
  await stillServing(daemon.port);
});

test("a push whose landing at the daemon stalls ends with exit 1 and the daemon's stall line; the daemon keeps serving", async (t) => {
  const { module } = makeModule(t);
  const daemon = await startDaemon(t, ['--root', module], { ...STALL, BLIT_TEST_HANG: 'land:held.txt' });
  const push = await runBlit(['copy', join(module, 'held.txt'), `127.0.0.1:${daemon.port}:/default/dst/`]);
  assert.equal(push.status, 1, push.stderr);
  assert.ok(isOneLineError(push.stderr), push.stderr);
  assert.match(push.stderr, /: stalled: no progress for 1 s; in flight: land: held.txt\n$/);
  assert.deepEqual(readdirSync(join(module, 'dst')), []);
  // The disk answers after all: the session is over, the file held back does not land now. (The
  // daemon takes the signal before the next call, which the listing waits for.)
  daemon.process.kill('SIGUSR2');
  await stillServing(daemon.port);
  assert.deepEqual(readdirSync(join(module, 'dst')), []);
});

/** How long a land:REL fault holds a write back (util/env-faults.ts). */
const HELD_MS = 60_000;

/** A module holding `large/big` of 12 MiB: on the data plane most of it is written as ranges. */
function makeLargeModule(t: { after(fn: () => unknown): void }) {
  const root = tempDir(t, 'blit-stall-');
  const module = join(root, 'module');
  mkdirSync(join(module, 'large'), { recursive: true });
  writeFileSync(join(module, 'large', 'big'), bigFile(12));
  return { root, module };
}

test('a pull whose range write here stalls ends at once with exit 1, naming it; no temp file stays', async (t) => {
  const { root, module } = makeLargeModule(t);
  const daemon = await startDaemon(t, ['--root', module]);
  const dst = join(root, 'dst');
  const started = Date.now();
  const pull = await runBlit(['copy', `127.0.0.1:${daemon.port}:/default/large/`, dst], {
    env: { ...STALL, BLIT_TEST_HANG: 'land:big' },
  });
  assert.equal(pull.status, 1, pull.stderr);
  assert.ok(Date.now() - started < HELD_MS / 2, 'ended at once, not when the held write answered');
  assert.match(pull.stderr, /^blit: stalled: no progress for 1 s; in flight: write: big\b/);
  assert.ok(isOneLineError(pull.stderr), pull.stderr);
  assert.deepEqual(readdirSync(dst), []);
});

test("a push whose range write at the daemon stalls: the client gets the daemon's stall line at once; the daemon keeps serving", async (t) => {
  const { module } = makeLargeModule(t);
  const daemon = await startDaemon(t, ['--root', module], { ...STALL, BLIT_TEST_HANG: 'land:big' });
  const started = Date.now();
  const push = await runBlit(['copy', `${join(module, 'large')}/`, `127.0.0.1:${daemon.port}:/default/dst`]);
  assert.equal(push.status, 1, push.stderr);
  assert.ok(Date.now() - started < HELD_MS / 2, 'ended at once, not when the held write answered');
  assert.ok(isOneLineError(push.stderr), push.stderr);
  assert.match(push.stderr, /: stalled: no progress for 1 s; in flight: write: big\b/);
  await until('the daemon to drop the temp file', () => tempsIn(join(module, 'dst')).length === 0);
  assert.deepEqual(readdirSync(join(module, 'dst')), []);
  await stillServing(daemon.port);
});

test("a pull whose write of a streamed chunk hangs blit's main thread is ended by the watchdog: exit 1, the stall line", async (t) => {
  const { root, module, src } = makeModule(t);
  const daemon = await startDaemon(t, ['--root', module]);
  const dst = join(root, 'dst');
  const pull = await runBlit(['copy', '--force-grpc-data', `127.0.0.1:${daemon.port}:/default/src/`, dst], {
    env: { ...STALL, BLIT_TEST_HANG: 'write:sub/big' },
  });
  if (process.env.BLIT_NO_NATIVE === '1') {
    // The watchdog thread of the pure-JS path has no _exit: it ends the process with SIGKILL.
    assert.notEqual(pull.status, 0, pull.stderr);
    assert.match(pull.stderr, /^blit: stalled: no progress for 1 s; in flight: write: sub\/big\n/);
  } else {
    assert.equal(pull.status, 1, pull.stderr);
    assert.equal(pull.stderr, 'blit: stalled: no progress for 1 s; in flight: write: sub/big\n');
  }
  noPartialFiles(dst, src);
});

for (const path of ['data plane', 'stream'] as const) {
  const args = path === 'stream' ? ['--force-grpc-data'] : [];
  test(`waiting for a daemon whose send is paused is no stall for the pulling client (${path})`, async (t) => {
    const { root, module, src } = makeModule(t);
    const daemon = await startDaemon(t, ['--root', module], { BLIT_TEST_HANG: 'send:sub/big' });
    const dst = join(root, 'dst');
    const pull = startBlit(['copy', ...args, `127.0.0.1:${daemon.port}:/default/src/`, dst], STALL);
    await until('the first chunk of big here', () => tempsIn(dst).some((temp) => temp.size === CHUNK));
    await sleep(WAIT_PAST_STALL_MS);
    assert.equal(pull.child.exitCode, null, `still waiting for the daemon: ${pull.stderr()}`);
    daemon.process.kill('SIGUSR2');
    const { code } = await pull.exited;
    assert.equal(code, 0, pull.stderr());
    assertSameTree(dst, src);
  });
}

test('waiting for a daemon whose landing is held is no stall for the pushing client', async (t) => {
  const { module } = makeModule(t);
  const daemon = await startDaemon(t, ['--root', module], { BLIT_TEST_HANG: 'land:held.txt' });
  const push = startBlit(['copy', join(module, 'held.txt'), `127.0.0.1:${daemon.port}:/default/dst/`], STALL);
  await until('the destination directory at the daemon', () => readdirSync(module).includes('dst'));
  await sleep(WAIT_PAST_STALL_MS);
  // Still running: the daemon holds the file back (a push of one small file takes well under 3 s).
  assert.equal(push.child.exitCode, null, `still waiting for the daemon: ${push.stderr()}`);
  assert.deepEqual(readdirSync(join(module, 'dst')), [], 'held.txt not landed yet');
  daemon.process.kill('SIGUSR2');
  const { code } = await push.exited;
  assert.equal(code, 0, push.stderr());
  assert.deepEqual(readdirSync(join(module, 'dst')), ['held.txt']);
});
