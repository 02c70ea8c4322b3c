/**
 * fsops/land-files.ts on real files. Every case runs through the addon's landing threads (this file
 * as the runner starts it: the addon must be loaded) and through the pure-JS twin (the last test
 * runs this file again in a child with BLIT_NO_NATIVE=1), so both follow one set of rules.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type LandFailure, type LandJob, landFiles, writeRanges } from '../../src/fsops/land-files.js';
import { nativeAddon } from '../../src/fsops/native.js';
import { tempName } from '../../src/fsops/temp-path.js';
import { codeOf, reasonOf } from '../../src/util/errors.js';
import { MTIME_TOLERANCE_NS, modeOf, prng, T, tempDir } from '../helpers.js';

const NATIVE = process.env.BLIT_NO_NATIVE !== '1';
/** The addon lands through unnamed files (O_TMPFILE) unless told to take named temp files. */
const UNNAMED = NATIVE && process.env.BLIT_TEST_NO_TMPFILE !== '1';
/** The addon sets nanoseconds; Node's utimes lands on microseconds. */
const TOLERANCE_NS = NATIVE ? 0n : MTIME_TOLERANCE_NS;
const BASE_NS = BigInt(T) * 1_000_000_000n;

function job(dir: string, name: string, data: Uint8Array, over: Partial<LandJob> = {}): LandJob {
  return { dir, temp: tempName(), name, data, mode: 0o644, mtimeNs: BASE_NS + 123_456_789n, ...over };
}

function assertMtime(path: string, mtimeNs: bigint): void {
  const stats = lstatSync(path, { bigint: true });
  const off = stats.mtimeNs - mtimeNs;
  assert.ok(off >= -TOLERANCE_NS && off <= TOLERANCE_NS, `${path}: mtime ${stats.mtimeNs}, want ${mtimeNs}`);
  // atime = mtime, as blit sets times everywhere (read before the contents are).
  const offA = stats.atimeNs - mtimeNs;
  assert.ok(
    offA >= -TOLERANCE_NS && offA <= TOLERANCE_NS,
    `${path}: atime ${stats.atimeNs}, want ${mtimeNs}`,
  );
}

function noTemps(dir: string): void {
  assert.deepEqual(
    readdirSync(dir).filter((name) => name.startsWith('.blit-')),
    [],
    `temp files left in ${dir}`,
  );
}

function codes(failures: LandFailure[]): (string | undefined)[] {
  return failures.map((failure) => codeOf(failure));
}

const PATH_UNDER_TEST = !NATIVE
  ? 'pure JS (BLIT_NO_NATIVE=1)'
  : UNNAMED
    ? 'the native addon'
    : 'the native addon, named temp files (BLIT_TEST_NO_TMPFILE=1)';

test(`the path under test: ${PATH_UNDER_TEST}`, () => {
  if (NATIVE) assert.ok(nativeAddon(), 'npm install builds the native addon');
  else assert.equal(nativeAddon(), undefined);
});

test('a batch lands with exact contents, modes (0 and special bits as given) and mtimes, no temp left', async (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, 'sub'));
  const random = prng(7);
  const modes = [0o644, 0o600, 0o755, 0, 0o4755, 0o2750, 0o1777, 0o444, 0o7777];
  // One buffer holding every file, as the data plane's decoder hands them out: views at odd offsets.
  const pool = Buffer.alloc(600 * 9000 + 600 * 7);
  for (let i = 0; i < pool.length; i++) pool[i] = Math.floor(random() * 256);
  const jobs: LandJob[] = [];
  let offset = 1;
  for (let i = 0; i < 600; i++) {
    const size = i % 50 === 0 ? 0 : Math.floor(random() * 9000);
    const view = pool.subarray(offset, offset + size);
    offset += size + (i % 7);
    // Some as plain Uint8Arrays over the same memory, not Buffers.
    const data = i % 3 === 0 ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength) : view;
    const mtimeNs = BASE_NS + BigInt(i) * 1_000_003_579n + BigInt(Math.floor(random() * 1e9));
    const dir = i % 2 ? join(root, 'sub') : root;
    jobs.push(job(dir, `f${i}`, data, { mode: modes[i % modes.length]!, mtimeNs }));
  }
  const failures = await landFiles(jobs);
  assert.deepEqual(
    codes(failures),
    jobs.map(() => undefined),
  );
  for (const j of jobs) {
    const path = join(j.dir, j.name);
    assertMtime(path, j.mtimeNs);
    assert.equal(modeOf(path), j.mode, `${path}: mode`);
    assert.ok(lstatSync(path).isFile());
    assert.ok(readFileSync(path).equals(j.data), `${path}: contents`);
  }
  noTemps(root);
  noTemps(join(root, 'sub'));
  assert.equal(readdirSync(root).length, 301);
});

test('several batches at once all land', async (t) => {
  const root = tempDir(t);
  const batches = Array.from({ length: 6 }, (_, b) =>
    Array.from({ length: 100 }, (_, i) => job(root, `b${b}-${i}`, Buffer.from(`batch ${b} file ${i}`))),
  );
  const results = await Promise.all(batches.map((batch) => landFiles(batch)));
  for (const failures of results)
    assert.deepEqual(
      codes(failures),
      failures.map(() => undefined),
    );
  for (const batch of batches)
    for (const j of batch) assert.equal(readFileSync(join(root, j.name), 'utf8'), `${j.data}`);
  noTemps(root);
});

test("a directory's files in one batch: new, replacing a file or a link, empty, special modes; a directory in the way fails alone", async (t) => {
  const root = tempDir(t);
  writeFileSync(join(root, 'old-file'), 'old contents');
  symlinkSync('nowhere', join(root, 'old-link'));
  writeFileSync(join(root, 'target'), 'not to be followed');
  symlinkSync('target', join(root, 'link-to-target'));
  mkdirSync(join(root, 'a-dir'));
  const jobs = [
    ...Array.from({ length: 12 }, (_, i) =>
      job(root, `new-${i}`, Buffer.from(`new ${i}`), { mode: [0o644, 0o4755, 0o600][i % 3]! }),
    ),
    job(root, 'old-file', Buffer.from('replaced')),
    job(root, 'old-link', Buffer.from('a file now')),
    job(root, 'link-to-target', Buffer.from('the link replaced')),
    job(root, 'empty', Buffer.alloc(0), { mode: 0o640 }),
    job(root, 'a-dir', Buffer.from('cannot replace a directory')),
  ];
  const failures = await landFiles(jobs);
  assert.deepEqual(codes(failures), [...jobs.slice(0, -1).map(() => undefined), 'EISDIR']);
  for (const j of jobs.slice(0, -1)) {
    const path = join(j.dir, j.name);
    assertMtime(path, j.mtimeNs); // before the read, which moves the atime
    assert.ok(lstatSync(path).isFile(), `${path} is a file`);
    assert.ok(readFileSync(path).equals(j.data), `${path}: contents`);
    assert.equal(modeOf(path), j.mode, `${path}: mode`);
  }
  assert.equal(readFileSync(join(root, 'target'), 'utf8'), 'not to be followed');
  assert.ok(lstatSync(join(root, 'a-dir')).isDirectory());
  noTemps(root);
});

test('a temp name already taken fails with EEXIST: nothing planted is followed or changed, the others land', async (t) => {
  const root = tempDir(t);
  const outside = tempDir(t);
  const dst = join(root, 'dst');
  mkdirSync(dst);
  writeFileSync(join(outside, 'victim'), 'outside');
  // Files being replaced: each goes through its temp name on every path (a new file filled
  // unnamed needs none).
  for (const name of ['b', 'c', 'd']) writeFileSync(join(dst, name), `old ${name}`);
  const plantedFile = tempName();
  const plantedLink = tempName();
  const danglingLink = tempName();
  writeFileSync(join(dst, plantedFile), 'planted', { mode: 0o600 });
  symlinkSync(join(outside, 'victim'), join(dst, plantedLink));
  symlinkSync(join(outside, 'created'), join(dst, danglingLink));
  const jobs = [
    job(dst, 'a', Buffer.from('a')),
    job(dst, 'b', Buffer.from('new b'), { temp: plantedFile }),
    job(dst, 'c', Buffer.from('new c'), { temp: plantedLink }),
    job(dst, 'd', Buffer.from('new d'), { temp: danglingLink }),
    job(dst, 'e', Buffer.from('e')),
  ];
  const failures = await landFiles(jobs);
  assert.deepEqual(codes(failures), [undefined, 'EEXIST', 'EEXIST', 'EEXIST', undefined]);
  assert.equal(reasonOf(failures[1]), 'already exists');
  assert.equal(readFileSync(join(dst, plantedFile), 'utf8'), 'planted');
  assert.equal(modeOf(join(dst, plantedFile)), 0o600);
  assert.equal(readlinkSync(join(dst, plantedLink)), join(outside, 'victim'));
  assert.equal(readlinkSync(join(dst, danglingLink)), join(outside, 'created'));
  assert.equal(readFileSync(join(outside, 'victim'), 'utf8'), 'outside');
  assert.deepEqual(readdirSync(outside), ['victim']);
  assert.deepEqual(
    readdirSync(dst).sort(),
    ['a', 'b', 'c', 'd', 'e', plantedFile, plantedLink, danglingLink].sort(),
  );
  for (const name of ['b', 'c', 'd']) assert.equal(readFileSync(join(dst, name), 'utf8'), `old ${name}`);
  assert.equal(readFileSync(join(dst, 'a'), 'utf8'), 'a');
  assert.equal(readFileSync(join(dst, 'e'), 'utf8'), 'e');
});

test('a missing directory fails with ENOENT (a file where one should be: ENOTDIR), the others land', async (t) => {
  const root = tempDir(t);
  writeFileSync(join(root, 'file'), 'x');
  const jobs = [
    job(join(root, 'missing'), 'a', Buffer.from('a')),
    job(root, 'b', Buffer.from('b')),
    job(join(root, 'missing', 'deeper'), 'c', Buffer.from('c')),
    job(join(root, 'file'), 'd', Buffer.from('d')),
    job(root, 'e', Buffer.from('e')),
  ];
  const failures = await landFiles(jobs);
  assert.deepEqual(codes(failures), ['ENOENT', undefined, 'ENOENT', 'ENOTDIR', undefined]);
  assert.deepEqual(readdirSync(root).sort(), ['b', 'e', 'file']);
  // The caller makes the directory and lands the file again.
  mkdirSync(join(root, 'missing'));
  assert.deepEqual(codes(await landFiles([{ ...jobs[0]!, temp: tempName() }])), [undefined]);
  assert.equal(readFileSync(join(root, 'missing', 'a'), 'utf8'), 'a');
});

test('a directory named through /proc/self/fd/N, as the daemon pins them', {
  skip: !existsSync('/proc/self/fd'),
}, async (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, 'pinned'));
  const fd = openSync(join(root, 'pinned'), constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    const failures = await landFiles([
      job(`/proc/self/fd/${fd}`, 'f', Buffer.from('through the descriptor')),
    ]);
    assert.deepEqual(codes(failures), [undefined]);
  } finally {
    closeSync(fd);
  }
  assert.equal(readFileSync(join(root, 'pinned', 'f'), 'utf8'), 'through the descriptor');
  noTemps(join(root, 'pinned'));
});

test('an existing final name is replaced by rename (a new file; a link there is replaced, not followed)', async (t) => {
  const root = tempDir(t);
  const outside = tempDir(t);
  writeFileSync(join(root, 'old'), 'old contents', { mode: 0o600 });
  linkSync(join(root, 'old'), join(outside, 'hard'));
  const oldInode = statSync(join(root, 'old')).ino;
  writeFileSync(join(outside, 'victim'), 'outside');
  symlinkSync(join(outside, 'victim'), join(root, 'link'));
  const failures = await landFiles([
    job(root, 'old', Buffer.from('new'), { mode: 0o640 }),
    job(root, 'link', Buffer.from('not through the link')),
  ]);
  assert.deepEqual(codes(failures), [undefined, undefined]);
  assert.equal(readFileSync(join(root, 'old'), 'utf8'), 'new');
  assert.equal(modeOf(join(root, 'old')), 0o640);
  assert.notEqual(statSync(join(root, 'old')).ino, oldInode);
  // The old file was never written in place: its other name still has the old contents.
  assert.equal(readFileSync(join(outside, 'hard'), 'utf8'), 'old contents');
  assert.ok(lstatSync(join(root, 'link')).isFile());
  assert.equal(readFileSync(join(root, 'link'), 'utf8'), 'not through the link');
  assert.equal(readFileSync(join(outside, 'victim'), 'utf8'), 'outside');
  noTemps(root);
});

test('empty files land with their mode and mtime', async (t) => {
  const root = tempDir(t);
  const jobs = [
    job(root, 'empty-buffer', Buffer.alloc(0), { mode: 0o600, mtimeNs: BASE_NS + 1n }),
    job(root, 'empty-array', new Uint8Array(0), { mode: 0o755, mtimeNs: BASE_NS + 999_999_999n }),
    job(root, 'empty-view', Buffer.from('xyz').subarray(3), { mode: 0, mtimeNs: BASE_NS }),
  ];
  assert.deepEqual(codes(await landFiles(jobs)), [undefined, undefined, undefined]);
  for (const j of jobs) {
    const path = join(root, j.name);
    assertMtime(path, j.mtimeNs);
    assert.equal(statSync(path).size, 0);
    assert.equal(modeOf(path), j.mode);
  }
  noTemps(root);
});

test('a directory at the final name: the rename fails (EISDIR), the temp file is removed', async (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, 'dir'));
  writeFileSync(join(root, 'dir', 'inside'), 'kept');
  mkdirSync(join(root, 'empty-dir'));
  const failures = await landFiles([
    job(root, 'dir', Buffer.from('file')),
    job(root, 'empty-dir', Buffer.from('file')),
    job(root, 'ok', Buffer.from('ok')),
  ]);
  assert.deepEqual(codes(failures), ['EISDIR', 'EISDIR', undefined]);
  assert.equal(reasonOf(failures[0]), 'is a directory');
  assert.equal(readFileSync(join(root, 'dir', 'inside'), 'utf8'), 'kept');
  assert.ok(statSync(join(root, 'empty-dir')).isDirectory());
  assert.deepEqual(readdirSync(root).sort(), ['dir', 'empty-dir', 'ok']);
});

test('a temp or final name that is not a single name, or an empty directory, fails with EINVAL', async (t) => {
  const root = tempDir(t);
  // Each would otherwise land somewhere: in a/, in root's parent, at 'x' cut short at the NUL.
  mkdirSync(join(root, 'a'));
  mkdirSync(join(root, 'b'));
  const failures = await landFiles([
    job(root, 'f', Buffer.from('x'), { temp: `a/${tempName()}` }),
    job(join(root, 'b'), '..', Buffer.from('x')),
    job(root, 'a/f', Buffer.from('x')),
    job(root, 'x\0y', Buffer.from('x')),
    job(root, '', Buffer.from('x')),
    job(root, '.', Buffer.from('x')),
    job(root, 'f', Buffer.from('x'), { temp: '' }),
    job('', 'f', Buffer.from('x')),
    job(`${root}\0`, 'f', Buffer.from('x')),
    job(root, 'fine', Buffer.from('fine')),
  ]);
  assert.deepEqual(codes(failures), [...Array(9).fill('EINVAL'), undefined]);
  assert.equal(reasonOf(failures[0]), 'invalid argument');
  assert.deepEqual(readdirSync(root).sort(), ['a', 'b', 'fine']);
  assert.deepEqual(readdirSync(join(root, 'a')), []);
  assert.deepEqual(readdirSync(join(root, 'b')), []);
});

test('ranges land at their offsets, in any order, through views of shared buffers; a closed descriptor fails its range', async (t) => {
  const dir = tempDir(t, 'blit-land-ranges-');
  const path = join(dir, 'target');
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, 0o600);
  t.after(() => closeSync(fd));
  const whole = Buffer.alloc(300_000);
  const rand = prng(7);
  for (let i = 0; i < whole.length; i++) whole[i] = Math.floor(rand() * 256);
  // Out of order, uneven, and as views at odd offsets of one buffer.
  const cuts = [0, 1, 4096, 65_537, 200_000, whole.length];
  const ranges = cuts
    .slice(0, -1)
    .map((start, i) => ({ fd, offset: start, data: whole.subarray(start, cuts[i + 1]) }));
  const errors = await writeRanges([...ranges].reverse());
  assert.deepEqual(
    errors,
    ranges.map(() => undefined),
  );
  assert.ok(readFileSync(path).equals(whole));

  const closed = openSync(join(dir, 'closed'), constants.O_WRONLY | constants.O_CREAT, 0o600);
  closeSync(closed);
  const [bad] = await writeRanges([{ fd: closed, offset: 0, data: Buffer.from('x') }]);
  // The addon names the errnos a file operation meets; EBADF is not among them (EUNKNOWN there).
  assert.ok(bad !== undefined, 'the range on a closed descriptor failed');
  if (!NATIVE) assert.equal(codeOf(bad), 'EBADF', reasonOf(bad));
});

test('no jobs: nothing to do', async () => {
  assert.deepEqual(await landFiles([]), []);
});

test('data that is not a Uint8Array rejects the batch before any file lands', async (t) => {
  const root = tempDir(t);
  const bad = { ...job(root, 'f', Buffer.from('x')), data: 'text' as unknown as Uint8Array };
  await assert.rejects(landFiles([job(root, 'good', Buffer.from('good')), bad]), TypeError);
  assert.deepEqual(readdirSync(root), []);
});

if (NATIVE) {
  const addon = nativeAddon()!;

  test('native: a batch owes an answer (poolsIdle) until it is delivered', async (t) => {
    const root = tempDir(t);
    const landing = landFiles(
      Array.from({ length: 200 }, (_, i) => job(root, `f${i}`, Buffer.alloc(4096, i))),
    );
    // The call only queued the batch; cli/exit-now.ts must not end the process under it.
    assert.equal(addon.poolsIdle(), false);
    const failures = await landing;
    assert.equal(failures.filter(Boolean).length, 0);
    assert.equal(addon.poolsIdle(), true);
    assert.equal(readdirSync(root).length, 200);
  });

  /** Runs `body` in a fresh process that has the addon as `addon` and 500 files to land as `files`. */
  function inChild(root: string, body: string) {
    const addonPath = fileURLToPath(new URL('../../native/build/Release/blit_native.node', import.meta.url));
    // Plain JS: nothing but the landing job holds the event loop open.
    const script = `
      const addon = require(${JSON.stringify(addonPath)});
      const files = [];
      for (let i = 0; i < 500; i++) {
        files.push({ dir: ${JSON.stringify(root)}, temp: '.t' + i, name: 'f' + i, data: Buffer.alloc(8192, i),
                     mode: 0o644, mtimeSec: ${T}, mtimeNsec: 5 });
      }
      ${body}
    `;
    return spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  }

  test('native: a queued batch keeps the process alive until its answer, and nothing does afterwards', (t) => {
    const root = tempDir(t);
    const result = inChild(
      root,
      `addon.landFiles(files, (errnos) => console.log('answered, ' + errnos.filter((e) => e !== 0).length + ' failed'));`,
    );
    assert.equal(result.signal, null, 'the process ended on its own');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, 'answered, 0 failed\n');
    assert.equal(readdirSync(root).length, 500);
  });

  test('native: an answer whose callback throws holds the process no longer', (t) => {
    const root = tempDir(t);
    // Node 20 reports the exception as a warning (DEP0168) or, with the policy flag, as uncaught.
    const result = inChild(
      root,
      `process.on('uncaughtException', () => {});
       addon.landFiles(files, () => { console.log('answered'); throw new Error('in onDone'); });`,
    );
    assert.equal(result.signal, null, 'the process ended on its own');
    assert.equal(result.stdout, 'answered\n');
  });
}

if (UNNAMED) {
  // Run once more by the top-level run only (not again by these children).
  for (const [variable, shown] of [
    ['BLIT_NO_NATIVE', /pure JS \(BLIT_NO_NATIVE=1\)/],
    ['BLIT_TEST_NO_TMPFILE', /named temp files \(BLIT_TEST_NO_TMPFILE=1\)/],
  ] as const) {
    test(`the same cases hold with ${variable}=1`, () => {
      const env: NodeJS.ProcessEnv = { ...process.env, [variable]: '1' };
      delete env.NODE_TEST_CONTEXT;
      const result = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
        env,
        encoding: 'utf8',
        timeout: 120_000,
      });
      assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
      assert.match(result.stdout, shown);
      assert.doesNotMatch(result.stdout, /^not ok/m);
    });
  }
  test('native: a new file fills unnamed and a replacement under its temp name only once full', async (t) => {
    const root = tempDir(t);
    writeFileSync(join(root, 'replaced'), 'old');
    const big = Buffer.alloc(96 * 1024 * 1024, 7);
    /** The size of `name` in root, or undefined when it is gone (a temp name renamed meanwhile). */
    const sizeOf = (name: string) => statSync(join(root, name), { throwIfNoEntry: false })?.size;
    for (const name of ['fresh', 'replaced']) {
      const landing = landFiles([job(root, name, big)]);
      let answered = false;
      landing.then(() => {
        answered = true;
      });
      // Looked at between the event loop's turns while the landing thread writes (bounded: the
      // file is done in well under a second here; the loop ends with the answer or at 100,000).
      for (let look = 0; look < 100_000 && !answered; look++) {
        for (const entry of readdirSync(root)) {
          const size = sizeOf(entry);
          if (entry === 'replaced' && size === 3) continue;
          if (entry.startsWith('.blit-'))
            assert.equal(name, 'replaced', `a temp name for a new file: ${entry}`);
          else assert.ok(entry === 'fresh' || entry === 'replaced', entry);
          if (size !== undefined) assert.equal(size, big.length, `${entry} seen before it was full`);
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.deepEqual(codes(await landing), [undefined]);
      assert.equal(sizeOf(name), big.length);
    }
    noTemps(root);
  });
}
