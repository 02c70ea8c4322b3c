/** The xattr mark's rules (perf/xattr-mark.ts): when one applies, what a clean run leaves, its key. */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { XattrMarkJob } from '../../src/perf/xattr-mark.js';
import {
  endedClean,
  MARGIN_MS,
  type Mark,
  markKey,
  marksPath,
  markThatApplies,
  nextMarkTimes,
  type RootState,
  startXattrMark,
} from '../../src/perf/xattr-mark.js';
import { tempDir } from '../helpers.js';

const root = (ctimeNs: bigint, ino = 7n): RootState => ({ dev: 1n, ino, ctimeNs });
const mark: Mark = {
  sourceMs: 1000,
  destinationMs: 2000,
  sourceRootCtimeNs: '500',
  destinationRootCtimeNs: '900',
  usedMs: 3000,
};

/** A mirror that may leave a mark: addon, both kinds kept, default compare, no filter. */
function mirrorJob(source: string, destination: string): XattrMarkJob {
  const filter = { include: [], exclude: [] };
  return {
    source,
    destination,
    operation: 'mirror',
    compare: 'default',
    dryRun: false,
    filter,
    keepXattrs: 3,
    native: true,
  };
}

describe('xattr mark', () => {
  test('applies while the destination root is as left and the source root did not go back', () => {
    assert.deepEqual(markThatApplies(mark, root(500n), root(900n)), { sourceMs: 1000, destinationMs: 2000 });
    assert.deepEqual(markThatApplies(mark, root(501n), root(900n)), { sourceMs: 1000, destinationMs: 2000 });
    assert.equal(markThatApplies(mark, root(500n), root(901n)), undefined, 'destination root changed');
    assert.equal(markThatApplies(mark, root(500n), root(899n)), undefined, 'destination root put back');
    assert.equal(markThatApplies(mark, root(499n), root(900n)), undefined, 'source root went back');
    assert.equal(markThatApplies(undefined, root(500n), root(900n)), undefined);
  });

  test('a clean run marks its start less the margin, for the source no later than its latest change', () => {
    assert.deepEqual(nextMarkTimes(10_000, 50_000), {
      sourceMs: 10_000 - MARGIN_MS,
      destinationMs: 10_000 - MARGIN_MS,
    });
    // A snapshot made at 4,000 and copied at 10,000: changes after 4,000 are not in it.
    assert.deepEqual(nextMarkTimes(10_000, 4_000), { sourceMs: 4_000, destinationMs: 10_000 - MARGIN_MS });
  });

  test('only a run with nothing failed, no xattr or ACL refused, ends clean', () => {
    assert.equal(endedClean(0, undefined), true);
    assert.equal(
      endedClean(0, { xattrs: { applied: 3, failed: 0 }, owner: { applied: 0, failed: 2 } }),
      true,
    );
    assert.equal(endedClean(1, undefined), false);
    assert.equal(endedClean(0, { xattrs: { applied: 0, failed: 1 } }), false);
    assert.equal(endedClean(0, { acls: { applied: 0, failed: 1 } }), false);
  });

  test('the key names the job: paths, roots, operation, compare, kinds kept, filters', () => {
    const job = mirrorJob('a', 'b');
    const key = (
      over: Partial<XattrMarkJob>,
      s = root(1n),
      d = root(1n, 8n),
      real: [string, string] = ['/a', '/b'],
    ) => markKey({ ...job, ...over }, s, d, real);
    const base = key({});
    assert.equal(key({}), base);
    assert.equal(key({ dryRun: true }), base, 'not part of the key');
    assert.notEqual(key({}, root(1n), root(1n, 8n), ['/a', '/c']), base);
    assert.notEqual(key({}, root(1n, 9n)), base, 'another source root inode');
    assert.notEqual(key({ operation: 'copy' }), base);
    assert.notEqual(key({ keepXattrs: 1 }), base);
    assert.notEqual(key({ filter: { include: [], exclude: ['*.o'] } }), base);
  });

  test('a run records a mark only when it may: native, xattrs kept, default compare, copy or mirror, not dry', (t) => {
    const dir = tempDir(t, 'blit-mark-unit-');
    const env = { XDG_CONFIG_HOME: join(dir, 'config') };
    mkdirSync(join(dir, 'src'));
    mkdirSync(join(dir, 'dst'));
    const job = mirrorJob(join(dir, 'src'), join(dir, 'dst'));
    // A run a minute ahead of the trees' change times: the source's mark is its latest change.
    let clock = Date.now() + 60_000;
    const started = clock;
    const now = () => clock;
    for (const over of [
      { native: false },
      { keepXattrs: 0 },
      { compare: 'checksum' as const },
      { operation: 'move' as const },
      { dryRun: true },
    ]) {
      startXattrMark({ ...job, ...over }, env, now).finish(true, 0);
      assert.throws(() => readFileSync(marksPath(env)), /ENOENT/, JSON.stringify(over));
    }
    startXattrMark(job, env, now).finish(false, 0);
    assert.throws(() => readFileSync(marksPath(env)), /ENOENT/, 'not clean');

    const first = startXattrMark(job, env, now);
    assert.equal(first.unchangedBefore, undefined, 'no mark yet');
    first.finish(true, 1000);
    clock += 5000;
    const second = startXattrMark(job, env, now);
    const sourceRootMs = Number(statSync(job.source, { bigint: true }).ctimeNs / 1_000_000n);
    assert.deepEqual(second.unchangedBefore, { sourceMs: sourceRootMs, destinationMs: started - MARGIN_MS });
    // Its root's change time was moved when the mark was made, and recorded.
    const stored = Object.values(
      (JSON.parse(readFileSync(marksPath(env), 'utf8')) as { marks: Record<string, Mark> }).marks,
    );
    assert.equal(stored.length, 1);
    assert.equal(
      stored[0]!.destinationRootCtimeNs,
      String(statSync(job.destination, { bigint: true }).ctimeNs),
    );
  });
});
