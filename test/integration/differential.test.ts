/**
 * Differential tests against rsync: from identical starting destinations, `blit mirror SRC/ DST/
 * --yes` and `rsync -a --delete SRC/ DST2/` must leave identical trees (names, kinds, contents,
 * modes, mtimes to the second, link targets). Trees come from a seeded PRNG, so a failure
 * names the seed that reproduces it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { blit, diffSnapshots, prng, snapshot, tempDir } from '../helpers.js';
import { cpA, generateSource, mutateDestination } from '../trees.js';

const RSYNC = '/usr/bin/rsync';
const HAVE_RSYNC = existsSync(RSYNC) || spawnSync('rsync', ['--version'], { stdio: 'ignore' }).status === 0;

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

describe('differential: blit mirror vs rsync -a --delete', () => {
  for (const seed of [1, 2, 3, 4]) {
    test(`seed ${seed}: missing, stale, drifted and extra entries`, differentialCase(seed, false));
  }
  for (const seed of [101, 102, 103, 104]) {
    test(`seed ${seed}: type conflicts as well`, differentialCase(seed, true));
  }
});
