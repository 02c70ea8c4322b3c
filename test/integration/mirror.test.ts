/**
 * `blit mirror`: copy, then delete what the source lacks — only with consent, only inside the
 * destination, never on an incomplete scan, never what the filters exclude.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
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
  jsonReport,
  read,
  snapshot,
  T,
  tempDir,
  writeFile,
} from '../helpers.js';

function unchanged(dir: string, before: ReturnType<typeof snapshot>): void {
  assert.deepEqual(diffSnapshots(snapshot(dir), before, { mtimeToleranceNs: 1n }), [], `${dir} changed`);
}

describe('mirror: deletions', () => {
  test('deletes extra files, directories (with their contents) and symlinks', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'keep.txt'), 'keep', { mtime: T });
    writeFile(join(src, 'sub/keep.txt'), 'keep', { mtime: T });
    writeFile(join(dst, 'keep.txt'), 'keep', { mtime: T });
    writeFile(join(dst, 'extra.txt'), 'extra');
    writeFile(join(dst, 'sub/extra.txt'), 'extra');
    writeFile(join(dst, 'gone/deeper/file.txt'), 'extra');
    mkdirSync(join(dst, 'empty-extra'));
    symlinkSync('keep.txt', join(dst, 'extra-link'));
    symlinkSync('nowhere', join(dst, 'sub/dangling-extra'));

    const result = blit(['mirror', `${src}/`, dst, '--yes', '--json']);

    assert.equal(result.status, 0, result.stderr);
    const report = jsonReport(result);
    assert.equal(
      report.deleted,
      6,
      'extra.txt, sub/extra.txt, gone, empty-extra, extra-link, sub/dangling-extra',
    );
    assert.equal(report.failed, 0);
    assertSameTree(dst, src);
  });

  test('-y is --yes; -v lists each deletion', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'keep.txt'), 'keep', { mtime: T });
    writeFile(join(dst, 'keep.txt'), 'keep', { mtime: T });
    writeFile(join(dst, 'extra.txt'), 'extra');
    writeFile(join(dst, 'old/file'), 'extra');

    const result = blit(['mirror', `${src}/`, dst, '-y', '-v']);

    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.split('\n');
    assert.ok(lines.includes('delete extra.txt'), result.stdout);
    assert.ok(lines.includes('delete old'), result.stdout);
    assert.match(result.stdout, /2 deleted/);
    assertSameTree(dst, src);
  });

  const conflicts: { name: string; source: (path: string) => void; destination: (path: string) => void }[] = [
    {
      name: 'a file where the destination has a directory (with contents)',
      source: (p) => writeFile(p, 'now a file', { mtime: T }),
      destination: (p) => writeFile(join(p, 'a/b.txt'), 'deleted with its directory'),
    },
    {
      name: 'a directory where the destination has a file',
      source: (p) => writeFile(join(p, 'inner.txt'), 'inner', { mtime: T }),
      destination: (p) => writeFile(p, 'in the way'),
    },
    {
      name: 'a file where the destination has a symlink',
      source: (p) => writeFile(p, 'now a file', { mtime: T }),
      destination: (p) => symlinkSync('somewhere', p),
    },
    {
      name: 'a symlink where the destination has a file',
      source: (p) => symlinkSync('elsewhere', p),
      destination: (p) => writeFile(p, 'in the way'),
    },
    {
      name: 'a symlink where the destination has a directory',
      source: (p) => symlinkSync('elsewhere', p),
      destination: (p) => writeFile(join(p, 'x.txt'), 'deleted with its directory'),
    },
    {
      name: 'a directory where the destination has a dangling symlink',
      source: (p) => writeFile(join(p, 'inner.txt'), 'inner', { mtime: T }),
      destination: (p) => symlinkSync('somewhere-else', p),
    },
  ];
  for (const conflict of conflicts) {
    test(`type conflict: ${conflict.name} is replaced, without failures`, (t) => {
      const { src, dst } = dirs(tempDir(t));
      writeFile(join(src, 'other.txt'), 'other', { mtime: T });
      mkdirSync(dst, { recursive: true });
      conflict.source(join(src, 'entry'));
      conflict.destination(join(dst, 'entry'));

      const result = blit(['mirror', `${src}/`, dst, '--yes', '--json']);

      assert.equal(result.status, 0, result.stderr);
      const report = jsonReport(result);
      assert.deepEqual(report.failures, []);
      assertSameTree(dst, src);
    });
  }

  test('several type conflicts in one tree converge', (t) => {
    const { src, dst } = dirs(tempDir(t));
    conflicts.forEach((conflict, i) => {
      mkdirSync(join(src, `d${i}`), { recursive: true });
      mkdirSync(join(dst, `d${i}`), { recursive: true });
      conflict.source(join(src, `d${i}/entry`));
      conflict.destination(join(dst, `d${i}/entry`));
    });

    const result = blit(['mirror', `${src}/`, dst, '--yes']);

    assert.equal(result.status, 0, result.stderr);
    assertSameTree(dst, src);
  });

  test('a destination symlink to an outside directory is replaced, and what it points to is untouched', (t) => {
    const root = tempDir(t);
    const { src, dst } = dirs(root);
    const outside = join(root, 'outside');
    writeFile(join(outside, 'precious.txt'), 'precious', { mtime: T });
    writeFile(join(outside, 'nested/also.txt'), 'also precious', { mtime: T });
    const before = snapshot(outside);
    writeFile(join(src, 'data/file.txt'), 'data', { mtime: T });
    mkdirSync(dst);
    symlinkSync(outside, join(dst, 'data'));
    symlinkSync(outside, join(dst, 'extra-link-to-outside'));

    const result = blit(['mirror', `${src}/`, dst, '--yes']);

    assert.equal(result.status, 0, result.stderr);
    assertSameTree(dst, src);
    unchanged(outside, before);
  });

  test('a mirror into DST/basename(SRC) deletes only inside that target', (t) => {
    const root = tempDir(t);
    const { src, dst } = dirs(root);
    writeFile(join(src, 'a.txt'), 'a', { mtime: T });
    writeFile(join(dst, 'sibling.txt'), 'beside the target: not ours to delete');
    writeFile(join(dst, 'src/extra.txt'), 'extra');

    const result = blit(['mirror', src, dst, '--yes']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(read(join(dst, 'sibling.txt')), 'beside the target: not ours to delete');
    assert.deepEqual(readdirSync(join(dst, 'src')), ['a.txt']);
  });

  test('a converged mirror reports nothing to do', (t) => {
    const { src, dst } = dirs(tempDir(t));
    for (let i = 0; i < 30; i++) writeFile(join(src, `d${i % 4}/f${i}`), `f${i}`, { mtime: T + i });
    symlinkSync('d1', join(src, 'link'));
    writeFile(join(dst, 'extra'), 'extra');
    assert.equal(blit(['mirror', `${src}/`, dst, '--yes']).status, 0);

    const again = blit(['mirror', `${src}/`, dst, '--json']);

    assert.equal(again.status, 0, again.stderr);
    const report = jsonReport(again);
    assert.deepEqual([report.copied, report.updated, report.deleted, report.failed], [0, 0, 0, 0]);
    assertSameTree(dst, src);
  });

  test('names that are not UTF-8 at the destination are never deleted', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'a.txt'), 'a', { mtime: T });
    mkdirSync(dst);
    const odd = Buffer.concat([Buffer.from(`${dst}/`), Buffer.from([0x62, 0xff])]);
    writeFileSync(odd, 'cannot be represented');
    writeFile(join(dst, 'extra.txt'), 'extra');

    const result = blit(['mirror', `${src}/`, dst, '--yes']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(readFileSync(odd, 'utf8'), 'cannot be represented');
    assert.equal(existsSync(join(dst, 'extra.txt')), false);
  });

  test('a directory the source lacks goes whole, names that are not UTF-8 inside it too', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'a.txt'), 'a', { mtime: T });
    writeFile(join(dst, 'gone', 'deeper', 'f'), 'f');
    writeFileSync(Buffer.concat([Buffer.from(`${dst}/gone/deeper/`), Buffer.from([0x62, 0xff])]), 'odd');
    symlinkSync('/nonexistent', join(dst, 'gone', 'link'));
    // A link to a directory outside: removed itself, never followed.
    const outside = join(tempDir(t), 'outside');
    writeFile(join(outside, 'precious'), 'keep me');
    symlinkSync(outside, join(dst, 'gone', 'deeper', 'to outside'));

    const result = blit(['mirror', `${src}/`, dst, '--yes', '--json']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(jsonReport(result).deleted, 1);
    assert.deepEqual(readdirSync(dst).sort(), ['a.txt']);
    assert.equal(read(join(outside, 'precious')), 'keep me');
  });

  test('what cannot be deleted is named, with the reason; the rest of the directory goes', (t) => {
    const root = tempDir(t);
    const { src, dst } = dirs(root);
    writeFile(join(src, 'a.txt'), 'a', { mtime: T });
    writeFile(join(dst, 'gone', 'first'), '1');
    writeFile(join(dst, 'gone', 'locked', 'inside'), 'i');
    writeFile(join(dst, 'gone', 'last'), '2');
    chmodSync(join(dst, 'gone', 'locked'), 0o555);

    const result = blitUnprivileged(['mirror', `${src}/`, dst, '--yes'], root);

    assert.equal(result.status, 2, result.stderr);
    assert.equal(result.stderr, 'blit: gone/locked/inside: cannot delete: permission denied\n');
    assert.deepEqual(readdirSync(join(dst, 'gone')), ['locked']);
    assert.equal(read(join(dst, 'gone', 'locked', 'inside')), 'i');
  });

  test("a live writer's temp file is not deleted; a stale one is", (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'a.txt'), 'a', { mtime: T });
    const live = `.blit-${process.pid}-abcdef012345.tmp`;
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const stale = `.blit-${dead}-0123456789ab.tmp`;
    writeFile(join(dst, live), 'being written');
    writeFile(join(dst, stale), 'left behind');

    const result = blit(['mirror', `${src}/`, dst, '--yes']);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(dst).sort(), [live, 'a.txt'].sort());
  });
});

describe('mirror: consent', () => {
  function treesWithExtras(src: string, dst: string): void {
    writeFile(join(src, 'keep.txt'), 'keep', { mtime: T });
    writeFile(join(src, 'new.txt'), 'new', { mtime: T });
    writeFile(join(dst, 'keep.txt'), 'keep', { mtime: T });
    writeFile(join(dst, 'extra1.txt'), 'extra');
    writeFile(join(dst, 'extra2.txt'), 'extra');
    writeFile(join(dst, 'extra-dir/inner.txt'), 'extra');
  }

  test('without --yes and without a terminal nothing is deleted: exit 2, with how many', (t) => {
    const { src, dst } = dirs(tempDir(t));
    treesWithExtras(src, dst);

    const result = blit(['mirror', `${src}/`, dst, '--json']);

    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /\b3 entries\b/);
    assert.match(result.stderr, /--yes/);
    const report = jsonReport(result);
    assert.equal(report.deleted, 0);
    assert.equal(report.deletionsWithheld, 3);
    assert.equal(read(join(dst, 'extra1.txt')), 'extra');
    assert.equal(read(join(dst, 'extra2.txt')), 'extra');
    assert.equal(read(join(dst, 'extra-dir/inner.txt')), 'extra');
    assert.equal(read(join(dst, 'new.txt')), 'new', 'copying is not withheld');
  });

  test('without --yes, a "y" on a non-terminal stdin is not consent', (t) => {
    const { src, dst } = dirs(tempDir(t));
    treesWithExtras(src, dst);

    const result = blit(['mirror', `${src}/`, dst], { input: 'y\n' });

    assert.equal(result.status, 2, result.stderr);
    assert.equal(read(join(dst, 'extra1.txt')), 'extra');
  });

  test('--dry-run lists the deletions and deletes nothing, with or without --yes', (t) => {
    const { src, dst } = dirs(tempDir(t));
    treesWithExtras(src, dst);
    const before = snapshot(dst);

    for (const extra of [[], ['--yes']]) {
      const result = blit(['mirror', `${src}/`, dst, '--dry-run', ...extra]);

      assert.equal(result.status, 0, result.stderr);
      const lines = result.stdout.split('\n');
      for (const line of ['would delete extra1.txt', 'would delete extra2.txt', 'would delete extra-dir']) {
        assert.ok(lines.includes(line), `"${line}" in:\n${result.stdout}`);
      }
      assert.ok(lines.includes('would copy new.txt'), result.stdout);
      assert.match(result.stdout, /3 deleted/);
      unchanged(dst, before);
    }
  });

  test('--dry-run --json counts the deletions it would make', (t) => {
    const { src, dst } = dirs(tempDir(t));
    treesWithExtras(src, dst);

    const result = blit(['mirror', `${src}/`, dst, '--dry-run', '--json']);

    assert.equal(result.status, 0, result.stderr);
    const report = jsonReport(result);
    assert.equal(report.dryRun, true);
    assert.equal(report.deleted, 3);
    assert.equal(report.copied, 1);
    assert.equal(read(join(dst, 'extra1.txt')), 'extra');
  });

  test('a dry run of a type conflict changes nothing', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'x/inner.txt'), 'inner');
    writeFile(join(dst, 'x'), 'a file where the source has a directory');
    writeFile(join(src, 'y'), 'a file');
    writeFile(join(dst, 'y/inner.txt'), 'a directory where the source has a file');
    const before = snapshot(dst);

    const result = blit(['mirror', `${src}/`, dst, '--dry-run', '--yes']);

    assert.equal(result.status, 0, result.stderr);
    unchanged(dst, before);
  });
});

describe('mirror: filters', () => {
  function trees(src: string, dst: string): void {
    writeFile(join(src, 'a.txt'), 'a', { mtime: T });
    writeFile(join(src, 'skip.log'), 'source log', { mtime: T });
    writeFile(join(dst, 'a.txt'), 'a', { mtime: T });
    writeFile(join(dst, 'old.log'), 'destination log');
    writeFile(join(dst, 'cache/blob'), 'cached');
    writeFile(join(dst, 'sub/deep.log'), 'destination log');
    writeFile(join(dst, 'extra.txt'), 'extra');
  }

  test('excluded paths at the destination are left alone', (t) => {
    const { src, dst } = dirs(tempDir(t));
    trees(src, dst);

    const result = blit(['mirror', `${src}/`, dst, '--yes', '--exclude', '*.log', '--exclude', 'cache/']);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(dst, { recursive: true }).map(String).sort(), [
      'a.txt',
      'cache',
      'cache/blob',
      'old.log',
      'sub',
      'sub/deep.log',
    ]);
    assert.equal(read(join(dst, 'old.log')), 'destination log');
  });

  test('--delete-excluded deletes them too', (t) => {
    const { src, dst } = dirs(tempDir(t));
    trees(src, dst);

    const result = blit([
      'mirror',
      `${src}/`,
      dst,
      '--yes',
      '--exclude',
      '*.log',
      '--exclude',
      'cache/',
      '--delete-excluded',
    ]);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(dst, { recursive: true }).map(String).sort(), ['a.txt']);
  });

  test('--include: what it does not match is left alone at the destination', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'a.txt'), 'a', { mtime: T });
    writeFile(join(src, 'sub/b.txt'), 'b', { mtime: T });
    writeFile(join(dst, 'extra.txt'), 'extra');
    writeFile(join(dst, 'sub/extra.txt'), 'extra');
    writeFile(join(dst, 'notes.md'), 'not matched');
    writeFile(join(dst, 'sub/notes.md'), 'not matched');

    const result = blit(['mirror', `${src}/`, dst, '--yes', '--include', '*.txt']);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(dst, { recursive: true }).map(String).sort(), [
      'a.txt',
      'notes.md',
      'sub',
      'sub/b.txt',
      'sub/notes.md',
    ]);
  });

  // Directories only the destination has, under --include '*.txt'. What rsync 3.2.7 leaves with
  // the equivalent `rsync -a --delete --include='*/' --include='*.txt' --exclude='*'`: matching
  // entries go, directories left empty go (an empty one too), unmatched files stay with the
  // directories that hold them (rsync warns "cannot delete non-empty directory" and exits 0).
  function destinationOnlyDirs(src: string, dst: string): void {
    writeFile(join(src, 'a.txt'), 'a', { mtime: T });
    writeFile(join(dst, 'a.txt'), 'a', { mtime: T });
    writeFile(join(dst, 'old/x.txt'), 'matched');
    writeFile(join(dst, 'mixed/x.txt'), 'matched');
    writeFile(join(dst, 'mixed/y.md'), 'not matched');
    writeFile(join(dst, 'deep/d1/d2/x.txt'), 'matched');
    writeFile(join(dst, 'deep/keep.md'), 'not matched');
    mkdirSync(join(dst, 'empty'));
    writeFile(join(dst, 'unmatched/n.md'), 'not matched');
  }

  test('--include: what it matches goes from directories only the destination has, as with rsync', (t) => {
    const { src, dst } = dirs(tempDir(t));
    destinationOnlyDirs(src, dst);

    const result = blit(['mirror', `${src}/`, dst, '--yes', '-v', '--include', '*.txt']);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(dst, { recursive: true }).map(String).sort(), [
      'a.txt',
      'deep',
      'deep/keep.md',
      'mixed',
      'mixed/y.md',
      'unmatched',
      'unmatched/n.md',
    ]);
    // Each deletion listed and counted once, a directory that went whole as itself.
    const deletions = result.stdout.split('\n').filter((line) => line.startsWith('delete '));
    assert.deepEqual(deletions.sort(), [
      'delete deep/d1',
      'delete empty',
      'delete mixed/x.txt',
      'delete old',
    ]);
    assert.match(result.stdout, /4 deleted/);
  });

  test('--include with --dry-run lists the very deletions a real run makes, and changes nothing', (t) => {
    const { src, dst } = dirs(tempDir(t));
    destinationOnlyDirs(src, dst);
    const before = snapshot(dst);

    const result = blit(['mirror', `${src}/`, dst, '--dry-run', '--include', '*.txt']);

    assert.equal(result.status, 0, result.stderr);
    unchanged(dst, before);
    const deletions = result.stdout.split('\n').filter((line) => line.startsWith('would delete '));
    assert.deepEqual(deletions.sort(), [
      'would delete deep/d1',
      'would delete empty',
      'would delete mixed/x.txt',
      'would delete old',
    ]);
  });

  test('--include without --yes: the withheld deletions are the ones a run with --yes makes', (t) => {
    const { src, dst } = dirs(tempDir(t));
    destinationOnlyDirs(src, dst);
    const before = readdirSync(dst, { recursive: true }).map(String).sort();

    const result = blit(['mirror', `${src}/`, dst, '--json', '--include', '*.txt']);

    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /not deleting 4 entries/);
    assert.equal(jsonReport(result).deletionsWithheld, 4);
    assert.deepEqual(readdirSync(dst, { recursive: true }).map(String).sort(), before, 'nothing deleted');
  });

  test('a directory only the destination has, holding nothing the filters select, is nothing to delete', (t) => {
    for (const filter of [
      ['--include', '*.txt'],
      ['--exclude', '*.md'],
    ]) {
      const { src, dst } = dirs(tempDir(t));
      writeFile(join(src, 'a.txt'), 'a', { mtime: T });
      writeFile(join(dst, 'a.txt'), 'a', { mtime: T });
      writeFile(join(dst, 'notes/n.md'), 'not selected');
      writeFile(join(dst, 'notes/deeper/m.md'), 'not selected');
      const before = readdirSync(dst, { recursive: true }).map(String).sort();

      // No --yes, no terminal: a deletion to ask about would make this exit 2.
      const result = blit(['mirror', `${src}/`, dst, '--json', ...filter]);

      assert.equal(result.status, 0, `${filter.join(' ')}: ${result.stderr}`);
      const report = jsonReport(result);
      assert.deepEqual(
        { deleted: report.deleted, withheld: report.deletionsWithheld },
        { deleted: 0, withheld: 0 },
      );
      assert.deepEqual(readdirSync(dst, { recursive: true }).map(String).sort(), before, 'nothing deleted');
    }
  });

  test('--include with --delete-excluded: directories only the destination has go whole', (t) => {
    const { src, dst } = dirs(tempDir(t));
    destinationOnlyDirs(src, dst);

    const result = blit(['mirror', `${src}/`, dst, '--yes', '--include', '*.txt', '--delete-excluded']);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(dst, { recursive: true }).map(String).sort(), ['a.txt']);
  });

  test('files outside --max-size are neither copied nor deleted', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'big.bin'), Buffer.alloc(4096, 1), { mtime: T + 5 });
    writeFile(join(src, 'small.txt'), 'small', { mtime: T });
    writeFile(join(dst, 'big.bin'), 'old big', { mtime: T });

    const result = blit(['mirror', `${src}/`, dst, '--yes', '--max-size', '1K']);

    assert.equal(result.status, 0, result.stderr);
    assert.equal(read(join(dst, 'big.bin')), 'old big');
    assert.equal(read(join(dst, 'small.txt')), 'small');
  });
});

describe('mirror: compare modes', () => {
  test('--ignore-existing keeps existing files, copies new ones and still deletes extras', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'exists.txt'), 'source version', { mtime: T + 9 });
    writeFile(join(src, 'new.txt'), 'new', { mtime: T });
    writeFile(join(dst, 'exists.txt'), 'destination version', { mtime: T });
    writeFile(join(dst, 'extra.txt'), 'extra');

    const result = blit(['mirror', `${src}/`, dst, '--yes', '--ignore-existing']);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(dst).sort(), ['exists.txt', 'new.txt']);
    assert.equal(read(join(dst, 'exists.txt')), 'destination version');
  });

  test('--checksum converges a file whose size and mtime match but whose contents differ', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'quiet.txt'), 'AAAA', { mtime: T });
    writeFile(join(dst, 'quiet.txt'), 'BBBB', { mtime: T });
    writeFile(join(dst, 'extra.txt'), 'extra');

    const result = blit(['mirror', `${src}/`, dst, '--yes', '--checksum']);

    assert.equal(result.status, 0, result.stderr);
    assertSameTree(dst, src);
  });

  test('--size-only and --ignore-times still delete extras', (t) => {
    for (const flag of ['--size-only', '--ignore-times']) {
      const { src, dst } = dirs(tempDir(t));
      writeFile(join(src, 'a.txt'), 'a', { mtime: T });
      writeFile(join(dst, 'extra.txt'), 'extra');

      const result = blit(['mirror', `${src}/`, dst, '--yes', flag]);

      assert.equal(result.status, 0, `${flag}: ${result.stderr}`);
      assertSameTree(dst, src);
    }
  });
});

describe('mirror: incomplete scans delete nothing', () => {
  // Root reads through permission bits: blitUnprivileged runs blit as `nobody` then.
  test('an unreadable source directory withholds every deletion (exit 2)', (t) => {
    const root = tempDir(t);
    const { src, dst } = dirs(root);
    writeFile(join(src, 'readable/a.txt'), 'a', { mtime: T });
    writeFile(join(src, 'locked/inside.txt'), 'inside');
    chmodSync(join(src, 'locked'), 0o000);
    writeFile(join(dst, 'locked/inside.txt'), 'destination copy');
    writeFile(join(dst, 'extra.txt'), 'extra');
    writeFile(join(dst, 'readable/extra.txt'), 'extra');

    const result = blitUnprivileged(['mirror', `${src}/`, dst, '--yes', '--json'], root);

    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /^blit: locked: cannot read directory: permission denied$/m);
    assert.match(result.stderr, /deletion.*withheld.*could not be read/);
    const report = jsonReport(result);
    assert.equal(report.deleted, 0);
    assert.equal(report.scanComplete, false);
    assert.equal(read(join(dst, 'extra.txt')), 'extra');
    assert.equal(read(join(dst, 'readable/extra.txt')), 'extra');
    assert.equal(read(join(dst, 'locked/inside.txt')), 'destination copy');
    assert.equal(read(join(dst, 'readable/a.txt')), 'a', 'the readable part is still copied');
  });

  test('an unreadable source file withholds every deletion (exit 2)', (t) => {
    const root = tempDir(t);
    const { src, dst } = dirs(root);
    writeFile(join(src, 'a.txt'), 'a', { mtime: T });
    writeFile(join(src, 'secret.txt'), 'secret', { mode: 0o000 });
    writeFile(join(dst, 'extra.txt'), 'extra');

    const result = blitUnprivileged(['mirror', `${src}/`, dst, '--yes', '--json'], root);

    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /^blit: secret\.txt: cannot read: permission denied$/m);
    assert.equal(jsonReport(result).deleted, 0);
    assert.equal(read(join(dst, 'extra.txt')), 'extra');
    assert.equal(read(join(dst, 'a.txt')), 'a');
  });

  test('a source name that is not UTF-8 does not stop deletions of other extras', (t) => {
    const { src, dst } = dirs(tempDir(t));
    writeFile(join(src, 'a.txt'), 'a', { mtime: T });
    writeFileSync(Buffer.concat([Buffer.from(`${src}/`), Buffer.from([0x62, 0xff])]), 'odd');
    writeFile(join(dst, 'extra.txt'), 'extra');

    const result = blit(['mirror', `${src}/`, dst, '--yes']);

    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /not valid UTF-8/);
    assert.deepEqual(readdirSync(dst), ['a.txt']);
  });

  test('the unreadable directory as the root of the source: nothing deleted', (t) => {
    const root = tempDir(t);
    const { src, dst } = dirs(root);
    writeFile(join(src, 'a.txt'), 'a');
    chmodSync(src, 0o000);
    writeFile(join(dst, 'extra.txt'), 'extra');

    const result = blitUnprivileged(['mirror', `${src}/`, dst, '--yes'], root);

    assert.notEqual(result.status, 0, result.stderr);
    assert.match(result.stderr, /permission denied/);
    assert.equal(read(join(dst, 'extra.txt')), 'extra');
  });
});

describe('mirror: single entries', () => {
  test('a single file mirrors like a copy and deletes nothing beside it', (t) => {
    const root = tempDir(t);
    writeFile(join(root, 'one.txt'), 'one', { mtime: T });
    writeFile(join(root, 'out/other.txt'), 'other');

    const result = blit(['mirror', join(root, 'one.txt'), join(root, 'out'), '--yes']);

    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(readdirSync(join(root, 'out')).sort(), ['one.txt', 'other.txt']);
  });

  test('a symlink source mirrors as a link', (t) => {
    const root = tempDir(t);
    symlinkSync('target', join(root, 'link'));
    writeFile(join(root, 'out/link'), 'a file in the way');

    const result = blit(['mirror', join(root, 'link'), join(root, 'out'), '--yes']);

    assert.equal(result.status, 0, result.stderr);
    assert.ok(lstatSync(join(root, 'out/link')).isSymbolicLink());
    assert.equal(readlinkSync(join(root, 'out/link')), 'target');
  });
});
