/**
 * The session takes the execution plan perf history chose, and reports what it measured. Runs the
 * session in-process with an inline executor (worker threads cannot load .ts files under tsx).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { resolveEndpoints } from '../../src/engine/endpoints.js';
import { defaultPlan, type ExecutionPlan } from '../../src/engine/execution-plan.js';
import { runTransfer } from '../../src/engine/session.js';
import type { SessionStats } from '../../src/engine/session-stats.js';
import { InlineExecutor } from '../../src/fsops/copy-pool.js';
import { localProbe } from '../../src/fsops/path-probe.js';
import { tempDir } from '../helpers.js';

const DEFAULTS = defaultPlan();

describe('the session runs the plan it is given', () => {
  function tree(t: { after(fn: () => void): void }, files: number): { src: string; dst: string } {
    const root = tempDir(t);
    const src = join(root, 'src');
    mkdirSync(src);
    for (let i = 0; i < files; i++) writeFileSync(join(src, `f${i}`), `file ${i}\n`);
    return { src: `${src}/`, dst: join(root, 'dst') };
  }

  async function run(src: string, dst: string, plan?: ExecutionPlan) {
    const tiny: boolean[] = [];
    let stats: SessionStats | undefined;
    const report = await runTransfer(
      resolveEndpoints(src, dst, localProbe),
      {
        operation: 'copy',
        compare: 'default',
        filter: { include: [], exclude: [] },
        dryRun: false,
        deleteExcluded: false,
      },
      {
        plan,
        startExecutor: (t) => {
          tiny.push(t);
          return new InlineExecutor();
        },
        onStats: (s) => {
          stats = s;
        },
      },
    );
    return { report, tiny, stats: stats! };
  }

  test('20 files: the default plan starts the pool, a history plan keeps them inline; stats describe the run', async (t) => {
    const a = tree(t, 20);
    const byDefault = await run(a.src, a.dst);
    assert.deepEqual(byDefault.tiny, [false]);
    assert.equal(byDefault.report.copied, 20);

    const b = tree(t, 20);
    const planned = await run(b.src, b.dst, { ...DEFAULTS, inlineFiles: 50 });
    assert.deepEqual(planned.tiny, [true]);
    assert.equal(planned.report.copied, 20);
    const s = planned.stats;
    assert.equal(s.files, 20);
    assert.equal(s.jobs, 20);
    assert.equal(s.bytes, s.jobBytes);
    assert.equal(s.sizeHistogram[1], 20, 'every file is under 1 KiB');
    assert.equal(s.executor, 'inline');
    assert.ok(s.scanMs > 0 && s.totalMs >= s.scanMs);
    assert.ok(s.firstByteMs !== undefined && s.firstByteMs <= s.totalMs);
  });

  test('nothing to copy: no executor, and the stats say so', async (t) => {
    const a = tree(t, 3);
    await run(a.src, a.dst);
    const again = await run(a.src, a.dst);
    assert.deepEqual(again.tiny, []);
    assert.equal(again.stats.executor, 'none');
    assert.equal(again.stats.jobs, 0);
    assert.equal(again.stats.files, 3);
  });
});
