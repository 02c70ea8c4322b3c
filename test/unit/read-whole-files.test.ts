/**
 * readWholeFiles (fsops/read-listed.ts): small files opened, checked, read, checked again and
 * closed a group at a time on the addon's landing threads, as the sending side's batches take them
 * (transport/stream/source-side.ts sendGroup). Where the kernel offers io_uring the threads batch
 * the opens, reads and closes through it (native/uring.h); the last test runs every other once more
 * with BLIT_NO_URING=1, one system call a step.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BeneathRoot } from '../../src/fsops/beneath.js';
import { nextLandingJob, onLandingAnswer } from '../../src/fsops/land-files.js';
import { nativeAddon, nativeStatus } from '../../src/fsops/native.js';
import { type Listed, readWholeFiles } from '../../src/fsops/read-listed.js';
import { tempDir } from '../helpers.js';

/** Set in the run the last test starts. */
const WITHOUT_URING = process.env.BLIT_NO_URING === '1';

function listedOf(path: string): Listed {
  const stats = lstatSync(path, { bigint: true });
  return { size: stats.size, mtimeNs: stats.mtimeNs };
}

/** What readWholeFiles answered for one file, with the bytes it read. */
async function readWhole(path: string, listed: Listed): Promise<{ kind: string; bytes: Buffer }> {
  const into = Buffer.alloc(Number(listed.size));
  const answers = await readWholeFiles([{ path, listed }], into);
  assert.ok(answers !== undefined, 'the addon answers');
  assert.equal(answers.length, 1);
  return { kind: answers[0]!.kind, bytes: into };
}

// A FIFO opened without O_NONBLOCK would hang the open: the time-out fails the test instead.
test('with the addon: read when as listed; not as listed, or not opened, without reading', {
  timeout: 20_000,
}, async (t) => {
  assert.match(nativeStatus(), /^native addon/);
  const dir = tempDir(t);
  const dense = join(dir, 'dense');
  const content = randomBytes(5_000);
  writeFileSync(dense, content);
  const listed = listedOf(dense);

  const read = await readWhole(dense, listed);
  assert.equal(read.kind, 'read');
  assert.ok(read.bytes.equals(content));

  // Another size or mtime than listed: refused before any byte is read.
  const shorter = await readWhole(dense, { size: listed.size - 1n, mtimeNs: listed.mtimeNs });
  assert.equal(shorter.kind, 'not-as-listed');
  assert.ok(shorter.bytes.equals(Buffer.alloc(4_999)));
  assert.equal(
    (await readWhole(dense, { size: listed.size, mtimeNs: listed.mtimeNs + 1n })).kind,
    'not-as-listed',
  );

  // Not a regular file: a FIFO (the open never blocks) and a directory are never read.
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  assert.equal((await readWhole(fifo, { size: 0n, mtimeNs: listedOf(fifo).mtimeNs })).kind, 'not-as-listed');
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  assert.equal((await readWhole(sub, { size: 0n, mtimeNs: listedOf(sub).mtimeNs })).kind, 'not-as-listed');

  // Not opened (the caller's own steps open it again and say why): a missing file, and a link in
  // the file's place (never followed, or its target's bytes would be read).
  assert.equal((await readWhole(join(dir, 'missing'), listed)).kind, 'not-opened');
  const link = join(dir, 'link');
  symlinkSync(dense, link);
  const viaLink = await readWhole(link, listed);
  assert.equal(viaLink.kind, 'not-opened');
  assert.ok(viaLink.bytes.equals(Buffer.alloc(5_000)));

  assert.throws(() => readWholeFiles([{ path: dense, listed }], Buffer.alloc(10)), RangeError);
});

test('with the addon: a file that changes once read is reported changed, not read', async (t) => {
  assert.match(nativeStatus(), /^native addon/);
  const dir = tempDir(t);
  const file = join(dir, 'changes');
  writeFileSync(file, randomBytes(3_000));
  // Dated in the past: the hook's rewrite gives it a new mtime even where the clock's tick is
  // coarser than the time between the two writes.
  utimesSync(file, 1_600_000_000, 1_600_000_000);
  const listed = listedOf(file);
  // The test hook the copy threads use (util/faults.ts changeSource): the first byte is rewritten
  // after the read and before the check.
  nativeAddon()!.setChangeSource(file);
  const before = readFileSync(file);
  assert.equal((await readWhole(file, listed)).kind, 'changed');
  assert.notEqual(readFileSync(file)[0], before[0], 'the hook changed the file');
});

test('with the addon: a group, each file after the one before, whatever became of it', async (t) => {
  assert.match(nativeStatus(), /^native addon/);
  const dir = tempDir(t);
  const one = join(dir, 'one');
  const two = join(dir, 'two');
  const three = join(dir, 'three');
  writeFileSync(one, randomBytes(1_000));
  writeFileSync(two, randomBytes(2_000));
  writeFileSync(three, randomBytes(3_000));
  const link = join(dir, 'link');
  symlinkSync(one, link);
  const empty = join(dir, 'empty');
  writeFileSync(empty, '');
  const files = [
    { path: one, listed: listedOf(one) },
    { path: join(dir, 'missing'), listed: { size: 10n, mtimeNs: 0n } },
    { path: two, listed: listedOf(two) },
    { path: empty, listed: listedOf(empty) },
    { path: link, listed: listedOf(one) },
    { path: three, listed: { size: 3_000n, mtimeNs: listedOf(three).mtimeNs - 1n } },
    { path: three, listed: listedOf(three) },
  ];
  const total = files.reduce((sum, file) => sum + Number(file.listed.size), 0);
  const into = Buffer.alloc(total + 7, 0xee);
  const answers = await readWholeFiles(files, into);
  assert.deepEqual(
    answers?.map((answer) => answer.kind),
    ['read', 'not-opened', 'read', 'read', 'not-opened', 'not-as-listed', 'read'],
  );
  // Each file's bytes start where the one before it ends, read or not; what was not read is untouched.
  assert.ok(into.subarray(0, 1_000).equals(readFileSync(one)));
  assert.ok(into.subarray(1_000, 1_010).equals(Buffer.alloc(10, 0xee)));
  assert.ok(into.subarray(1_010, 3_010).equals(readFileSync(two)));
  assert.ok(into.subarray(3_010, 4_010).equals(Buffer.alloc(1_000, 0xee)), 'the link is never followed');
  assert.ok(into.subarray(4_010, 7_010).equals(Buffer.alloc(3_000, 0xee)), 'not as listed: nothing read');
  assert.ok(into.subarray(7_010, 10_010).equals(readFileSync(three)));
  assert.ok(into.subarray(10_010).equals(Buffer.alloc(7, 0xee)), 'nothing past the last file');

  // Sizes that do not fit, or an mtime that is not a whole number of nanoseconds: refused before
  // anything is queued.
  const addon = nativeAddon()!;
  const never = () => assert.fail('nothing is queued');
  assert.throws(
    () => addon.readWholeFiles([one], Float64Array.of(1_001, 0, 0), Buffer.alloc(1_000), never),
    TypeError,
  );
  assert.throws(
    () => addon.readWholeFiles([one], Float64Array.of(-1, 0, 0), Buffer.alloc(1_000), never),
    TypeError,
  );
  assert.throws(
    () => addon.readWholeFiles([one], Float64Array.of(0.5, 0, 0), Buffer.alloc(1_000), never),
    TypeError,
  );
  assert.throws(
    () => addon.readWholeFiles([one], Float64Array.of(1, 0, 1e9), Buffer.alloc(1_000), never),
    TypeError,
  );
  assert.throws(
    () => addon.readWholeFiles([one], Float64Array.of(1, 0, 0.5), Buffer.alloc(1_000), never),
    TypeError,
  );
  assert.throws(
    () => addon.readWholeFiles([one], Float64Array.of(1, 2 ** 70, 0), Buffer.alloc(1_000), never),
    TypeError,
  );
  assert.throws(
    () => addon.readWholeFiles([one, two], Float64Array.of(1, 0, 0), Buffer.alloc(1_000), never),
    TypeError,
  );
  assert.deepEqual(await readWholeFiles([], Buffer.alloc(0)), []);
});

test('with the addon: a group across directories reads each file from its own directory', async (t) => {
  assert.match(nativeStatus(), /^native addon/);
  const dir = tempDir(t);
  // The same names in each directory, with other bytes: a file read from the directory of the
  // file before it shows.
  for (const sub of ['a', 'b', 'c']) {
    mkdirSync(join(dir, sub));
    for (const name of ['x', 'y']) writeFileSync(join(dir, sub, name), `${sub}/${name} `.repeat(100));
  }
  symlinkSync(join(dir, 'a'), join(dir, 'to-a'));
  const files = ['a/x', 'a/y', 'b/x', 'gone/x', 'a/x', 'c/y', 'to-a/y', 'b/y'].map((rel) => {
    const path = join(dir, rel);
    return { path, listed: rel.startsWith('gone/') ? { size: 10n, mtimeNs: 0n } : listedOf(path) };
  });
  const into = Buffer.alloc(files.reduce((sum, file) => sum + Number(file.listed.size), 0));
  const answers = await readWholeFiles(files, into);
  assert.deepEqual(
    answers?.map((answer) => answer.kind),
    ['read', 'read', 'read', 'not-opened', 'read', 'read', 'read', 'read'],
  );
  let at = 0;
  for (const { path, listed } of files) {
    const size = Number(listed.size);
    // A directory reached through a link is followed, as opening the whole path follows it.
    if (!path.includes('gone'))
      assert.equal(into.toString('utf8', at, at + size), readFileSync(path, 'utf8'), path);
    at += size;
  }
});

for (const walk of [false, true])
  test(`with the addon, below a module root: read beneath it, never through a link that leaves it${walk ? ' (BLIT_NO_OPENAT2: the walk)' : ''}`, async (t) => {
    assert.match(nativeStatus(), /^native addon/);
    const top = tempDir(t);
    const outside = join(top, 'outside');
    mkdirSync(outside);
    const secret = join(outside, 'secret');
    writeFileSync(secret, 'outside the module');
    const module = join(top, 'module');
    mkdirSync(join(module, 'dir'), { recursive: true });
    const inside = join(module, 'dir', 'inside');
    writeFileSync(inside, 'inside the module!');
    symlinkSync(outside, join(module, 'out'));
    symlinkSync(secret, join(module, 'dir', 'last'));
    symlinkSync(join(module, 'dir'), join(module, 'back'));
    const before = process.env.BLIT_NO_OPENAT2;
    if (walk) process.env.BLIT_NO_OPENAT2 = '1';
    t.after(() => {
      if (before === undefined) delete process.env.BLIT_NO_OPENAT2;
      else process.env.BLIT_NO_OPENAT2 = before;
    });
    const root = BeneathRoot.open(module);
    assert.ok(root);
    const asSecret = listedOf(secret);
    const files = [
      { path: 'dir/inside', listed: listedOf(inside) },
      { path: 'out/secret', listed: asSecret },
      { path: 'dir/last', listed: asSecret },
      { path: '../outside/secret', listed: asSecret },
      { path: secret, listed: asSecret },
      { path: 'back/inside', listed: listedOf(inside) },
    ];
    const into = Buffer.alloc(files.reduce((sum, file) => sum + Number(file.listed.size), 0));
    const addon = nativeAddon()!;
    const runsBefore = addon.uringRuns();
    const reading = root.readWholeFiles(files, into);
    // The job reads through a descriptor of its own: the caller may close the root at once.
    root.close();
    const answers = await reading;
    // openat2 beneath the root through the ring where there is one (the same resolution), never
    // for the walk; what the ring does not open takes the steps one by one (back/inside, through
    // an absolute link that stays inside, is opened by the walk).
    if (walk || !addon.uringUsable()) assert.equal(addon.uringRuns(), runsBefore, 'no ring for the walk');
    else assert.ok(addon.uringRuns() > runsBefore, 'opened, read and closed through the ring');
    assert.deepEqual(
      answers?.map((answer) => answer.kind),
      ['read', 'not-opened', 'not-opened', 'not-opened', 'not-opened', 'read'],
      'a link inside the module is followed on the way; none that leaves it, and no last link',
    );
    assert.equal(into.subarray(0, 18).toString(), 'inside the module!');
    assert.ok(!into.includes('outside the module'), 'no byte from outside');
    assert.equal(into.subarray(into.length - 18).toString(), 'inside the module!');
  });

test("with the addon: a group is one job in the landing threads' queue, numbered and answered as theirs are", async (t) => {
  assert.match(nativeStatus(), /^native addon/);
  const dir = tempDir(t);
  const file = join(dir, 'f');
  writeFileSync(file, 'numbered');
  const heard: number[] = [];
  const stop = onLandingAnswer((job) => heard.push(job));
  t.after(stop);
  const number = nextLandingJob();
  await readWholeFiles([{ path: file, listed: listedOf(file) }], Buffer.alloc(8));
  assert.equal(nextLandingJob(), number + 1, 'the group took the next number');
  assert.deepEqual(heard, [number], 'and its answer was heard under it');
});

test('without the addon: undefined, the caller takes the steps one by one', () => {
  const readListed = fileURLToPath(new URL('../../src/fsops/read-listed.ts', import.meta.url));
  const probe = `
import { readWholeFiles } from ${JSON.stringify(readListed)};
process.stdout.write(String(readWholeFiles([{ path: '/nonexistent', listed: { size: 1n, mtimeNs: 0n } }], new Uint8Array(1))));
`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], {
    encoding: 'utf8',
    env: { ...process.env, BLIT_NO_NATIVE: '1' },
    timeout: 30_000,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, 'undefined');
});

test('with the addon: io_uring where the kernel allows it, not with BLIT_NO_URING=1', () => {
  let disabled = '';
  try {
    disabled = readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim();
  } catch {
    // not Linux, or a kernel without the setting
  }
  const addon = nativeAddon();
  assert.ok(addon);
  if (WITHOUT_URING || disabled === '2') {
    assert.equal(addon.uringUsable(), false);
    assert.equal(addon.uringRuns(), 0, 'no batch went through a ring');
    return;
  }
  // This machine and CI's say 0 (Linux 6.6 on; older kernels have no such setting, and a
  // container's seccomp profile may refuse io_uring all the same): the ring is the path tested.
  if (disabled === '0') assert.equal(addon.uringUsable(), true);
  if (addon.uringUsable()) assert.ok(addon.uringRuns() > 0, 'the groups above went through the ring');
});

test('with the addon: pages not in memory, and a group of 300 files of one directory, are read whole', async (t) => {
  const dir = tempDir(t);
  const files = Array.from({ length: 300 }, (_, i) => {
    const path = join(dir, `f${i}`);
    writeFileSync(path, randomBytes(1 + ((i * 37) % 9000)));
    return path;
  });
  // Written back and dropped from memory: a read the ring cannot serve from the page cache (this
  // kernel has its workers wait for the disk; others may answer EAGAIN, the file being open
  // O_NONBLOCK, and it is then read as one call would). Either way each file is read whole.
  const drop = spawnSync(
    'python3',
    [
      '-c',
      'import os,sys\nfor p in sys.argv[1:]:\n fd=os.open(p,os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED); os.close(fd)',
      ...files,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(drop.status, 0, drop.stderr);
  const listed = files.map((path) => ({ path, listed: listedOf(path) }));
  const into = Buffer.alloc(listed.reduce((sum, f) => sum + Number(f.listed.size), 0));
  const answers = await readWholeFiles(listed, into);
  assert.ok(answers);
  assert.deepEqual(
    answers.map((a) => a.kind),
    files.map(() => 'read'),
  );
  let at = 0;
  for (const { path, listed: l } of listed) {
    const size = Number(l.size);
    assert.ok(into.subarray(at, at + size).equals(readFileSync(path)), `${path}: contents`);
    at += size;
  }
});

test('every test above, once more one system call a step (BLIT_NO_URING=1): the same answers', {
  timeout: 120_000,
}, () => {
  if (WITHOUT_URING) return; // this is that run
  // A run of its own, not a child reporting to this one (node:test's NODE_TEST_CONTEXT).
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', fileURLToPath(import.meta.url)], {
    encoding: 'utf8',
    env: { ...env, BLIT_NO_URING: '1' },
    timeout: 110_000,
  });
  assert.equal(run.status, 0, `${run.stdout.slice(-3000)}${run.stderr}`);
  assert.match(run.stdout, /^# fail 0$/m);
  const passed = Number(/^# pass (\d+)$/m.exec(run.stdout)?.[1]);
  assert.ok(passed >= 10, `${passed} tests passed without io_uring`);
});
