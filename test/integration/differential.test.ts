/**
 * Differential tests against rsync: from identical starting destinations, `blit mirror SRC/ DST/
 * --yes` and `rsync -a --delete SRC/ DST2/` must leave identical trees (names, kinds, contents,
 * modes, mtimes to the second, link targets). Trees come from a seeded PRNG, so a failure
 * names the seed that reproduces it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { blit, diffSnapshots, jsonReport, prng, setMtime, snapshot, tempDir } from '../helpers.js';

const RSYNC = '/usr/bin/rsync';
const HAVE_RSYNC = existsSync(RSYNC) || spawnSync('rsync', ['--version'], { stdio: 'ignore' }).status === 0;
const T = 1_500_000_000;

type Rand = () => number;

function int(rand: Rand, min: number, max: number): number {
  return min + Math.floor(rand() * (max - min + 1));
}

function pick<T>(rand: Rand, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

/** Bytes from the PRNG; big files repeat one random block so generating them stays cheap. */
function randomContent(rand: Rand, size: number): Buffer {
  const block = Buffer.alloc(Math.min(size, 64 * 1024));
  for (let i = 0; i < block.length; i++) block[i] = Math.floor(rand() * 256);
  if (size <= block.length) return block;
  const out = Buffer.alloc(size);
  for (let offset = 0; offset < size; offset += block.length) block.copy(out, offset);
  out.writeUInt32LE(Math.floor(rand() * 2 ** 32), size - 4);
  return out;
}

/** An mtime on a whole microsecond, so that "to the second" never straddles a boundary by rounding. */
function randomMtime(rand: Rand): number {
  return T + int(rand, 0, 50_000_000) + int(rand, 0, 999_998) / 1e6;
}

const FILE_MODES = [0o644, 0o600, 0o755, 0o444, 0o640, 0o700, 0o664];
const DIR_MODES = [0o755, 0o700, 0o750, 0o775, 0o711];
const NAME_BASES = [
  'file',
  'data.bin',
  'with space',
  ' lead',
  'line\nbreak',
  'caf\u00e9',
  'cafe\u0301',
  '-rf',
  '\u00fcber',
  '\u65e5\u672c',
  '.hidden',
  'back\\slash',
  'x',
];

interface Generated {
  /** Relative paths of everything generated, parents before children. */
  entries: { rel: string; kind: 'file' | 'dir' | 'symlink' }[];
}

function randomSize(rand: Rand): number {
  const r = rand();
  if (r < 0.12) return 0;
  if (r < 0.6) return int(rand, 1, 200);
  if (r < 0.95) return int(rand, 201, 64 * 1024);
  return int(rand, 1 << 20, (1 << 20) + 300_000);
}

function writeRandomFile(path: string, rand: Rand, size = randomSize(rand)): void {
  writeFileSync(path, randomContent(rand, size));
  chmodSync(path, pick(rand, FILE_MODES));
  utimesSync(path, T, randomMtime(rand));
}

/**
 * A random source tree under `root` (which must not exist). With `suffixes`, each file and link
 * name ends in one of them (directories never do), so that filters select some and not others.
 */
function generateSource(root: string, rand: Rand, suffixes?: readonly string[]): Generated {
  const generated: Generated = { entries: [] };
  const dirsToFinish: string[] = [];
  let serial = 0;
  const nextName = () => `${pick(rand, NAME_BASES)}${serial++}`;

  const fill = (rel: string, depth: number) => {
    const dir = rel === '' ? root : join(root, rel);
    mkdirSync(dir, { recursive: true });
    const count = int(rand, depth === 0 ? 6 : 0, depth === 0 ? 12 : 6);
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      let name = nextName();
      const r = rand();
      if (suffixes && !(r >= 0.55 && r < 0.8 && depth < 4) && r < 0.93) name += pick(rand, suffixes);
      names.push(name);
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const path = join(root, childRel);
      if (r < 0.55) {
        writeRandomFile(path, rand);
        generated.entries.push({ rel: childRel, kind: 'file' });
      } else if (r < 0.8 && depth < 4) {
        generated.entries.push({ rel: childRel, kind: 'dir' });
        fill(childRel, depth + 1);
      } else if (r < 0.93) {
        const target = pick(rand, [
          ...names.slice(0, -1),
          'dangling-target',
          '../up/and/away',
          '/nonexistent/absolute',
          '.',
        ]);
        symlinkSync(target || 'dangling-target', path);
        setMtime(path, randomMtime(rand));
        generated.entries.push({ rel: childRel, kind: 'symlink' });
      } else {
        mkdirSync(path);
        generated.entries.push({ rel: childRel, kind: 'dir' });
        dirsToFinish.push(path);
      }
    }
    dirsToFinish.push(dir);
  };
  fill('', 0);
  // Features every tree has, whatever the seed.
  writeRandomFile(join(root, 'big file.bin'), rand, (1 << 20) + int(rand, 1, 500_000));
  writeRandomFile(join(root, 'empty-file'), rand, 0);
  mkdirSync(join(root, 'empty dir'));
  dirsToFinish.push(join(root, 'empty dir'));
  symlinkSync('no/such/target', join(root, 'dangling link'));
  generated.entries.push(
    { rel: 'big file.bin', kind: 'file' },
    { rel: 'empty-file', kind: 'file' },
    { rel: 'empty dir', kind: 'dir' },
    { rel: 'dangling link', kind: 'symlink' },
  );
  // Directory modes and mtimes last, deepest first (fill pushed children before parents).
  for (const dir of dirsToFinish) {
    chmodSync(dir, pick(rand, DIR_MODES));
    utimesSync(dir, T, randomMtime(rand));
  }
  return generated;
}

function cpA(from: string, to: string): void {
  const result = spawnSync('cp', ['-a', from, to], { encoding: 'utf8' });
  assert.equal(result.status, 0, `cp -a failed: ${result.stderr}`);
}

function kindAt(path: string): 'file' | 'dir' | 'symlink' | 'missing' | 'other' {
  let stats: ReturnType<typeof lstatSync>;
  try {
    stats = lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return 'missing'; // a parent is no longer a directory
  }
  if (!stats) return 'missing';
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'dir';
  if (stats.isSymbolicLink()) return 'symlink';
  return 'other';
}

interface Mutations {
  /** Files whose contents differ while size and mtime match: both tools must leave them alone. */
  quiet: string[];
}

/**
 * Turns `dst` (a copy of the source) into a plausible out-of-date destination: missing entries,
 * stale files (same size, other contents, older mtime), metadata drift, extras and, when
 * `typeConflicts` is set, entries of another kind.
 */
function mutateDestination(
  dst: string,
  generated: Generated,
  rand: Rand,
  options: { typeConflicts: boolean; suffixes?: readonly string[] },
): Mutations {
  const mutations: Mutations = { quiet: [] };
  // The copy's directories may be read-only (0555): root writes regardless, as do both tools.
  for (const { rel, kind } of generated.entries) {
    const path = join(dst, rel);
    if (kindAt(path) !== kind) continue; // an ancestor was already replaced or removed
    const r = rand();
    if (r < 0.08) {
      rmSync(path, { recursive: true, force: true });
    } else if (kind === 'file' && r < 0.2) {
      // Stale: same size, other contents, an older mtime.
      const size = lstatSync(path).size;
      const old = lstatSync(path).mtimeMs / 1000;
      writeFileSync(path, randomContent(rand, size));
      utimesSync(path, T, old - int(rand, 10, 100_000));
    } else if (kind === 'file' && r < 0.25 && lstatSync(path).size > 0) {
      // Quiet: same size and the very same mtime (to the nanosecond, through touch -r).
      const reference = join(dst, '..', '.quiet-reference');
      spawnSync('touch', ['-r', path, reference]);
      const before = readFileSync(path);
      const contents = randomContent(rand, before.length);
      if (contents.equals(before)) contents[0] = (contents[0]! + 1) % 256;
      writeFileSync(path, contents);
      spawnSync('touch', ['-r', reference, path]);
      rmSync(reference);
      mutations.quiet.push(rel);
    } else if (kind === 'file' && r < 0.3) {
      chmodSync(path, pick(rand, FILE_MODES));
    } else if (kind !== 'dir' && r < 0.35) {
      setMtime(path, randomMtime(rand));
    } else if (kind === 'file' && r < 0.4) {
      writeFileSync(path, randomContent(rand, randomSize(rand)));
    } else if (kind === 'dir' && r < 0.3) {
      chmodSync(path, pick(rand, DIR_MODES));
    } else if (options.typeConflicts && r < 0.5) {
      rmSync(path, { recursive: true, force: true });
      const replacement = pick(
        rand,
        (['file', 'dir', 'symlink'] as const).filter((other) => other !== kind),
      );
      if (replacement === 'file') writeRandomFile(path, rand);
      else if (replacement === 'dir') {
        mkdirSync(path);
        writeRandomFile(join(path, 'inside'), rand);
        mkdirSync(join(path, 'nested'));
        writeRandomFile(join(path, 'nested/deeper'), rand);
      } else symlinkSync(pick(rand, ['dangling', '/nonexistent', '.']), path);
    }
  }
  // Extras the source lacks: files, directories with contents, links.
  const dirs = ['', ...generated.entries.filter((e) => e.kind === 'dir').map((e) => e.rel)];
  for (let i = 0; i < 12; i++) {
    const parent = pick(rand, dirs);
    const parentPath = parent === '' ? dst : join(dst, parent);
    if (kindAt(parentPath) !== 'dir') continue;
    let name = `extra ${i}${pick(rand, ['', '\nnl', '\u00e9'])}`;
    const r = rand();
    if (options.suffixes && (r < 0.5 || r >= 0.8)) name += pick(rand, options.suffixes);
    const path = join(parentPath, name);
    if (r < 0.5) writeRandomFile(path, rand);
    else if (r < 0.8) {
      mkdirSync(path);
      writeRandomFile(join(path, 'file'), rand);
      mkdirSync(join(path, 'empty'));
    } else symlinkSync('somewhere', path);
  }
  return mutations;
}

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
