/**
 * Differential tests against rsync: from identical starting destinations, `blit mirror SRC/ DST/
 * --yes` and `rsync -a --delete SRC/ DST2/` must leave identical trees (names, kinds, contents,
 * modes, mtimes to the second, link targets). Trees come from a seeded PRNG, so a failure
 * names the seed that reproduces it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { blit, diffSnapshots, jsonReport, prng, snapshot, tempDir } from '../helpers.js';
import {
  cpA,
  type Generated,
  generateSource,
  int,
  kindAt,
  mutateDestination,
  pick,
  type Rand,
  writeRandomFile,
} from '../trees.js';

const RSYNC = '/usr/bin/rsync';
const HAVE_RSYNC = existsSync(RSYNC) || spawnSync('rsync', ['--version'], { stdio: 'ignore' }).status === 0;

/**
 * Directories only the destination has, below random directories of the tree: files whose names
 * end in one of `suffixes` (so the filters select some), nested directories, empty ones.
 */
function addDestinationOnlyDirs(
  dst: string,
  generated: Generated,
  rand: Rand,
  suffixes: readonly string[],
): void {
  const dirs = ['', ...generated.entries.filter((e) => e.kind === 'dir').map((e) => e.rel)];
  const fill = (path: string, depth: number) => {
    mkdirSync(path);
    for (let i = int(rand, 0, 3); i > 0; i--)
      writeRandomFile(join(path, `f${i}${pick(rand, suffixes)}`), rand);
    if (rand() < 0.3) symlinkSync('somewhere', join(path, `link${pick(rand, suffixes)}`));
    if (depth < 2)
      for (let i = int(rand, 0, 2); i > 0; i--)
        fill(join(path, `${pick(rand, ['sub', 'x sub'])}${i}`), depth + 1);
  };
  for (let i = 0; i < 8; i++) {
    const parentPath = join(dst, pick(rand, dirs));
    if (kindAt(parentPath) === 'dir') fill(join(parentPath, `${pick(rand, ['only', 'x only'])} ${i}`), 0);
  }
}

function run(command: string, args: string[]): { status: number | null; stderr: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stderr: result.stderr };
}

function differentialCase(seed: number, typeConflicts: boolean) {
  return (t: { after(fn: () => void): void; skip(message?: string): void }) => {
    if (!HAVE_RSYNC) {
      t.skip('rsync not installed');
      return;
    }
    const root = tempDir(t, 'blit-differential-');
    const rand = prng(seed);
    const src = join(root, 'src');
    const dst = join(root, 'dst-blit');
    const dst2 = join(root, 'dst-rsync');
    const generated = generateSource(src, rand);
    cpA(src, dst);
    const mutations = mutateDestination(dst, generated, rand, { typeConflicts });
    cpA(dst, dst2);
    if (process.env.BLIT_TEST_KEEP === '1') cpA(dst, join(root, 'dst-before'));
    assert.deepEqual(
      diffSnapshots(snapshot(dst2), snapshot(dst), { mtimeToleranceNs: 1n }),
      [],
      'the two starting destinations are identical',
    );

    const ours = blit(['mirror', `${src}/`, `${dst}/`, '--yes']);
    const theirs = run(existsSync(RSYNC) ? RSYNC : 'rsync', ['-a', '--delete', `${src}/`, `${dst2}/`]);

    assert.equal(theirs.status, 0, `rsync: ${theirs.stderr}`);
    const differences = diffSnapshots(snapshot(dst), snapshot(dst2), { mtimeToleranceNs: 'second' });
    assert.deepEqual(
      { exit: ours.status, differences },
      { exit: 0, differences: [] },
      `seed ${seed}: blit (actual) vs rsync (expected); blit's stderr:\n${ours.stderr}`,
    );
    // And both equal the source, but for the files neither tool can tell apart from it.
    const fromSource = diffSnapshots(snapshot(dst), snapshot(src), { mtimeToleranceNs: 2000n });
    const expected = mutations.quiet.map((rel) => `${JSON.stringify(rel)}: contents differ`).sort();
    assert.deepEqual(
      fromSource.map((line) => line.replace(/ \(.*\)$/, '')).sort(),
      expected,
      `seed ${seed}: blit's tree differs from the source`,
    );
    assert.ok(generated.entries.length > 10, 'the tree is not trivial');
    assert.ok(readFileSync(join(dst, 'big file.bin')).length > 1 << 20);
  };
}

interface FilteredCase {
  seed: number;
  /** blit's filter flags, and rsync's for the same selection ('LIST': the --files-from file). */
  blit: string[];
  rsync: string[];
  /** Entries of another kind at the destination too. */
  typeConflicts?: boolean;
}

const SUFFIXES = ['.txt', '.log', '.bin', ''] as const;

/**
 * The same with filters: `blit mirror --yes FILTERS` and `rsync -a --delete RSYNC_FILTERS` leave
 * identical trees, but for one documented difference: with --include, blit makes a source
 * directory only when it holds something selected (README, Filters), where rsync without -m makes
 * every one. Those directories (not directories at the destination before, and holding only
 * directories in rsync's tree) are the only difference allowed, and only with --include.
 */
function filteredCase(c: FilteredCase) {
  return (t: { after(fn: () => void): void; skip(message?: string): void }) => {
    if (!HAVE_RSYNC) {
      t.skip('rsync not installed');
      return;
    }
    const root = tempDir(t, 'blit-differential-');
    const rand = prng(c.seed);
    const src = join(root, 'src');
    const dst = join(root, 'dst-blit');
    const dst2 = join(root, 'dst-rsync');
    const list = join(root, 'files-from');
    const generated = generateSource(src, rand, SUFFIXES);
    // A --files-from list: some entries of every kind, at every depth (a list cannot name a path
    // with a line break).
    const listed = generated.entries.filter((e) => rand() < 0.25 && !e.rel.includes('\n'));
    writeFileSync(list, `${listed.map((e) => e.rel).join('\n')}\n`);
    cpA(src, dst);
    mutateDestination(dst, generated, rand, { typeConflicts: c.typeConflicts ?? false, suffixes: SUFFIXES });
    addDestinationOnlyDirs(dst, generated, rand, SUFFIXES);
    cpA(dst, dst2);
    if (process.env.BLIT_TEST_KEEP === '1') cpA(dst, join(root, 'dst-before'));
    const before = snapshot(dst);
    const withList = (args: string[]) => args.map((arg) => arg.replace('LIST', list));

    const ours = blit(['mirror', `${src}/`, `${dst}/`, '--yes', '--json', ...withList(c.blit)]);
    const theirs = run(existsSync(RSYNC) ? RSYNC : 'rsync', [
      '-a',
      '--delete',
      ...withList(c.rsync),
      `${src}/`,
      `${dst2}/`,
    ]);

    assert.equal(theirs.status, 0, `rsync: ${theirs.stderr}`);
    const expected = snapshot(dst2);
    const included = c.blit.includes('--include');
    const madeByRsyncOnly = [...expected.keys()].filter(
      (rel) =>
        expected.get(rel)!.kind === 'dir' &&
        before.get(rel)?.kind !== 'dir' &&
        kindAt(join(dst, rel)) === 'missing' &&
        [...expected].every(([other, node]) => !other.startsWith(`${rel}/`) || node.kind === 'dir'),
    );
    for (const rel of madeByRsyncOnly) {
      assert.ok(included, `seed ${c.seed}: rsync made ${JSON.stringify(rel)}, blit did not`);
      assert.equal(kindAt(join(src, rel)), 'dir');
      for (const other of [...expected.keys()])
        if (other === rel || other.startsWith(`${rel}/`)) expected.delete(other);
    }
    // A directory the source lacks but the filters keep has no source mtime to take: where entries
    // went from it, its mtime is the moment they went, which the two runs cannot share. It must
    // have changed in both trees or in neither.
    const actual = snapshot(dst);
    const sourceTree = snapshot(src);
    for (const tree of [actual, expected]) {
      for (const [rel, node] of tree) {
        const old = before.get(rel);
        if (
          node.kind === 'dir' &&
          !sourceTree.has(rel) &&
          old?.kind === 'dir' &&
          node.mtimeNs !== old.mtimeNs
        )
          node.mtimeNs = -1n;
      }
    }
    const differences = diffSnapshots(actual, expected, { mtimeToleranceNs: 'second' });
    assert.deepEqual(
      { exit: ours.status, differences },
      { exit: 0, differences: [] },
      `seed ${c.seed} (${c.blit.join(' ')}): blit (actual) vs rsync (expected); blit's stderr:\n${ours.stderr}`,
    );
    // Not a vacuous pass: the filters left some destination entries alone and some were deleted.
    assert.ok(jsonReport(ours).deleted > 0, 'something was deleted');
    assert.ok(diffSnapshots(actual, sourceTree, { mtimeToleranceNs: 2000n }).length > 0);
  };
}

describe('differential: blit mirror vs rsync -a --delete', () => {
  for (const seed of [1, 2, 3, 4]) {
    test(`seed ${seed}: missing, stale, drifted and extra entries`, differentialCase(seed, false));
  }
  for (const seed of [101, 102, 103, 104]) {
    test(`seed ${seed}: type conflicts as well`, differentialCase(seed, true));
  }
});

// How blit's filters read in rsync's rules (filter.ts): an --exclude glob is rsync's, tried before
// any include; an --include GLOB (which matches no directory here: directory names carry no suffix)
// is --include='*/' --include=GLOB --exclude='*'; --files-from keeps a listed directory's subtree,
// which rsync does with -r.
const INCLUDE_TXT = ['--include=*/', '--include=*.txt', '--exclude=*'];
const FILTERED: (FilteredCase & { title: string })[] = [
  { title: '--include', seed: 201, blit: ['--include', '*.txt'], rsync: INCLUDE_TXT },
  {
    title: 'two --include globs',
    seed: 202,
    blit: ['--include', '*.txt', '--include', '*.log'],
    rsync: ['--include=*/', '--include=*.txt', '--include=*.log', '--exclude=*'],
  },
  { title: '--exclude', seed: 203, blit: ['--exclude', '*.log'], rsync: ['--exclude=*.log'] },
  {
    title: '--exclude of directories (trailing slash) and an anchored one',
    seed: 204,
    blit: ['--exclude', 'x*/', '--exclude', '/extra*', '--exclude', '*.bin'],
    rsync: ['--exclude=x*/', '--exclude=/extra*', '--exclude=*.bin'],
  },
  {
    title: '--include with --exclude',
    seed: 205,
    blit: ['--include', '*.txt', '--exclude', 'x*'],
    rsync: ['--exclude=x*', ...INCLUDE_TXT],
  },
  {
    title: '--exclude with --delete-excluded',
    seed: 206,
    blit: ['--exclude', '*.log', '--exclude', 'x*/', '--delete-excluded'],
    rsync: ['--exclude=*.log', '--exclude=x*/', '--delete-excluded'],
  },
  {
    title: '--include with --delete-excluded',
    seed: 207,
    blit: ['--include', '*.txt', '--delete-excluded'],
    rsync: [...INCLUDE_TXT, '--delete-excluded'],
  },
  {
    title: '--include and --exclude with --delete-excluded',
    seed: 208,
    blit: ['--include', '*.txt', '--include', '*.bin', '--exclude', 'x*', '--delete-excluded'],
    rsync: [
      '--exclude=x*',
      '--include=*/',
      '--include=*.txt',
      '--include=*.bin',
      '--exclude=*',
      '--delete-excluded',
    ],
  },
  { title: '--files-from', seed: 209, blit: ['--files-from', 'LIST'], rsync: ['-r', '--files-from=LIST'] },
  {
    title: '--include, type conflicts as well',
    seed: 210,
    blit: ['--include', '*.txt'],
    rsync: INCLUDE_TXT,
    typeConflicts: true,
  },
  {
    title: '--exclude, type conflicts as well',
    seed: 211,
    blit: ['--exclude', '*.log', '--exclude', 'x*/'],
    rsync: ['--exclude=*.log', '--exclude=x*/'],
    typeConflicts: true,
  },
];

describe('differential: filtered blit mirror vs rsync -a --delete with the same filters', () => {
  for (const c of FILTERED) test(`seed ${c.seed}: ${c.title}`, filteredCase(c));
});
