/**
 * `blit copy`: the real CLI on real temp trees. Copy writes new and changed entries, keeps their
 * metadata, follows rsync's trailing-slash rules, and never deletes anything.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  assertSameTree,
  blit,
  blitUnprivileged,
  diffSnapshots,
  dirs,
  isOneLineError,
  jsonReport,
  MTIME_TOLERANCE_NS,
  modeOf,
  mtimeNs,
  read,
  setMtime,
  snapshot,
  T,
  tempDir,
  writeFile,
} from '../helpers.js';

/** The times are set by the native addon when it is built, by Node's utimes otherwise: test both. */
const TIME_PATHS: [string, Record<string, string>][] = [
  ['default', {}],
  ['pure-JS path, BLIT_NO_NATIVE=1', { BLIT_NO_NATIVE: '1' }],
];

/** Creates a file whose mtime is set to the nanosecond by touch(1), and checks that it was. */
function touchAt(path: string, stamp: string, expectedNs: bigint): void {
  writeFile(path, stamp);
  const result = spawnSync('touch', ['-d', `@${stamp}`, path], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(mtimeNs(path), expectedNs, `touch set the mtime of ${path}`);
}

function assertMtimeClose(actual: string, expected: string): void {
  const a = mtimeNs(actual);
  const e = mtimeNs(expected);
  const diff = a > e ? a - e : e - a;
  assert.ok(diff < MTIME_TOLERANCE_NS, `${actual}: mtime ${a} ns, expected ${e} ns (off by ${diff} ns)`);
}

describe('copy: what is written', () => {
  test('copies new and changed files, skips unchanged ones and deletes nothing', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'same.txt'), 'same', { mtime: T });
    writeFile(join(src, 'changed.txt'), 'new contents', { mtime: T + 10 });
    writeFile(join(src, 'new/deep.txt'), 'deep', { mtime: T });
    writeFile(join(dst, 'same.txt'), 'same', { mtime: T });
    writeFile(join(dst, 'changed.txt'), 'old', { mtime: T });
    writeFile(join(dst, 'extra.txt'), 'keep me');
    mkdirSync(join(dst, 'extra-dir/sub'), { recursive: true });
    symlinkSync('same.txt', join(dst, 'extra-link'));
    const sameInode = statSync(join(dst, 'same.txt')).ino;

    const result = blit(['copy', `${src}/`, dst, '--json']);

    assert.equal(result.status, 0, result.stderr);
    const report = jsonReport(result);
    assert.equal(report.copied, 3, 'changed.txt, new/ and new/deep.txt');
    assert.equal(report.skipped, 1);
    assert.equal(report.deleted, 0);
    assert.equal(read(join(dst, 'changed.txt')), 'new contents');
    assert.equal(read(join(dst, 'new/deep.txt')), 'deep');
    assert.equal(statSync(join(dst, 'same.txt')).ino, sameInode, 'an unchanged file is not rewritten');
    assert.equal(read(join(dst, 'extra.txt')), 'keep me');
    assert.ok(statSync(join(dst, 'extra-dir/sub')).isDirectory());
    assert.equal(readlinkSync(join(dst, 'extra-link')), 'same.txt');
  });

  test('a second copy of an unchanged tree copies nothing', (t) => {
    const { src, dst } = dirs(tempDir(t));
    for (let i = 0; i < 20; i++) writeFile(join(src, `d${i % 3}/f${i}`), `file ${i}`, { mtime: T + i });
    symlinkSync('d0', join(src, 'link'));
    assert.equal(blit(['copy', `${src}/`, dst]).status, 0);

    const again = blit(['copy', `${src}/`, dst, '--json']);

    assert.equal(again.status, 0, again.stderr);
    const report = jsonReport(again);
    assert.equal(report.copied, 0);
    assert.equal(report.updated, 0);
    assert.equal(report.bytes, 0);
    assert.equal(report.skipped, 24, '20 files, 3 directories and 1 link');
  });

  test('file contents of every size arrive intact (0 B, 1 MiB - 1, 1 MiB, 3 MiB)', (t) => {
    const { src, dst } = dirs(tempDir(t));
    const sizes = [0, 1, 4095, 4096, (1 << 20) - 1, 1 << 20, 3 * (1 << 20) + 17];
    for (const size of sizes) writeFile(join(src, `size-${size}`), randomBytes(size), { mtime: T });

    const result = blit(['copy', `${src}/`, dst, '--json']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(
      jsonReport(result).bytes,
      sizes.reduce((a, b) => a + b, 0),
    );
    for (const size of sizes) {
      assert.ok(readFileSync(join(dst, `size-${size}`)).equals(readFileSync(join(src, `size-${size}`))));
    }
    assertSameTree(dst, src);
  });

  test('many files (copied on worker threads) keep contents, modes and mtimes', (t) => {
    const { src, dst } = dirs(tempDir(t));
    const modes = [0o644, 0o640, 0o755, 0o444, 0o600, 0o700];
    for (let i = 0; i < 400; i++) {
      writeFile(join(src, `dir${i % 7}`, `file-${i}.dat`), randomBytes(i * 37), {
        mode: modes[i % modes.length],
        mtime: T + i * 1.000_001,
      });
    }
    writeFile(join(src, 'big/one.bin'), randomBytes(2 * (1 << 20) + 5), { mode: 0o640, mtime: T });

    const result = blit(['copy', `${src}/`, dst, '--json']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(jsonReport(result).copied, 401 + 8);
    assertSameTree(dst, src);
    assert.deepEqual(
      readdirSync(dst, { recursive: true }).filter((name) => String(name).includes('.blit-')),
      [],
      'no temp files left',
    );
  });

  test('empty directories are created, nested ones too', (t) => {
    const { src, dst } = dirs(tempDir(t));
    mkdirSync(join(src, 'empty'), { recursive: true });
    mkdirSync(join(src, 'a/b/c'), { recursive: true });
    mkdirSync(join(src, 'private'), { mode: 0o700 });
    chmodSync(join(src, 'private'), 0o700);

    const result = blit(['copy', `${src}/`, dst]);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(join(dst, 'empty')), []);
    assert.deepEqual(readdirSync(join(dst, 'a/b/c')), []);
    assert.equal(modeOf(join(dst, 'private')), 0o700);
    assertSameTree(dst, src);
  });

  test('a file in the way of a directory is replaced; a directory in the way of a file is reported', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'was-file/inside.txt'), 'inside');
    writeFile(join(src, 'was-dir'), 'now a file');
    writeFile(join(src, 'fine.txt'), 'fine');
    writeFile(join(dst, 'was-file'), 'in the way');
    writeFile(join(dst, 'was-dir/kept.txt'), 'kept');

    const result = blit(['copy', `${src}/`, dst]);

    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /^blit: was-dir: .*directory/m);
    assert.equal(read(join(dst, 'was-file/inside.txt')), 'inside');
    assert.equal(read(join(dst, 'was-dir/kept.txt')), 'kept', 'copy never deletes a directory');
    assert.equal(read(join(dst, 'fine.txt')), 'fine');
  });
});

describe('copy: trailing-slash rules', () => {
  function sourceTree(root: string): string {
    const src = join(root, 'src');
    writeFile(join(src, 'a.txt'), 'a');
    writeFile(join(src, 'sub/b.txt'), 'b');
    return src;
  }

  test('SRC/ copies the contents of SRC into DST', (t) => {
    const root = tempDir(t);
    const src = sourceTree(root);
    const dst = join(root, 'dst');
    mkdirSync(dst);

    const result = blit(['copy', `${src}/`, dst]);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(dst).sort(), ['a.txt', 'sub']);
    assert.equal(read(join(dst, 'sub/b.txt')), 'b');
  });

  test('SRC into an existing directory creates DST/basename(SRC)', (t) => {
    const root = tempDir(t);
    const src = sourceTree(root);
    const dst = join(root, 'dst');
    mkdirSync(dst);

    const result = blit(['copy', src, dst]);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(dst), ['src']);
    assert.equal(read(join(dst, 'src/a.txt')), 'a');
    assert.equal(read(join(dst, 'src/sub/b.txt')), 'b');
  });

  test('SRC into a missing DST/ creates DST/basename(SRC)', (t) => {
    const root = tempDir(t);
    const src = sourceTree(root);
    const dst = join(root, 'new-dst');

    const result = blit(['copy', src, `${dst}/`]);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(dst), ['src']);
    assert.equal(read(join(dst, 'src/sub/b.txt')), 'b');
  });

  test('SRC into a missing DST makes DST the exact target', (t) => {
    const root = tempDir(t);
    const src = sourceTree(root);
    const dst = join(root, 'exact');

    const result = blit(['copy', src, dst]);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(dst).sort(), ['a.txt', 'sub']);
  });

  test('SRC/ into a missing DST whose parents are missing creates them', (t) => {
    const root = tempDir(t);
    const src = sourceTree(root);
    const dst = join(root, 'x/y/z');

    const result = blit(['copy', `${src}/`, dst]);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(read(join(dst, 'sub/b.txt')), 'b');
  });

  test('a symlink to a directory: LINK/ copies the contents, LINK copies the link itself', (t) => {
    const root = tempDir(t);
    const src = sourceTree(root);
    const link = join(root, 'link');
    symlinkSync(src, link);

    const contents = blit(['copy', `${link}/`, join(root, 'contents')]);
    const itself = blit(['copy', link, join(root, 'itself')]);

    assert.equal(contents.status, 0, contents.stderr);
    assert.equal(read(join(root, 'contents/sub/b.txt')), 'b');
    assert.equal(itself.status, 0, itself.stderr);
    assert.ok(lstatSync(join(root, 'itself')).isSymbolicLink());
    assert.equal(readlinkSync(join(root, 'itself')), src);
  });
});

describe('copy: a single file as the source', () => {
  test('to a new file path, with its mode and mtime', (t) => {
    const root = tempDir(t);
    const file = join(root, 'report.txt');
    writeFile(file, 'quarterly', { mode: 0o640, mtime: T + 0.25 });

    const result = blit(['copy', file, join(root, 'renamed.txt')]);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(read(join(root, 'renamed.txt')), 'quarterly');
    assert.equal(modeOf(join(root, 'renamed.txt')), 0o640);
    assertMtimeClose(join(root, 'renamed.txt'), file);
  });

  test('into an existing directory', (t) => {
    const root = tempDir(t);
    const file = join(root, 'report.txt');
    writeFile(file, 'quarterly', { mtime: T });
    mkdirSync(join(root, 'out'));

    const result = blit(['copy', file, join(root, 'out')]);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(join(root, 'out')), ['report.txt']);
    assert.equal(read(join(root, 'out/report.txt')), 'quarterly');
  });

  test('into a missing DST/ creates the directory', (t) => {
    const root = tempDir(t);
    const file = join(root, 'report.txt');
    writeFile(file, 'quarterly', { mtime: T });

    const result = blit(['copy', file, `${join(root, 'out')}/`]);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(read(join(root, 'out/report.txt')), 'quarterly');
  });

  test('over an existing, different file replaces it; over an identical one does nothing', (t) => {
    const root = tempDir(t);
    const file = join(root, 'a.txt');
    const target = join(root, 'b.txt');
    writeFile(file, 'new', { mtime: T + 5 });
    writeFile(target, 'old contents', { mtime: T });

    const first = blit(['copy', file, target, '--json']);
    const second = blit(['copy', file, target, '--json']);

    assert.equal(first.status, 0, first.stderr);
    assert.equal(jsonReport(first).copied, 1);
    assert.equal(read(target), 'new');
    assertMtimeClose(target, file);
    assert.equal(second.status, 0, second.stderr);
    assert.equal(jsonReport(second).copied, 0);
    assert.equal(jsonReport(second).skipped, 1);
  });

  test('a symlink as the source is copied as a link', (t) => {
    const root = tempDir(t);
    symlinkSync('does-not-exist', join(root, 'dangling'));

    const result = blit(['copy', join(root, 'dangling'), join(root, 'copy')]);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(readlinkSync(join(root, 'copy')), 'does-not-exist');
  });
});

describe('copy: refused before anything is written', () => {
  function refused(result: { status: number; stderr: string; stdout: string }, pattern: RegExp): void {
    assert.equal(result.status, 1, `exit 1 expected; stderr: ${result.stderr}`);
    assert.ok(isOneLineError(result.stderr), `one line without a stack trace expected:\n${result.stderr}`);
    assert.match(result.stderr, pattern);
  }

  test('SRC and DST the same directory, also through a symlink', (t) => {
    const root = tempDir(t);
    const src = join(root, 'src');
    writeFile(join(src, 'a.txt'), 'a', { mtime: T });
    symlinkSync(src, join(root, 'alias'));
    const before = snapshot(src);

    for (const args of [
      [`${src}/`, `${src}/`],
      [`${src}/`, src],
      [`${src}/`, `${join(root, 'alias')}/`],
      [join(src, 'a.txt'), join(src, 'a.txt')],
    ]) {
      refused(blit(['copy', ...(args as [string, string])]), /same/);
    }
    assert.deepEqual(diffSnapshots(snapshot(src), before, { mtimeToleranceNs: 1n }), []);
  });

  test('DST inside SRC', (t) => {
    const root = tempDir(t);
    const src = join(root, 'src');
    writeFile(join(src, 'a.txt'), 'a', { mtime: T });
    mkdirSync(join(src, 'sub'));
    const before = snapshot(src);

    refused(blit(['copy', `${src}/`, join(src, 'sub/inner')]), /inside/);
    refused(blit(['copy', src, join(src, 'sub')]), /inside/);
    refused(blit(['mirror', `${src}/`, join(src, 'out'), '--yes']), /inside/);
    assert.deepEqual(diffSnapshots(snapshot(src), before, { mtimeToleranceNs: 1n }), []);
  });

  test('a missing SRC is named in a one-line error', (t) => {
    const root = tempDir(t);
    const missing = join(root, 'no-such-dir');

    const result = blit(['copy', `${missing}/`, join(root, 'dst')]);

    refused(result, /no such file or directory/);
    assert.ok(result.stderr.includes('no-such-dir'), result.stderr);
    assert.equal(existsSync(join(root, 'dst')), false, 'nothing created');
  });

  test('DST an existing file where a directory is needed', (t) => {
    const root = tempDir(t);
    const src = join(root, 'src');
    writeFile(join(src, 'a.txt'), 'a');
    const file = join(root, 'file');
    writeFile(file, 'I am a file');

    refused(blit(['copy', `${src}/`, file]), /not a directory/);
    refused(blit(['copy', src, file]), /not a directory/);
    refused(blit(['copy', join(src, 'a.txt'), `${file}/`]), /not a directory/);
    refused(blit(['copy', join(src, 'a.txt'), join(file, 'below')]), /not a directory/);
    assert.equal(read(file), 'I am a file');
  });

  test('a destination that cannot be created is named with the reason, at once (no retry loop)', (t) => {
    const root = tempDir(t);
    const src = join(root, 'src');
    writeFile(join(src, 'sub/a.txt'), 'a');
    const locked = join(root, 'locked');
    mkdirSync(locked, { mode: 0o555 });
    chmodSync(locked, 0o555);

    const denied = blitUnprivileged(['copy', `${src}/`, join(locked, 'x/y')], root);
    assert.equal(denied.status, 1, denied.stderr);
    assert.equal(denied.stderr, `blit: ${join(locked, 'x/y')}: cannot create directory: permission denied\n`);
    assert.deepEqual(readdirSync(locked), []);

    // /proc refuses new names with ENOENT although the parent exists; Node's recursive mkdir
    // retried that forever (the stall detector ended it after 10 s).
    const proc = blit(['copy', `${src}/`, '/proc/blit-test-no-such-dir']);
    refused(
      proc,
      /^blit: \/proc\/blit-test-no-such-dir: cannot create directory: no such file or directory$/m,
    );
  });

  test('two compare modes at once', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'a.txt'), 'a');

    refused(blit(['copy', `${src}/`, dst, '--checksum', '--size-only']), /choose one/);
    assert.equal(existsSync(dst), false);
  });
});

describe('copy: metadata', () => {
  test('file and directory modes are kept (0640, 0755, 0444, 0600; 0700 and 0750 directories)', (t) => {
    const { src, dst } = dirs(tempDir(t));
    const files: [string, number][] = [
      ['rw-r-----', 0o640],
      ['rwxr-xr-x', 0o755],
      ['r--r--r--', 0o444],
      ['rw-------', 0o600],
      ['private/inner', 0o604],
      ['group/inner', 0o664],
    ];
    for (const [name, mode] of files) writeFile(join(src, name), name, { mode, mtime: T });
    chmodSync(join(src, 'private'), 0o700);
    chmodSync(join(src, 'group'), 0o750);

    const result = blit(['copy', `${src}/`, dst]);

    assert.equal(result.status, 0, result.stderr);
    for (const [name, mode] of files)
      assert.equal(modeOf(join(dst, name)).toString(8), mode.toString(8), name);
    assert.equal(modeOf(join(dst, 'private')).toString(8), '700');
    assert.equal(modeOf(join(dst, 'group')).toString(8), '750');
  });

  test('a mode change alone is applied without rewriting the file', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'script.sh'), 'echo hi', { mode: 0o755, mtime: T });
    writeFile(join(dst, 'script.sh'), 'echo hi', { mode: 0o644, mtime: T });
    const inode = statSync(join(dst, 'script.sh')).ino;

    const result = blit(['copy', `${src}/`, dst, '--json']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(jsonReport(result).updated, 1);
    assert.equal(jsonReport(result).copied, 0);
    assert.equal(modeOf(join(dst, 'script.sh')), 0o755);
    assert.equal(statSync(join(dst, 'script.sh')).ino, inode);
  });

  for (const [label, env] of TIME_PATHS) {
    test(`file mtimes are kept within 2 µs of a nanosecond source mtime (${label})`, (t) => {
      const { src, dst } = dirs(tempDir(t));
      const times = [T + 0.123456789, 1_234_567_890.987654, 1, 4_102_444_800.5, T + 0.000001];
      times.forEach((time, i) => {
        writeFile(join(src, `f${i}`), `file ${i}`, { mtime: time });
      });
      // A nanosecond mtime that no double can carry exactly.
      touchAt(join(src, 'ns'), '1600000000.123456789', 1_600_000_000_123_456_789n);

      const result = blit(['copy', `${src}/`, dst], { env });

      assert.equal(result.status, 0, result.stderr);
      times.forEach((_, i) => {
        assertMtimeClose(join(dst, `f${i}`), join(src, `f${i}`));
      });
      assertMtimeClose(join(dst, 'ns'), join(src, 'ns'));
    });

    test(`an mtime on a whole microsecond is kept to that microsecond (${label})`, (t) => {
      const { src, dst } = dirs(tempDir(t));
      const stamps = ['1514152534.875464', '1234567890.000001', '1500000000.999999', '1700000000.5'];
      for (const stamp of stamps) {
        const [sec, frac] = stamp.split('.') as [string, string];
        touchAt(join(src, stamp), stamp, BigInt(sec) * 1_000_000_000n + BigInt(frac.padEnd(9, '0')));
      }

      const result = blit(['copy', `${src}/`, dst], { env });

      assert.equal(result.status, 0, result.stderr);
      for (const stamp of stamps) {
        assert.equal(
          mtimeNs(join(dst, stamp)),
          mtimeNs(join(src, stamp)),
          `mtime of a file stamped ${stamp}`,
        );
      }
    });

    test(`a file older than 1970 keeps its mtime (${label})`, (t) => {
      const { src, dst } = dirs(tempDir(t));
      touchAt(join(src, 'old'), '-86400.5', -86_400_500_000_000n);

      const result = blit(['copy', `${src}/`, dst], { env });

      assert.equal(result.status, 0, result.stderr);
      assertMtimeClose(join(dst, 'old'), join(src, 'old'));
    });
  }

  test('directory mtimes equal the source after their contents were written', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'a/b/c/file.txt'), 'deep', { mtime: T });
    writeFile(join(src, 'a/sibling.txt'), 'sibling', { mtime: T });
    mkdirSync(join(src, 'a/empty'));
    symlinkSync('../sibling.txt', join(src, 'a/b/link'));
    // Directory mtimes set last, bottom up, to distinct old values.
    setMtime(join(src, 'a/b/c'), T + 0.111111);
    setMtime(join(src, 'a/b'), T + 1.222222);
    setMtime(join(src, 'a/empty'), T + 2.333333);
    setMtime(join(src, 'a'), T + 3.444444);
    setMtime(src, T + 4.555555);

    const result = blit(['copy', `${src}/`, dst]);

    assert.equal(result.status, 0, result.stderr);
    for (const rel of ['a/b/c', 'a/b', 'a/empty', 'a']) assertMtimeClose(join(dst, rel), join(src, rel));
    assertMtimeClose(dst, src);
  });

  test('symlinks are copied as links, never followed, dangling ones too, with their mtimes', (t) => {
    const root = tempDir(t);
    const { src, dst } = dirs(root);
    const outside = join(root, 'outside');
    writeFile(join(outside, 'secret.txt'), 'outside the tree');
    writeFile(join(src, 'target.txt'), 'target', { mtime: T });
    mkdirSync(join(src, 'dir'));
    symlinkSync('target.txt', join(src, 'relative'));
    symlinkSync(join(outside, 'secret.txt'), join(src, 'absolute'));
    symlinkSync('nowhere/at/all', join(src, 'dangling'));
    symlinkSync(outside, join(src, 'to-outside-dir'));
    symlinkSync('dir', join(src, 'to-dir'));
    symlinkSync('self-loop', join(src, 'self-loop'));
    lutimesAll(src, ['relative', 'absolute', 'dangling', 'to-outside-dir', 'to-dir', 'self-loop']);

    const result = blit(['copy', `${src}/`, dst]);

    assert.equal(result.status, 0, result.stderr);
    const expected: Record<string, string> = {
      relative: 'target.txt',
      absolute: join(outside, 'secret.txt'),
      dangling: 'nowhere/at/all',
      'to-outside-dir': outside,
      'to-dir': 'dir',
      'self-loop': 'self-loop',
    };
    for (const [name, target] of Object.entries(expected)) {
      assert.ok(lstatSync(join(dst, name)).isSymbolicLink(), `${name} is a link`);
      assert.equal(readlinkSync(join(dst, name)), target);
      assertMtimeClose(join(dst, name), join(src, name));
    }
    assert.deepEqual(readdirSync(join(dst, 'dir')), []);
    assertSameTree(dst, src);
  });
});

/** Gives each named link in `dir` its own old mtime. */
function lutimesAll(dir: string, names: string[]): void {
  names.forEach((name, i) => {
    setMtime(join(dir, name), T + 100 + i + 0.5);
  });
}

describe('copy: compare modes', () => {
  /** dst/name: same size and mtime as src/name, different contents. */
  function sameSizeSameTime(src: string, dst: string): void {
    writeFile(join(src, 'quiet.txt'), 'AAAA', { mtime: T });
    writeFile(join(dst, 'quiet.txt'), 'BBBB', { mtime: T });
  }

  test('default: same size and mtime means unchanged, even when the contents differ', (t) => {
    const { src, dst } = dirs(tempDir(t));
    sameSizeSameTime(src, dst);
    writeFile(join(src, 'touched.txt'), 'CCCC', { mtime: T + 1 });
    writeFile(join(dst, 'touched.txt'), 'DDDD', { mtime: T });
    writeFile(join(src, 'grown.txt'), 'EEEEE', { mtime: T });
    writeFile(join(dst, 'grown.txt'), 'FFFF', { mtime: T });

    const result = blit(['copy', `${src}/`, dst, '--json']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(read(join(dst, 'quiet.txt')), 'BBBB');
    assert.equal(read(join(dst, 'touched.txt')), 'CCCC', 'mtime differs: copied');
    assert.equal(read(join(dst, 'grown.txt')), 'EEEEE', 'size differs: copied');
    assert.equal(jsonReport(result).copied, 2);
  });

  for (const flag of ['--checksum', '-c']) {
    test(`${flag}: same size and mtime but different contents is copied`, (t) => {
      const { src, dst } = dirs(tempDir(t));
      sameSizeSameTime(src, dst);
      writeFile(join(src, 'equal.txt'), 'equal', { mtime: T });
      writeFile(join(dst, 'equal.txt'), 'equal', { mtime: T });
      const equalInode = statSync(join(dst, 'equal.txt')).ino;

      const result = blit(['copy', `${src}/`, dst, flag, '--json']);

      assert.equal(result.status, 0, result.stderr);
      assert.equal(read(join(dst, 'quiet.txt')), 'AAAA');
      assert.equal(jsonReport(result).copied, 1);
      assert.equal(statSync(join(dst, 'equal.txt')).ino, equalInode, 'equal contents are not rewritten');
    });
  }

  test('--checksum: a destination file that cannot be read is rewritten, with and without the addon', (t) => {
    for (const env of [{}, { BLIT_NO_NATIVE: '1' }] as Record<string, string>[]) {
      const root = tempDir(t);
      const { src, dst } = dirs(root);
      writeFile(join(src, 'a.txt'), 'source', { mtime: T });
      writeFile(join(dst, 'a.txt'), 'stale!', { mode: 0o000 });

      const result = blitUnprivileged(['copy', '--checksum', `${src}/`, dst, '--json'], root, { env });

      assert.equal(result.status, 0, `${JSON.stringify(env)}: ${result.stderr}`);
      assert.equal(jsonReport(result).copied, 1);
      assert.equal(read(join(dst, 'a.txt')), 'source');
    }
  });

  test('--checksum: equal contents with another mtime get the mtime only', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'same.txt'), 'same contents', { mtime: T + 0.5, mode: 0o640 });
    writeFile(join(dst, 'same.txt'), 'same contents', { mtime: T + 99, mode: 0o644 });
    const inode = statSync(join(dst, 'same.txt')).ino;

    const result = blit(['copy', `${src}/`, dst, '--checksum', '--json']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(jsonReport(result).copied, 0);
    assert.equal(jsonReport(result).updated, 1);
    assert.equal(statSync(join(dst, 'same.txt')).ino, inode);
    assert.equal(modeOf(join(dst, 'same.txt')), 0o640);
    assertMtimeClose(join(dst, 'same.txt'), join(src, 'same.txt'));
  });

  test('--size-only: same size is unchanged whatever the contents and mtime; another size is copied', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'same-size.txt'), 'AAAA', { mtime: T + 50 });
    writeFile(join(dst, 'same-size.txt'), 'BBBB', { mtime: T });
    writeFile(join(src, 'other-size.txt'), 'AAAAA', { mtime: T });
    writeFile(join(dst, 'other-size.txt'), 'BBBB', { mtime: T });

    const result = blit(['copy', `${src}/`, dst, '--size-only', '--json']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(read(join(dst, 'same-size.txt')), 'BBBB');
    assert.equal(read(join(dst, 'other-size.txt')), 'AAAAA');
    assert.equal(jsonReport(result).copied, 1);
  });

  test('--ignore-times: identical files are copied again', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'same.txt'), 'same', { mtime: T });
    writeFile(join(dst, 'same.txt'), 'same', { mtime: T });
    sameSizeSameTime(src, dst);
    const inode = statSync(join(dst, 'same.txt')).ino;

    const result = blit(['copy', `${src}/`, dst, '--ignore-times', '--json']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(jsonReport(result).copied, 2);
    assert.notEqual(statSync(join(dst, 'same.txt')).ino, inode, 'rewritten through a new file');
    assert.equal(read(join(dst, 'quiet.txt')), 'AAAA');
  });

  test('--ignore-existing: existing files are never touched, new ones are copied', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'exists.txt'), 'source version', { mtime: T + 100, mode: 0o600 });
    writeFile(join(dst, 'exists.txt'), 'destination version', { mtime: T, mode: 0o644 });
    writeFile(join(src, 'new.txt'), 'new', { mtime: T });
    const before = lstatSync(join(dst, 'exists.txt'), { bigint: true });

    const result = blit(['copy', `${src}/`, dst, '--ignore-existing', '--json']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(read(join(dst, 'exists.txt')), 'destination version');
    const after = lstatSync(join(dst, 'exists.txt'), { bigint: true });
    assert.equal(after.mtimeNs, before.mtimeNs);
    assert.equal(after.mode, before.mode);
    assert.equal(read(join(dst, 'new.txt')), 'new');
    assert.equal(jsonReport(result).copied, 1);
  });
});

describe('copy: dry run, JSON and verbose output', () => {
  function mixedTrees(src: string, dst: string): void {
    writeFile(join(src, 'new.txt'), 'new', { mtime: T });
    writeFile(join(src, 'changed.txt'), 'changed!', { mtime: T + 1 });
    writeFile(join(src, 'same.txt'), 'same', { mtime: T });
    writeFile(join(src, 'newdir/inner.txt'), 'inner', { mtime: T });
    symlinkSync('new.txt', join(src, 'link'));
    writeFile(join(dst, 'changed.txt'), 'old', { mtime: T });
    writeFile(join(dst, 'same.txt'), 'same', { mtime: T });
    writeFile(join(dst, 'extra.txt'), 'extra', { mtime: T });
  }

  for (const flag of ['--dry-run', '-n']) {
    test(`${flag} lists what it would do and changes nothing`, (t) => {
      const { src, dst } = dirs(tempDir(t));
      mixedTrees(src, dst);
      const before = snapshot(dst);

      const result = blit(['copy', `${src}/`, dst, flag]);

      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(diffSnapshots(snapshot(dst), before, { mtimeToleranceNs: 1n }), []);
      const lines = result.stdout.split('\n');
      for (const line of [
        'would copy new.txt',
        'would copy changed.txt',
        'would mkdir newdir',
        'would copy newdir/inner.txt',
        'would link link',
      ]) {
        assert.ok(lines.includes(line), `"${line}" listed in:\n${result.stdout}`);
      }
      assert.ok(!result.stdout.includes('same.txt'), 'unchanged files are not listed');
      assert.ok(!result.stdout.includes('extra.txt'), 'copy deletes nothing, dry or not');
    });
  }

  test('--dry-run into a missing destination creates nothing', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'a/b.txt'), 'b');

    const result = blit(['copy', `${src}/`, join(dst, 'deeper'), '--dry-run']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(existsSync(dst), false);
    assert.match(result.stdout, /^would copy a\/b\.txt$/m);
  });

  test('--json prints one object with the counts, bytes and failures', (t) => {
    const { src, dst } = dirs(tempDir(t));
    mixedTrees(src, dst);

    const result = blit(['copy', `${src}/`, dst, '--json']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim().split('\n').length, 1, 'one line on stdout');
    const report = jsonReport(result);
    assert.equal(report.operation, 'copy');
    assert.equal(report.copied, 5, 'new.txt, changed.txt, newdir, newdir/inner.txt, link');
    assert.equal(report.skipped, 1);
    assert.equal(report.deleted, 0);
    assert.equal(report.failed, 0);
    assert.equal(report.bytes, 'new'.length + 'changed!'.length + 'inner'.length);
    assert.deepEqual(report.failures, []);
    assert.equal(report.dryRun, false);
  });

  test('--json with --dry-run reports what would be copied', (t) => {
    const { src, dst } = dirs(tempDir(t));
    mixedTrees(src, dst);

    const result = blit(['copy', `${src}/`, dst, '--json', '--dry-run']);

    assert.equal(result.status, 0, result.stderr);
    const report = jsonReport(result);
    assert.equal(report.dryRun, true);
    assert.equal(report.copied, 5);
    assert.equal(report.bytes, 'new'.length + 'changed!'.length + 'inner'.length);
    assert.match(result.stderr, /^would copy new\.txt$/m, 'actions go to stderr with --json');
    assert.equal(existsSync(join(dst, 'new.txt')), false);
  });

  test('-v lists each action, then the summary', (t) => {
    const { src, dst } = dirs(tempDir(t));
    mixedTrees(src, dst);

    const result = blit(['copy', `${src}/`, dst, '-v']);

    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, -1).sort(), [
      'copy changed.txt',
      'copy new.txt',
      'copy newdir/inner.txt',
      'link link',
      'mkdir newdir',
    ]);
    assert.match(lines.at(-1)!, /^blit copy: 5 copied, 1 unchanged, 0 failed/);
  });

  test('without -v only the summary is printed', (t) => {
    const { src, dst } = dirs(tempDir(t));
    mixedTrees(src, dst);

    const result = blit(['copy', `${src}/`, dst]);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim().split('\n').length, 1);
    assert.equal(result.stderr, '');
  });
});

describe('copy: filters', () => {
  test('--exclude: a name glob at any depth, a directory with its subtree, a dir/ pattern, an anchored path', (t) => {
    const { src, dst } = dirs(tempDir(t));
    for (const rel of [
      'keep.txt',
      'top.txt',
      'app.log',
      'sub/trace.log',
      'sub/keep.txt',
      'sub/top.txt',
      'build/out.o',
      'build/deep/more.o',
      'docs/build/page.html',
      'cache/blob',
      'other/cache',
      '.hidden.log',
    ]) {
      writeFile(join(src, rel), rel);
    }

    const result = blit([
      'copy',
      `${src}/`,
      dst,
      '--exclude',
      '*.log',
      '--exclude',
      'build',
      '--exclude',
      'cache/',
      '--exclude',
      '/top.txt',
    ]);

    assert.equal(result.status, 0, result.stderr);
    const copied = readdirSync(dst, { recursive: true }).map(String).sort();
    assert.deepEqual(copied, [
      'docs',
      'keep.txt',
      'other',
      'other/cache',
      'sub',
      'sub/keep.txt',
      'sub/top.txt',
    ]);
  });

  test('--include keeps only matching files; directories holding none are not created', (t) => {
    const { src, dst } = dirs(tempDir(t));
    for (const rel of [
      'a.txt',
      'a.log',
      'sub/b.txt',
      'sub/deep/c.txt',
      'sub/deep/c.bin',
      'logs-only/x.log',
    ]) {
      writeFile(join(src, rel), rel);
    }
    mkdirSync(join(src, 'empty'));

    const result = blit(['copy', `${src}/`, dst, '--include', '*.txt']);

    assert.equal(result.status, 0, result.stderr);
    const copied = readdirSync(dst, { recursive: true }).map(String).sort();
    assert.deepEqual(copied, ['a.txt', 'sub', 'sub/b.txt', 'sub/deep', 'sub/deep/c.txt']);
  });

  test('--include and --exclude together: the exclude wins', (t) => {
    const { src, dst } = dirs(tempDir(t));
    for (const rel of ['a.txt', 'secret.txt', 'b.log']) writeFile(join(src, rel), rel);

    const result = blit(['copy', `${src}/`, dst, '--include', '*.txt', '--exclude', 'secret*']);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(dst).sort(), ['a.txt']);
  });

  test('--files-from copies only the listed paths (a listed directory with its subtree)', (t) => {
    const root = tempDir(t);
    const { src, dst } = dirs(root);
    for (const rel of [
      'a.txt',
      'b.txt',
      'sub/c.txt',
      'sub/d.txt',
      'tree/x/y.txt',
      'tree/z.txt',
      'other/w.txt',
    ]) {
      writeFile(join(src, rel), rel);
    }
    const list = join(root, 'list');
    writeFileSync(list, 'a.txt\n# a comment\n\n./sub/c.txt\ntree/\n');

    const result = blit(['copy', `${src}/`, dst, '--files-from', list]);

    assert.equal(result.status, 0, result.stderr);
    const copied = readdirSync(dst, { recursive: true }).map(String).sort();
    assert.deepEqual(copied, ['a.txt', 'sub', 'sub/c.txt', 'tree', 'tree/x', 'tree/x/y.txt', 'tree/z.txt']);
  });

  test('--files-from - reads the list from stdin', (t) => {
    const { src, dst } = dirs(tempDir(t));
    for (const rel of ['a.txt', 'b.txt']) writeFile(join(src, rel), rel);

    const result = blit(['copy', `${src}/`, dst, '--files-from', '-'], { input: 'b.txt\n' });

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(dst), ['b.txt']);
  });

  test('--files-from with a path leaving the source is refused', (t) => {
    const root = tempDir(t);
    const { src, dst } = dirs(root);
    writeFile(join(src, 'a.txt'), 'a');
    const list = join(root, 'list');
    writeFileSync(list, 'a.txt\n../escape\n');

    const result = blit(['copy', `${src}/`, dst, '--files-from', list]);

    assert.equal(result.status, 1);
    assert.ok(isOneLineError(result.stderr), result.stderr);
    assert.equal(existsSync(dst), false);
  });

  test('--min-size and --max-size skip files outside the limits', (t) => {
    const { src, dst } = dirs(tempDir(t));
    for (const size of [0, 9, 10, 1024, 1025, 5000]) writeFile(join(src, `s${size}`), Buffer.alloc(size, 1));
    mkdirSync(join(src, 'emptydir'));

    const both = blit([
      'copy',
      `${src}/`,
      join(dst, 'both'),
      '--min-size',
      '10',
      '--max-size',
      '1K',
      '--json',
    ]);
    const min = blit(['copy', `${src}/`, join(dst, 'min'), '--min-size', '1k']);
    const max = blit(['copy', `${src}/`, join(dst, 'max'), '--max-size', '9']);

    assert.equal(both.status, 0, both.stderr);
    assert.deepEqual(readdirSync(join(dst, 'both')).sort(), ['emptydir', 's10', 's1024']);
    assert.equal(jsonReport(both).bytes, 1034);
    assert.equal(min.status, 0, min.stderr);
    assert.deepEqual(readdirSync(join(dst, 'min')).sort(), ['emptydir', 's1024', 's1025', 's5000']);
    assert.equal(max.status, 0, max.stderr);
    assert.deepEqual(readdirSync(join(dst, 'max')).sort(), ['emptydir', 's0', 's9']);
  });

  test('a malformed size is a one-line error', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'a'), 'a');

    const result = blit(['copy', `${src}/`, dst, '--max-size', 'lots']);

    assert.equal(result.status, 1);
    assert.ok(isOneLineError(result.stderr), result.stderr);
    assert.match(result.stderr, /lots/);
  });
});

describe('copy: names', () => {
  test('odd names are kept byte for byte: spaces, newline, leading dash, backslash, NFC and NFD, 255 bytes', (t) => {
    const { src, dst } = dirs(tempDir(t));
    const nfc = 'caf\u00e9';
    const nfd = 'cafe\u0301';
    const long = `${'\u00fc'.repeat(127)}x`;
    assert.equal(Buffer.byteLength(long), 255);
    const names = [
      'with spaces.txt',
      ' leading space',
      'trailing space ',
      'line\nbreak',
      'tab\there',
      '-rf',
      '--help',
      'back\\slash',
      'quote"and\'apostrophe',
      '*?[glob]',
      nfc,
      nfd,
      '\u65e5\u672c\u8a9e',
      '\u{1f600} emoji',
      long,
    ];
    names.forEach((name, i) => {
      writeFile(join(src, name), `contents ${i}`, { mtime: T + i });
    });
    writeFile(join(src, 'dir with space/-x/line\nbreak dir/file'), 'deep', { mtime: T });

    const result = blit(['copy', `${src}/`, dst]);

    assert.equal(result.status, 0, result.stderr);
    const want = readdirSync(src, { encoding: 'buffer' })
      .map((b) => b.toString('hex'))
      .sort();
    const got = readdirSync(dst, { encoding: 'buffer' })
      .map((b) => b.toString('hex'))
      .sort();
    assert.deepEqual(got, want, 'the same raw names');
    names.forEach((name, i) => {
      assert.equal(read(join(dst, name)), `contents ${i}`, JSON.stringify(name));
    });
    assert.notEqual(read(join(dst, nfc)), read(join(dst, nfd)), 'NFC and NFD stay two files');
    assertSameTree(dst, src);
  });

  test('a source directory named with a leading dash, after --', (t) => {
    const root = tempDir(t);
    writeFile(join(root, '-rf/file'), 'dash');

    const result = blit(['copy', '--', '-rf/', 'out'], { cwd: root });

    assert.equal(result.status, 0, result.stderr);
    assert.equal(read(join(root, 'out/file')), 'dash');
  });

  test('a tree 100 directories deep', (t) => {
    const { src, dst } = dirs(tempDir(t));
    const deep = Array.from({ length: 100 }, (_, i) => `level${i}`).join('/');
    writeFile(join(src, deep, 'bottom.txt'), 'bottom', { mtime: T });
    writeFile(join(src, 'level0/level1/side.txt'), 'side', { mtime: T });

    const result = blit(['copy', `${src}/`, dst]);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(read(join(dst, deep, 'bottom.txt')), 'bottom');
    assertSameTree(dst, src);
  });

  test('names that are not UTF-8 are refused per file with exit 2; the rest is copied', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'ok.txt'), 'ok');
    writeFile(join(src, 'sub/also-ok.txt'), 'also ok');
    const raw = (...parts: (string | number[])[]) =>
      Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
    writeFileSync(raw(`${src}/`, [0x66, 0xff, 0x6f]), 'bad name');
    mkdirSync(raw(`${src}/sub/`, [0x64, 0xfe]));
    writeFileSync(raw(`${src}/sub/`, [0x64, 0xfe], '/inside'), 'inside a bad directory');

    const result = blit(['copy', `${src}/`, dst, '--json']);

    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /^blit: f\\xffo: .*not valid UTF-8/m);
    assert.match(result.stderr, /^blit: sub\/d\\xfe: .*not valid UTF-8/m);
    const report = jsonReport(result);
    assert.equal(report.failed, 2);
    assert.deepEqual(report.failures.map((f) => f.path).sort(), ['f\\xffo', 'sub/d\\xfe']);
    assert.equal(read(join(dst, 'ok.txt')), 'ok');
    assert.equal(read(join(dst, 'sub/also-ok.txt')), 'also ok');
    assert.deepEqual(readdirSync(dst).sort(), ['ok.txt', 'sub']);
    assert.deepEqual(readdirSync(join(dst, 'sub')), ['also-ok.txt']);
  });
});

describe('copy: unreadable entries', () => {
  test('an unreadable file and directory are listed with path and reason; the rest is copied (exit 2)', (t) => {
    // Root reads through permission bits: blitUnprivileged runs blit as `nobody` then.
    const root = tempDir(t);
    const { src, dst } = dirs(root);
    writeFile(join(src, 'readable.txt'), 'readable', { mtime: T });
    writeFile(join(src, 'secret.txt'), 'secret', { mode: 0o000 });
    writeFile(join(src, 'locked/inside.txt'), 'inside');
    writeFile(join(src, 'open/fine.txt'), 'fine', { mtime: T });
    chmodSync(join(src, 'locked'), 0o000);

    const result = blitUnprivileged(['copy', `${src}/`, dst, '--json'], root);

    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /^blit: secret\.txt: cannot read: permission denied$/m);
    assert.match(result.stderr, /^blit: locked: cannot read directory: permission denied$/m);
    const report = jsonReport(result);
    assert.equal(report.failed, 2);
    assert.deepEqual(report.failures.map((f) => f.path).sort(), ['locked', 'secret.txt']);
    assert.equal(read(join(dst, 'readable.txt')), 'readable');
    assert.equal(read(join(dst, 'open/fine.txt')), 'fine');
    assert.equal(existsSync(join(dst, 'secret.txt')), false, 'no partial file');
    assert.equal(existsSync(join(dst, 'locked/inside.txt')), false);
    const leftovers = readdirSync(dst, { recursive: true }).filter((n) => String(n).includes('.blit-'));
    assert.deepEqual(leftovers, [], 'no temp files left');
  });

  test('a destination directory that refuses a file: the reason says it was the writing side', (t) => {
    const root = tempDir(t);
    const { src, dst } = dirs(root);
    writeFile(join(src, 'shut/new.txt'), 'new');
    writeFile(join(src, 'open.txt'), 'open');
    mkdirSync(join(dst, 'shut'), { recursive: true });
    chmodSync(join(dst, 'shut'), 0o555);

    const result = blitUnprivileged(['copy', `${src}/`, dst], root);

    assert.equal(result.status, 2, result.stderr);
    assert.equal(result.stderr, 'blit: shut/new.txt: cannot write: permission denied\n');
    assert.equal(read(join(dst, 'open.txt')), 'open');
    assert.deepEqual(readdirSync(join(dst, 'shut')), []);
  });

  test('an unreadable source root is named by its path, not as "."', (t) => {
    const root = tempDir(t);
    const { src, dst } = dirs(root);
    writeFile(join(src, 'a.txt'), 'a');
    chmodSync(src, 0o000);

    const result = blitUnprivileged(['copy', `${src}/`, dst], root);

    assert.equal(result.status, 2, result.stderr);
    assert.equal(result.stderr, `blit: ${src}: cannot read directory: permission denied\n`);
    // Nothing is made for a run that can copy nothing.
    const fresh = join(root, 'new', 'dst');
    assert.equal(blitUnprivileged(['copy', `${src}/`, fresh], root).status, 2);
    assert.equal(existsSync(join(root, 'new')), false, 'no empty destination left');
  });
});

describe('copy: temp files', () => {
  test('stale temp files of a dead writer are removed; one of a live writer is kept', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'a.txt'), 'a', { mtime: T });
    writeFile(join(src, 'sub/b.txt'), 'b', { mtime: T });
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    assert.ok(dead, 'a finished child gives a dead pid');
    const stale = `.blit-${dead}-0123456789ab.tmp`;
    const live = `.blit-${process.pid}-abcdef012345.tmp`;
    const lookalike = `.blit-${dead}-not-hex.tmp`;
    for (const dir of [dst, join(dst, 'sub')]) {
      writeFile(join(dir, stale), 'partial');
      writeFile(join(dir, live), 'being written');
      writeFile(join(dir, lookalike), 'a user file');
    }

    const result = blit(['copy', `${src}/`, dst, '--json']);

    assert.equal(result.status, 0, result.stderr);
    for (const dir of [dst, join(dst, 'sub')]) {
      assert.equal(existsSync(join(dir, stale)), false, `${dir}: stale temp file removed`);
      assert.equal(read(join(dir, live)), 'being written', `${dir}: live writer's temp file kept`);
      assert.equal(read(join(dir, lookalike)), 'a user file');
    }
    assert.equal(read(join(dst, 'sub/b.txt')), 'b');
  });

  test('a dry run leaves stale temp files where they are', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'a.txt'), 'a');
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const stale = `.blit-${dead}-0123456789ab.tmp`;
    writeFile(join(dst, stale), 'partial');

    const result = blit(['copy', `${src}/`, dst, '--dry-run']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(read(join(dst, stale)), 'partial');
  });
});
