/**
 * Directories copied whole on the native copy threads (engine/whole-dirs.ts), new ones and ones on
 * both sides, must give exactly what the walk gives: the same tree (contents, modes, mtimes to the
 * nanosecond, links, empty directories, deletions), the same report and the same failures, in every
 * compare mode. BLIT_NO_WHOLE_DIRS=1 runs the walk.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAddon } from '../../src/fsops/native.js';
import {
  assertSameTree,
  BLIT,
  blit,
  diffSnapshots,
  dirs,
  jsonReport,
  mtimeNs,
  prng,
  read,
  snapshot,
  T,
  tempDir,
  testConfigHome,
  writeFile,
} from '../helpers.js';

const raw = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => Buffer.from(p as string)));

/** Everything a new tree can hold, all of it below subdirectories (the root itself is walked). */
function richTree(src: string): void {
  writeFile(join(src, 'top.txt'), 'in the root', { mtime: T });
  writeFile(join(src, 'a/empty'), '', { mtime: T + 1 });
  writeFile(join(src, 'a/small.txt'), 'small\n'.repeat(100), { mode: 0o600, mtime: T + 2 });
  writeFile(join(src, 'a/big.bin'), Buffer.alloc(3 << 20, 7), { mode: 0o755, mtime: T + 3 });
  writeFile(join(src, 'a/setuid'), 'x', { mode: 0o4755, mtime: T + 4 });
  writeFile(join(src, 'a/open to all'), 'umask would narrow this', { mode: 0o777, mtime: T + 5 });
  writeFile(join(src, 'a/read only'), 'r', { mode: 0o444, mtime: T + 6 });
  writeFile(join(src, 'a/new\nline'), 'newline in the name', { mtime: T + 7 });
  writeFile(join(src, 'a/caf\u0065\u0301'), 'NFD name', { mtime: T + 8 });
  writeFile(join(src, 'a/-leading dash'), 'dash', { mtime: T + 9 });
  const deep = join(src, 'a/b/c/d/e');
  writeFile(join(deep, 'deep.txt'), 'deep', { mtime: T + 10 });
  mkdirSync(join(src, 'a/empty dir'));
  mkdirSync(join(src, 'sticky'));
  chmodSync(join(src, 'sticky'), 0o1777);
  writeFile(join(src, 'sticky/f'), 'f', { mtime: T + 11 });
  symlinkSync('small.txt', join(src, 'a/relative link'));
  symlinkSync('/nonexistent/target', join(src, 'a/dangling'));
  symlinkSync('../top.txt', join(src, 'a/b/up'));
  lutimesSync(join(src, 'a/relative link'), T + 12, T + 12);
  lutimesSync(join(src, 'a/dangling'), T + 13, T + 13);
  spawnSync('mkfifo', [join(src, 'a/fifo')]);
  // Directory times last, once their contents are in; one with nanoseconds.
  for (const [dir, mtime] of [
    ['a/b/c/d/e', T + 20],
    ['a/b/c/d', T + 21],
    ['a/b/c', T + 22],
    ['a/b', T + 23],
    ['a/empty dir', T + 24],
    ['sticky', T + 25],
  ] as const) {
    utimesSync(join(src, dir), mtime, mtime);
  }
  utimesSync(join(src, 'a'), new Date(T * 1000 + 123.456), new Date(T * 1000 + 123.456));
}

/** Entries blit refuses, each inside a new directory. */
function refusedEntries(src: string): void {
  writeFileSync(raw(`${src}/a/`, [0x66, 0xff, 0x6f]), 'name not UTF-8');
  symlinkSync(raw([0x74, 0xfe]), join(src, 'a/b/target not UTF-8'));
}

function copyBothWays(t: { after(fn: () => void): void }, build: (src: string) => void) {
  const root = tempDir(t);
  const { src } = dirs(root);
  build(src);
  const whole = join(root, 'whole');
  const walked = join(root, 'walked');
  const a = blit(['copy', '--json', `${src}/`, whole]);
  const b = blit(['copy', '--json', `${src}/`, walked], { env: { BLIT_NO_WHOLE_DIRS: '1' } });
  return { src, whole, walked, a, b };
}

function withoutTiming(report: ReturnType<typeof jsonReport>) {
  const { elapsedMs, destination, failures, ...rest } = report;
  return { ...rest, failures: [...failures].sort((x, y) => x.path.localeCompare(y.path)) };
}

test('a new tree copied whole on the copy threads equals the walk: files, modes, ns mtimes, links, empty dirs', (t) => {
  assert.ok(nativeAddon(), 'npm install builds the native addon');
  const { src, whole, walked, a, b } = copyBothWays(t, richTree);
  assert.equal(a.status, 0, a.stderr);
  assert.equal(b.status, 0, b.stderr);
  assert.equal(a.stderr, '');
  // Exact (within 1 ns, the helper's strict bound): both ways set times to the nanosecond.
  assert.deepEqual(diffSnapshots(snapshot(whole), snapshot(walked), { mtimeToleranceNs: 1n }), []);
  // And both equal the source, its FIFO included (engine/special-files.ts).
  const expected = snapshot(src);
  assert.deepEqual(
    diffSnapshots(snapshot(whole), expected, { mtimeToleranceNs: 1n, ignoreRootMtime: true }),
    [],
  );
  assert.deepEqual(withoutTiming(jsonReport(a)), withoutTiming(jsonReport(b)));
  assert.equal(read(join(whole, 'a/b/c/d/e/deep.txt')), 'deep');
  assert.equal(readFileSync(join(whole, 'a/big.bin')).length, 3 << 20);
});

test('refused names inside a new directory: the same failures, exit 2, the rest copied', (t) => {
  const { whole, walked, a, b } = copyBothWays(t, (src) => {
    richTree(src);
    refusedEntries(src);
  });
  assert.equal(a.status, 2, a.stderr);
  assert.equal(b.status, 2, b.stderr);
  const reportA = withoutTiming(jsonReport(a));
  assert.deepEqual(reportA, withoutTiming(jsonReport(b)));
  assert.deepEqual(
    reportA.failures.map((f) => f.path),
    ['a/b/target not UTF-8', 'a/f\\xffo'],
  );
  assert.match(a.stderr, /^blit: a\/f\\xffo: file name is not valid UTF-8; not supported$/m);
  assert.deepEqual(diffSnapshots(snapshot(whole), snapshot(walked), { mtimeToleranceNs: 1n }), []);
});

test('the perf history says how many directories went whole; a mirror after it finds nothing to do', (t) => {
  const root = tempDir(t);
  const { src, dst } = dirs(root);
  richTree(src);
  const config = join(root, 'config');
  const copy = blit(['copy', `${src}/`, dst], { env: { XDG_CONFIG_HOME: config } });
  assert.equal(copy.status, 0, copy.stderr);
  const [record] = readFileSync(join(config, 'blit', 'perf_local.jsonl'), 'utf8')
    .trim()
    .split('\n');
  // a, a/b, a/b/c, a/b/c/d, a/b/c/d/e, a/empty dir, sticky
  assert.equal(JSON.parse(record!).copied.wholeDirs, 7);
  const again = jsonReport(
    blit(['mirror', '--yes', '--json', `${src}/`, dst], { env: { XDG_CONFIG_HOME: testConfigHome() } }),
  );
  assert.equal(again.copied + again.updated + again.deleted + again.failed, 0, JSON.stringify(again));
});

test('a mirror into a partly existing tree copies its new directories whole and converges', (t) => {
  const root = tempDir(t);
  const { src, dst } = dirs(root);
  richTree(src);
  writeFile(join(dst, 'a/stale.txt'), 'deleted by the mirror');
  writeFile(join(dst, 'gone/x'), 'deleted too');
  const result = blit(['mirror', '--yes', `${src}/`, dst]);
  assert.equal(result.status, 0, result.stderr);
  const expected = snapshot(src);
  assert.deepEqual(
    diffSnapshots(snapshot(dst), expected, { mtimeToleranceNs: 1n, ignoreRootMtime: true }),
    [],
  );
  assertSameTree(join(dst, 'a/b'), join(src, 'a/b'));
});

/**
 * A destination that differs from richTree in every way the compare rules tell apart, all below
 * directories that exist on both sides.
 */
function divergedDestination(src: string, dst: string): void {
  cpSync(src, dst, {
    recursive: true,
    preserveTimestamps: true,
    verbatimSymlinks: true,
    filter: (p: string) => !p.endsWith('fifo'),
  });
  // Same size, other content, same mtime: only --checksum and --ignore-times see it.
  writeFile(join(dst, 'a/small.txt'), 'SMALL\n'.repeat(100), { mode: 0o600, mtime: T + 2 });
  // Same content, other mode and mtime: a metadata update.
  chmodSync(join(dst, 'a/setuid'), 0o644);
  utimesSync(join(dst, 'a/setuid'), T + 100, T + 100);
  // Other size.
  writeFile(join(dst, 'a/b/c/d/e/deep.txt'), 'deeper than before', { mtime: T + 10 });
  // Same size, other mtime (default compare copies it, --size-only only sets its mtime).
  writeFile(join(dst, 'a/empty'), '', { mtime: T + 50 });
  // A link with another target.
  rmSync(join(dst, 'a/relative link'));
  symlinkSync('elsewhere', join(dst, 'a/relative link'));
  // Kinds swapped: a directory where the source has a file, a file where it has a directory.
  rmSync(join(dst, 'a/read only'), { force: true });
  writeFile(join(dst, 'a/read only/inside'), 'in the way');
  rmSync(join(dst, 'a/b/c/d/e'), { recursive: true });
  writeFile(join(dst, 'a/b/c/d/e'), 'a file in the way');
  // Extra entries a mirror deletes, a stale temp file, and a name that is not UTF-8 (never deleted).
  writeFile(join(dst, 'a/extra.txt'), 'not in the source');
  writeFile(join(dst, 'sticky/extra dir/x'), 'not in the source');
  writeFile(join(dst, 'a/.blit-999999999-0123456789ab.tmp'), 'left by a dead run');
  // Every time fixed, so that two such trees are alike to the nanosecond.
  for (const [rel, node] of snapshot(dst))
    if (node.mtimeNs > BigInt(T + 1000) * 10n ** 9n) lutimesSync(join(dst, rel), T + 200, T + 200);
}

for (const [verb, flags] of [
  ['mirror', []],
  ['mirror', ['-c']],
  ['mirror', ['--size-only']],
  ['mirror', ['--ignore-times']],
  ['copy', []],
  ['copy', ['--ignore-existing']],
] as const) {
  test(`${verb} ${flags.join(' ') || '(default compare)'} onto an existing tree: the same as the walk`, (t) => {
    const root = tempDir(t);
    const { src } = dirs(root);
    richTree(src);
    const whole = join(root, 'whole');
    const walked = join(root, 'walked');
    divergedDestination(src, whole);
    divergedDestination(src, walked);
    const args = [verb, ...flags, '--json', ...(verb === 'mirror' ? ['--yes'] : [])];
    const config = join(root, 'config');
    const a = blit([...args, `${src}/`, whole], { env: { XDG_CONFIG_HOME: config } });
    const b = blit([...args, `${src}/`, walked], { env: { BLIT_NO_WHOLE_DIRS: '1' } });
    assert.equal(a.status, b.status, `${a.stderr}\n---\n${b.stderr}`);
    assert.deepEqual(withoutTiming(jsonReport(a)), withoutTiming(jsonReport(b)));
    assert.deepEqual(diffSnapshots(snapshot(whole), snapshot(walked), { mtimeToleranceNs: 1n }), []);
    const [record] = readFileSync(join(config, 'blit', 'perf_local.jsonl'), 'utf8')
      .trim()
      .split('\n');
    assert.ok(JSON.parse(record!).copied.wholeDirs >= 3, 'the copy threads took directories whole');
    if (verb === 'mirror') {
      const expected = snapshot(src);
      const lines = diffSnapshots(snapshot(whole), expected, { mtimeToleranceNs: 1n, ignoreRootMtime: true });
      // Only these see the same-size, same-mtime edit of a/small.txt: then the mirror equals the source.
      if (flags[0] === '-c' || flags[0] === '--ignore-times') assert.deepEqual(lines, []);
      else assert.deepEqual(lines, ['"a/small.txt": contents differ (600 vs 600 bytes)']);
    }
  });
}

/** Excludes the copy threads apply themselves (filter.ts nativeExcludes): names, kinds, a leading star. */
const EXCLUDES = [
  '--exclude',
  '*.txt',
  '--exclude',
  'e/',
  '--exclude',
  'extra*',
  '--exclude',
  '*line',
  '--exclude',
  'read only',
];

for (const [verb, flags] of [
  ['copy', []],
  ['mirror', []],
  ['mirror', ['--delete-excluded']],
] as const) {
  test(`${verb} ${flags.join(' ')} with --exclude onto an existing tree and into a new one: the same as the walk`, (t) => {
    const root = tempDir(t);
    const { src } = dirs(root);
    richTree(src);
    // A leading newline: picomatch's '*' matches no name that starts with one, so this is copied.
    writeFile(join(src, 'a/\nstarts with a newline.txt'), 'kept');
    writeFile(join(src, 'sticky/notes.txt'), 'excluded');
    const args = [verb, ...flags, ...EXCLUDES, '--json', ...(verb === 'mirror' ? ['--yes'] : [])];
    for (const existing of [true, false]) {
      const whole = join(root, `whole-${existing}`);
      const walked = join(root, `walked-${existing}`);
      if (existing) {
        for (const dst of [whole, walked]) {
          divergedDestination(src, dst);
          // Only here: a mirror deletes the directory but spares the excluded file in it.
          writeFile(join(dst, 'a/gone/inner.txt'), 'excluded, spared', { mtime: T + 300 });
          writeFile(join(dst, 'a/gone/x'), 'deleted', { mtime: T + 300 });
          utimesSync(join(dst, 'a/gone'), T + 300, T + 300);
        }
      }
      const config = join(root, `config-${existing}`);
      const a = blit([...args, `${src}/`, whole], { env: { XDG_CONFIG_HOME: config } });
      const b = blit([...args, `${src}/`, walked], { env: { BLIT_NO_WHOLE_DIRS: '1' } });
      assert.equal(a.status, b.status, `${a.stderr}\n---\n${b.stderr}`);
      assert.deepEqual(withoutTiming(jsonReport(a)), withoutTiming(jsonReport(b)));
      // a/gone, emptied but for its spared file, takes the time of the deletion.
      const differences = diffSnapshots(snapshot(whole), snapshot(walked), { mtimeToleranceNs: 1n });
      assert.deepEqual(
        differences.filter((line) => !line.startsWith('"a/gone": mtime')),
        [],
      );
      const [record] = readFileSync(join(config, 'blit', 'perf_local.jsonl'), 'utf8')
        .trim()
        .split('\n');
      assert.ok(JSON.parse(record!).copied.wholeDirs >= 3, 'the copy threads took directories whole');
      assert.equal(read(join(whole, 'a/\nstarts with a newline.txt')), 'kept');
      if (existing && verb === 'mirror') {
        assert.equal(existsSync(join(whole, 'a/gone/x')), false);
        assert.equal(existsSync(join(whole, 'a/gone/inner.txt')), flags.length === 0);
      }
      if (!existing) {
        const names = [...snapshot(whole).keys()];
        assert.deepEqual(
          names.filter((rel) => /\.txt$|(^|\/)e$|line$|read only/.test(rel) && !rel.includes('\nstarts')),
          [],
        );
      }
    }
  });
}

test('random names and --exclude patterns: the copy threads leave out what the walk leaves out', (t) => {
  const random = prng(20261125);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const pieces = [
    'a',
    'b',
    '.',
    'x.tmp',
    'README.',
    'é',
    ' ',
    '\n',
    '\r',
    'log',
    '~',
    ',',
    '-',
    '"',
    '|',
    '$',
    '^',
    'node_modules',
    '\u2028',
  ];
  const nameOf = () => {
    let name = '';
    for (let n = 1 + Math.floor(random() * 4); n > 0; n--) name += pick(pieces);
    return name === '.' || name === '..' ? 'dot' : name;
  };
  let excludedSome = 0;
  let wentWhole = 0;
  for (let round = 0; round < 8; round++) {
    const root = tempDir(t);
    const { src } = dirs(root);
    for (let i = 0; i < 60; i++) {
      const dir = join(src, `d${i % 3}`, ...(random() < 0.3 ? [nameOf()] : []));
      try {
        writeFile(join(dir, nameOf()), String(i));
      } catch {
        // A name taken by a directory, or a directory name taken by a file: leave this one out.
      }
    }
    // A literal piece always, with stars around or inside it, sometimes for directories only.
    const patterns: string[] = [];
    for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
      const star = () => (random() < 0.5 ? '*' : '');
      const tail = random() < 0.4 ? `*${pick(pieces)}` : '';
      patterns.push(`${star()}${pick(pieces)}${tail}${star()}${random() < 0.25 ? '/' : ''}`);
    }
    const args = patterns.flatMap((p) => ['--exclude', p]);
    const whole = join(root, 'whole');
    const walked = join(root, 'walked');
    const config = join(root, 'config');
    const a = blit(['copy', ...args, `${src}/`, whole], { env: { XDG_CONFIG_HOME: config } });
    const b = blit(['copy', ...args, `${src}/`, walked], { env: { BLIT_NO_WHOLE_DIRS: '1' } });
    assert.equal(a.status, 0, a.stderr);
    assert.equal(b.status, 0, b.stderr);
    const [record] = readFileSync(join(config, 'blit', 'perf_local.jsonl'), 'utf8')
      .trim()
      .split('\n');
    if (JSON.parse(record!).copied.wholeDirs > 0) wentWhole++;
    assert.equal(existsSync(whole), existsSync(walked), `patterns ${JSON.stringify(args)}`);
    if (!existsSync(whole)) continue;
    if (snapshot(whole).size < snapshot(src).size) excludedSome++;
    assert.deepEqual(
      diffSnapshots(snapshot(whole), snapshot(walked), { mtimeToleranceNs: 1n }),
      [],
      `patterns ${JSON.stringify(args)}`,
    );
  }
  assert.ok(excludedSome >= 4, `patterns left something out in ${excludedSome} of 8 rounds`);
  assert.ok(wentWhole >= 3, `the copy threads took directories whole in ${wentWhole} of 8 rounds`);
});

test('a mirror never deletes a destination name that is not UTF-8, nor a temp file still being written', (t) => {
  const root = tempDir(t);
  const { src, dst } = dirs(root);
  writeFile(join(src, 'sub/keep.txt'), 'kept');
  writeFile(join(dst, 'sub/keep.txt'), 'old');
  writeFileSync(raw(`${dst}/sub/`, [0x78, 0xff]), 'name not UTF-8');
  // A live writer (this test process) and a dead one.
  const live = `.blit-${process.pid}-0123456789ab.tmp`;
  writeFile(join(dst, 'sub', live), 'being written');
  writeFile(join(dst, 'sub/.blit-999999999-0123456789ab.tmp'), 'left by a dead run');
  symlinkSync('a link target', join(dst, 'sub/.blit-999999999-0123456789ac.tmp'));
  symlinkSync('a link target', join(dst, '.blit-999999999-0123456789ad.tmp'));
  const config = join(root, 'config');
  const result = blit(['mirror', '--yes', `${src}/`, dst], { env: { XDG_CONFIG_HOME: config } });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(readFileSync(raw(`${dst}/sub/`, [0x78, 0xff]), 'utf8'), 'name not UTF-8');
  assert.equal(read(join(dst, 'sub', live)), 'being written');
  assert.equal(read(join(dst, 'sub/keep.txt')), 'kept');
  assert.deepEqual(
    readdirSync(join(dst, 'sub')).filter((name) => name.startsWith('.blit-')),
    [live],
    "the dead run's temp file and link are gone",
  );
  assert.deepEqual(
    readdirSync(dst).filter((name) => name.startsWith('.blit-')),
    [],
    "the dead run's temp link at the root is gone",
  );
  const [record] = readFileSync(join(config, 'blit', 'perf_local.jsonl'), 'utf8')
    .trim()
    .split('\n');
  assert.equal(JSON.parse(record!).copied.wholeDirs, 1);
});

test('more directories than go out at once (64): every one is copied, then found up to date', (t) => {
  const root = tempDir(t);
  const { src, dst } = dirs(root);
  for (let i = 0; i < 150; i++)
    writeFile(join(src, `d${i}`, 'deeper', `f${i}`), `file ${i}`, { mtime: T + i });
  const config = join(root, 'config');
  const copy = blit(['copy', '--json', `${src}/`, dst], { env: { XDG_CONFIG_HOME: config } });
  assert.equal(copy.status, 0, copy.stderr);
  assert.equal(jsonReport(copy).copied, 450, 'a directory, a subdirectory and a file each');
  assertSameTree(dst, src, { ignoreRootMtime: true });
  const again = jsonReport(
    blit(['mirror', '--yes', '--json', `${src}/`, dst], { env: { XDG_CONFIG_HOME: config } }),
  );
  assert.equal(again.copied + again.updated + again.deleted + again.failed, 0, JSON.stringify(again));
  const records = readFileSync(join(config, 'blit', 'perf_local.jsonl'), 'utf8')
    .trim()
    .split('\n');
  assert.deepEqual(
    records.map((line) => JSON.parse(line).copied.wholeDirs),
    [300, 300],
  );
});

interface ProgressEvent {
  entriesFound: number;
  entriesDone: number;
  bytesNeeded: number;
  scanComplete: boolean;
}

/** The events a run with --json --progress wrote on stderr. */
function progressEvents(stderr: string): ProgressEvent[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as ProgressEvent);
}

test('progress counts the entries of a directory job while it runs, not only when it ends', (t) => {
  if (!nativeAddon()) return t.skip('the native addon is not built');
  const root = tempDir(t);
  const { src, dst } = dirs(root);
  for (let i = 0; i < 30; i++) writeFile(join(src, 'one dir', `f${i}`), `file ${i}`);
  // 30 files at 40 ms each on one copy thread: a job of over a second, progress every 500 ms.
  const r = blit(['copy', '--json', '--progress', `${src}/`, dst], {
    env: { BLIT_TEST_HANG: 'copy-each:40' },
  });
  assert.equal(r.status, 0, r.stderr);
  const events = progressEvents(r.stderr);
  const midway = events.filter((e) => e.entriesDone > 1 && e.entriesDone < 31);
  assert.ok(midway.length > 0, `no event inside the job: ${JSON.stringify(events)}`);
  for (const e of events) assert.ok(e.entriesDone <= e.entriesFound, JSON.stringify(e));
  assert.equal(jsonReport(r).copied, 31);
  assert.equal(read(join(dst, 'one dir', 'f29')), 'file 29');
});

test('a new tree copied by directory jobs shows its totals, complete, while they still copy', (t) => {
  assert.ok(nativeAddon(), 'npm install builds the native addon');
  const root = tempDir(t);
  const { src, dst } = dirs(root);
  const size = 64 * 1024;
  for (const dir of ['a', 'b/deeper']) {
    for (let i = 0; i < 6; i++) writeFile(join(src, dir, `f${i}`), 'x'.repeat(size));
  }
  // 6 files at 300 ms each per job: nearly 2 s of copying after every directory is listed, with a
  // JSON event every second.
  const r = blit(['copy', '--json', '--progress', `${src}/`, dst], {
    env: { BLIT_TEST_HANG: 'copy-each:300' },
  });
  assert.equal(r.status, 0, r.stderr);
  const events = progressEvents(r.stderr);
  // a, b, b/deeper and 12 files; the directory jobs list them before copying.
  const known = events.filter((e) => e.scanComplete && e.entriesDone < e.entriesFound);
  assert.ok(known.length > 0, `no complete totals while copying: ${JSON.stringify(events)}`);
  for (const e of known) {
    assert.equal(e.entriesFound, 15, JSON.stringify(e));
    assert.equal(e.bytesNeeded, 12 * size, JSON.stringify(e));
  }
  assert.equal(jsonReport(r).copied, 15);
  assert.equal(read(join(dst, 'b', 'deeper', 'f5')), 'x'.repeat(size));
});

test("a mirror's totals are not complete before the directories it walks after its deletions", (t) => {
  assert.ok(nativeAddon(), 'npm install builds the native addon');
  const root = tempDir(t);
  const { src, dst } = dirs(root);
  const size = 64 * 1024;
  // More than a tiny job's 8 files each, so neither is copied on the main thread (no events then).
  for (const dir of ['a', 'b']) {
    for (let i = 0; i < 10; i++) writeFile(join(src, dir, `f${i}`), 'x'.repeat(size));
  }
  // A file where the source has directory b: b is walked only after the deletions.
  writeFile(join(dst, 'b'), 'in the way');
  const r = blit(['mirror', '--yes', '--json', '--progress', `${src}/`, dst], {
    env: { BLIT_TEST_HANG: 'copy-each:200' },
  });
  assert.equal(r.status, 0, r.stderr);
  const events = progressEvents(r.stderr);
  const complete = events.filter((e) => e.scanComplete);
  assert.ok(complete.length > 0, JSON.stringify(events));
  const most = Math.max(...events.map((e) => e.bytesNeeded));
  assert.equal(most, 20 * size);
  for (const e of complete) assert.equal(e.bytesNeeded, most, `complete too early: ${JSON.stringify(e)}`);
  assert.equal(read(join(dst, 'b', 'f9')), 'x'.repeat(size));
});

/** A temp name (fsops/temp-path.ts): what a new directory is filled under before it takes its own. */
const STAGE = /^\.blit-\d+-[0-9a-f]{12}\.tmp$/;

/** The staging directories in `dir` (none when `dir` is missing). */
function stagesIn(dir: string): string[] {
  try {
    // Directories only: a file's temp name (top.txt being copied beside them) comes and goes.
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && STAGE.test(entry.name))
      .map((entry) => entry.name);
  } catch {
    return [];
  }
}

/** How many entries `dir` holds (0 once it is gone: renamed into place). */
function filesIn(dir: string): number {
  try {
    return readdirSync(dir).length;
  } catch {
    return 0;
  }
}

/** Starts a copy of `src/` to `dst` with every file slowed down (150 ms each). */
function startSlowCopy(src: string, dst: string, flags: string[] = []) {
  assert.ok(nativeAddon(), 'npm install builds the native addon');
  const child = spawn(process.execPath, [BLIT, 'copy', ...flags, `${src}/`, dst], {
    env: {
      ...process.env,
      XDG_CONFIG_HOME: testConfigHome(),
      BLIT_DISABLE_PERF_HISTORY: '1',
      BLIT_TEST_HANG: 'copy-each:150',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  exited.finally(() => clearTimeout(timer));
  /** Polls `found` (bounded, 20 s) until it gives a value while the copy runs. */
  const waitFor = async <V>(found: () => V | undefined, what: string): Promise<V> => {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && child.exitCode === null) {
      const value = found();
      if (value !== undefined) return value;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.fail(`${what} did not happen while the copy ran`);
  };
  return { child, exited, waitFor, stdout: () => stdout, stderr: () => stderr };
}

/** A slow copy, once the job for `a` has put a file in its staging directory. */
async function copyUntilStaged(src: string, dst: string, flags: string[] = []) {
  const run = startSlowCopy(src, dst, flags);
  const stage = await run.waitFor(
    () => stagesIn(dst).find((name) => filesIn(join(dst, name)) > 0),
    `a staging directory with a file in it in ${dst}`,
  );
  return { ...run, stage };
}

/** 12 files in the new directory `a`: at 150 ms each, its job runs for about 1.8 s. */
function slowTree(src: string): void {
  for (let i = 0; i < 12; i++) writeFile(join(src, 'a', `f${i}`), `file ${i}\n`.repeat(20), { mtime: T + i });
  writeFile(join(src, 'top.txt'), 'in the root', { mtime: T });
}

test('a new directory is filled under a temp name: killed mid-way, it never shows; the next run removes it and copies', async (t) => {
  const root = tempDir(t);
  const { src, dst } = dirs(root);
  slowTree(src);
  const run = await copyUntilStaged(src, dst);
  assert.equal(existsSync(join(dst, 'a')), false, 'the directory shows only once filled');
  run.child.kill('SIGKILL');
  await run.exited;
  assert.equal(existsSync(join(dst, 'a')), false, 'a killed run leaves no partial directory under its name');
  assert.deepEqual(stagesIn(dst), [run.stage]);
  const again = blit(['copy', `${src}/`, dst]);
  assert.equal(again.status, 0, again.stderr);
  assertSameTree(dst, src, { ignoreRootMtime: true });
  assert.deepEqual(stagesIn(dst), [], "the dead run's staging directory is gone");
});

test('a directory that appears while its job fills the temp one is joined; what it holds is never replaced', async (t) => {
  const root = tempDir(t);
  const { src, dst } = dirs(root);
  slowTree(src);
  const run = await copyUntilStaged(src, dst, ['--json']);
  writeFile(join(dst, 'a', 'theirs.txt'), 'made by someone else meanwhile');
  writeFile(join(dst, 'a', 'f0'), 'theirs too');
  assert.deepEqual(stagesIn(dst), [run.stage], 'the job was still filling when the directory appeared');
  assert.equal(await run.exited, 2, run.stderr());
  assert.equal(read(join(dst, 'a', 'theirs.txt')), 'made by someone else meanwhile');
  assert.equal(read(join(dst, 'a', 'f0')), 'theirs too');
  for (let i = 1; i < 12; i++) {
    assert.equal(read(join(dst, 'a', `f${i}`)), `file ${i}\n`.repeat(20));
    assert.equal(mtimeNs(join(dst, 'a', `f${i}`)), mtimeNs(join(src, 'a', `f${i}`)));
  }
  assert.equal(
    run.stderr(),
    `blit: a/f0: cannot move into place: already exists; left in ${run.stage} (a later run removes it)\n`,
  );
  const report = JSON.parse(run.stdout());
  // top.txt, the directory and 11 of its 12 files.
  assert.equal(report.copied, 13);
  assert.equal(report.failed, 1);
  assert.equal(read(join(dst, run.stage, 'f0')), 'file 0\n'.repeat(20));
  assert.deepEqual(stagesIn(join(dst, 'a')), []);
});

test('a symbolic link that takes the name meanwhile is not written through: the copy stays under the temp name', async (t) => {
  const root = tempDir(t);
  const { src, dst } = dirs(root);
  slowTree(src);
  const outside = join(root, 'outside');
  mkdirSync(outside);
  const run = await copyUntilStaged(src, dst);
  symlinkSync(outside, join(dst, 'a'));
  assert.equal(await run.exited, 2, run.stderr());
  assert.deepEqual(readdirSync(outside), [], 'nothing went through the link');
  assert.match(
    run.stderr(),
    new RegExp(`a: cannot move into place: .*; what it holds is left in ${run.stage.replace(/\./g, '\\.')}`),
  );
  assert.deepEqual(stagesIn(dst), [run.stage]);
  assert.equal(read(join(dst, 'top.txt')), 'in the root');
});

test("a dead run's staging directory is removed at the end one entry at a time, beating the stall detector", (t) => {
  const root = tempDir(t);
  const { src, dst } = dirs(root);
  writeFile(join(src, 'sub/new.txt'), 'new');
  const stale = '.blit-999999999-0123456789ab.tmp';
  for (let i = 0; i < 60; i++) writeFile(join(dst, stale, `f${i}`), 'left by a dead run');
  writeFile(join(dst, 'sub', stale, 'deeper', 'g'), 'left by a dead run too');
  // 64 removals (62 entries and the two directories) at 25 ms each: 1.6 s, three times the
  // stall time-out.
  const started = Date.now();
  const r = blit(['copy', `${src}/`, dst], {
    env: { BLIT_STALL_TIMEOUT_MS: '500', BLIT_TEST_HANG: 'delete-each:25' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Date.now() - started > 1_500, 'the removals went one by one through the slowed deletion step');
  assert.equal(r.stderr, '');
  assert.equal(existsSync(join(dst, stale)), false);
  assert.equal(existsSync(join(dst, 'sub', stale)), false);
  assert.equal(read(join(dst, 'sub/new.txt')), 'new');
});

test('a new directory of more than 64 MiB takes its name at once: a killed run keeps the files it finished', async (t) => {
  const root = tempDir(t);
  const { src, dst } = dirs(root);
  // 65 MiB without writing them: a sparse file reads as zeros.
  writeFile(join(src, 'big', 'huge.bin'), '', { mtime: T });
  truncateSync(join(src, 'big', 'huge.bin'), 65 << 20);
  utimesSync(join(src, 'big', 'huge.bin'), T, T);
  for (let i = 0; i < 8; i++) writeFile(join(src, 'big', `f${i}`), `file ${i}\n`, { mtime: T + i });
  utimesSync(join(src, 'big'), T, T);
  const run = startSlowCopy(src, dst);
  const landed = (): string[] | undefined => {
    const names = filesIn(join(dst, 'big')) > 0 ? readdirSync(join(dst, 'big')) : [];
    const done = names.filter((name) => /^f\d$/.test(name));
    // Shown while incomplete: staged, it would appear only with all nine.
    const complete = names.filter((name) => !name.startsWith('.blit-')).length === 9;
    return done.length >= 2 && !complete ? done : undefined;
  };
  const done = await run.waitFor(landed, 'big/ showing two files while incomplete');
  run.child.kill('SIGKILL');
  await run.exited;
  assert.deepEqual(stagesIn(dst), [], 'not staged');
  for (const name of done) assert.equal(read(join(dst, 'big', name)), read(join(src, 'big', name)));
  const again = blit(['copy', `${src}/`, dst]);
  assert.equal(again.status, 0, again.stderr);
  assertSameTree(dst, src, { ignoreRootMtime: true });
  assert.deepEqual(
    readdirSync(join(dst, 'big')).filter((name) => name.startsWith('.blit-')),
    [],
    "the killed run's temp file is gone",
  );
});

test("a removal of a dead run's staging directory that hangs is named by the stall detector", (t) => {
  const root = tempDir(t);
  const { src, dst } = dirs(root);
  writeFile(join(src, 'new.txt'), 'new');
  const stale = '.blit-999999999-0123456789ab.tmp';
  writeFile(join(dst, stale, 'f'), 'left by a dead run');
  const r = blit(['copy', `${src}/`, dst], {
    env: { BLIT_STALL_TIMEOUT_MS: '1000', BLIT_TEST_HANG: `delete:${stale}` },
  });
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(
      `^blit: stalled: no progress for 1 s; in flight: delete: removing ${stale.replace(/\./g, '\\.')}\n$`,
    ),
  );
});

test('entries of another kind on each side, handed back by a directory job, count in the perf record', (t) => {
  const root = tempDir(t);
  const { src, dst } = dirs(root);
  for (let i = 0; i < 20; i++) writeFile(join(src, 'X', `f${i}`), `f${i}\n`);
  for (let i = 0; i < 3; i++) {
    writeFile(join(src, 'X', `l${i}`), 'a file here\n');
    mkdirSync(join(dst, 'X'), { recursive: true });
    symlinkSync('nowhere', join(dst, 'X', `l${i}`));
  }
  const config = join(root, 'config');
  const r = blit(['copy', '--json', `${src}/`, dst], { env: { XDG_CONFIG_HOME: config } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(jsonReport(r).copied, 23);
  for (let i = 0; i < 3; i++) assert.equal(read(join(dst, 'X', `l${i}`)), 'a file here\n');
  const [record] = readFileSync(join(config, 'blit', 'perf_local.jsonl'), 'utf8')
    .trim()
    .split('\n');
  const copied = JSON.parse(record!).copied;
  assert.equal(copied.wholeDirs, 1, 'X went whole');
  // 20 files of 4 or 5 bytes and the 3 replacements of 12.
  assert.deepEqual(
    { files: copied.files, bytes: copied.bytes },
    { files: 23, bytes: 10 * 3 + 10 * 4 + 3 * 12 },
  );
});
