/**
 * Random trees for the differential tests (local against rsync, remote against local): a source
 * from a seeded PRNG and a plausible out-of-date destination made from a copy of it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setMtime, T } from './helpers.js';

export type Rand = () => number;

export function int(rand: Rand, min: number, max: number): number {
  return min + Math.floor(rand() * (max - min + 1));
}

export function pick<T>(rand: Rand, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

/** Bytes from the PRNG; big files repeat one random block so generating them stays cheap. */
export function randomContent(rand: Rand, size: number): Buffer {
  const block = Buffer.alloc(Math.min(size, 64 * 1024));
  for (let i = 0; i < block.length; i++) block[i] = Math.floor(rand() * 256);
  if (size <= block.length) return block;
  const out = Buffer.alloc(size);
  for (let offset = 0; offset < size; offset += block.length) block.copy(out, offset);
  out.writeUInt32LE(Math.floor(rand() * 2 ** 32), size - 4);
  return out;
}

/** An mtime on a whole microsecond, so that "to the second" never straddles a boundary by rounding. */
export function randomMtime(rand: Rand): number {
  return T + int(rand, 0, 50_000_000) + int(rand, 0, 999_998) / 1e6;
}

export const FILE_MODES = [0o644, 0o600, 0o755, 0o444, 0o640, 0o700, 0o664];
export const DIR_MODES = [0o755, 0o700, 0o750, 0o775, 0o711];
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

export interface Generated {
  /** Relative paths of everything generated, parents before children. */
  entries: { rel: string; kind: 'file' | 'dir' | 'symlink' }[];
}

export function randomSize(rand: Rand): number {
  const r = rand();
  if (r < 0.12) return 0;
  if (r < 0.6) return int(rand, 1, 200);
  if (r < 0.95) return int(rand, 201, 64 * 1024);
  return int(rand, 1 << 20, (1 << 20) + 300_000);
}

export function writeRandomFile(path: string, rand: Rand, size = randomSize(rand)): void {
  writeFileSync(path, randomContent(rand, size));
  chmodSync(path, pick(rand, FILE_MODES));
  utimesSync(path, T, randomMtime(rand));
}

/**
 * A random source tree under `root` (which must not exist). With `suffixes`, each file and link
 * name ends in one of them (directories never do), so that filters select some and not others.
 */
export function generateSource(root: string, rand: Rand, suffixes?: readonly string[]): Generated {
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

export function cpA(from: string, to: string): void {
  const result = spawnSync('cp', ['-a', from, to], { encoding: 'utf8' });
  assert.equal(result.status, 0, `cp -a failed: ${result.stderr}`);
}

export function kindAt(path: string): 'file' | 'dir' | 'symlink' | 'missing' | 'other' {
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

export interface Mutations {
  /** Files whose contents differ while size and mtime match: both tools must leave them alone. */
  quiet: string[];
}

/**
 * Turns `dst` (a copy of the source) into a plausible out-of-date destination: missing entries,
 * stale files (same size, other contents, older mtime), metadata drift, extras and, when
 * `typeConflicts` is set, entries of another kind.
 */
export function mutateDestination(
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
