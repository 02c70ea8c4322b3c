import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CopyScheduler } from '../../src/engine/copy-scheduler.js';
import type { ExecutionPlan } from '../../src/engine/execution-plan.js';
import type { CopyJob, CopyOutcome } from '../../src/fsops/copy-file.js';
import type { CopyExecutor } from '../../src/fsops/copy-pool.js';
import {
  chooseExecutionPlan,
  HOLD_BUDGET_MS,
  MAX_INLINE_FILES,
  PRIOR_INLINE_MS_PER_FILE,
  PRIOR_POOL_START_MS,
} from '../../src/perf/choose-plan.js';
import { Predictor } from '../../src/perf/predictor.js';
import { perfRecord, type RunShape } from '../fixtures/perf-records.js';

const DEFAULTS: ExecutionPlan = {
  inlineFiles: 8,
  inlineBytes: 100 << 20,
  workers: 2,
  batchFiles: 256,
  batchBytes: 16 << 20,
};

function planFrom(runs: RunShape[], defaults = DEFAULTS) {
  const history = Predictor.fromRecords(runs.map(perfRecord)).lookup('ext4>ext4', 'copy', 'default');
  return chooseExecutionPlan(history, defaults);
}

const times = <T>(n: number, value: T): T[] => Array.from({ length: n }, () => value);

/** Which executors a scheduler running this plan starts for `files` one-byte jobs: true = inline. */
async function executorsFor(plan: ExecutionPlan, files: number): Promise<boolean[]> {
  const started: boolean[] = [];
  const executor: CopyExecutor = {
    size: 1,
    inFlight: 0,
    capacity: 4,
    starving: false,
    run: async (jobs: CopyJob[]): Promise<CopyOutcome[]> =>
      jobs.map((j) => ({ rel: j.rel, status: 'copied', bytes: 1 })),
    close: async () => {},
  };
  const scheduler = new CopyScheduler(
    (tiny) => {
      started.push(tiny);
      return executor;
    },
    () => {},
    { files: plan.batchFiles, bytes: plan.batchBytes },
    { files: plan.inlineFiles, bytes: plan.inlineBytes },
  );
  for (let i = 0; i < files; i++) {
    const job: CopyJob = {
      rel: `f${i}`,
      src: '',
      dst: '',
      size: 1,
      mtimeNs: 0n,
      mode: 0o644,
      hashFirst: false,
      removeSource: false,
    };
    await scheduler.add(job, 1);
  }
  await scheduler.drain();
  return started;
}

describe('chooseExecutionPlan', () => {
  test('without history: the defaults, and says so', () => {
    const plan = planFrom([]);
    assert.equal(plan.fromHistory, false);
    assert.deepEqual(
      { ...plan, fromHistory: undefined, reason: undefined },
      { ...DEFAULTS, fromHistory: undefined, reason: undefined },
    );
  });

  test('a history of ~200-file copies whose pool start-up dominated: the next 200 files go inline', async () => {
    const before = planFrom([]);
    assert.deepEqual(await executorsFor(before, 200), [false], 'without history 200 files start the pool');

    const plan = planFrom(times(3, { fastPath: 'pool', files: 200, copyMs: 90, startMs: 80, scanMs: 2 }));
    assert.equal(plan.fromHistory, true);
    // inline 200 × 0.1 ms = 20 ms against 80 ms start + 10 ms: break-even 80 / (0.1 − 0.05) = 1600 files
    assert.equal(plan.inlineFiles, 1600);
    assert.match(plan.reason, /inline up to 1600 files/);
    assert.deepEqual(await executorsFor(plan, 200), [true], 'with history the same job stays inline');
    assert.deepEqual(
      await executorsFor(plan, 1601),
      [false],
      'a job past the break-even still gets the pool',
    );
  });

  test('a pool run that copied everything in its first batch measured no rate: the priors fill in', () => {
    const plan = planFrom([{ fastPath: 'pool', files: 100, copyMs: 90, startMs: 90, scanMs: 1 }]);
    // inline 0.1 ms/file (prior), pool 90 ms start + 0.05 ms/file: 90 / 0.05 = 1800
    assert.equal(plan.inlineFiles, 1800);
    assert.match(plan.reason, /inline 0\.10 ms\/file \(estimated\), pool 90 ms start/);
  });

  test('measured inline copies that turn out slow lower the limit again', () => {
    const pool = { fastPath: 'pool', files: 200, copyMs: 90, startMs: 80, scanMs: 2 } as const;
    const fastInline = planFrom([
      pool,
      ...times(3, { fastPath: 'inline', files: 200, copyMs: 12, scanMs: 2 } as const),
    ]);
    const slowInline = planFrom([
      pool,
      ...times(3, { fastPath: 'inline', files: 200, copyMs: 200, scanMs: 2 } as const),
    ]);
    // 0.06 ms/file inline: break-even 80 / (0.06 − 0.05) = 8000 files. 1 ms/file inline: 80 / (1 − 0.05) ≈ 84,
    // and runs of 200 files are well past that: the pool starts at once again.
    assert.equal(fastInline.inlineFiles, 8000);
    assert.equal(slowInline.inlineFiles, DEFAULTS.inlineFiles);
    assert.match(slowInline.reason, /~200 files, past the break-even: pool at once/);
  });

  test('inline no slower per file than the pool: inline as far as the hold budget allows', () => {
    const plan = planFrom([
      { fastPath: 'pool', files: 200, copyMs: 100, startMs: 60, scanMs: 20, entries: 2000 },
      { fastPath: 'inline', files: 200, copyMs: 10, scanMs: 20, entries: 2000 },
    ]);
    // scanning costs 0.01 ms/entry, so holding 25,000 would take the whole budget; capped at the maximum
    assert.equal(plan.inlineFiles, MAX_INLINE_FILES);
  });

  test('a slow scan caps how many jobs are held back before deciding', () => {
    const plan = planFrom([
      { fastPath: 'pool', files: 200, copyMs: 90, startMs: 80, scanMs: 201, entries: 201 },
    ]);
    assert.equal(plan.inlineFiles, Math.floor(HOLD_BUDGET_MS / 1), 'scan takes 1 ms per entry');
  });

  test('the hold budget uses the listing time alone, not a scan slowed by waiting for copies', () => {
    // break-even 80 / (0.1 − 0.05) = 1600 files
    const run = {
      fastPath: 'pool',
      files: 400,
      copyMs: 100,
      startMs: 80,
      entries: 2000,
      scanMs: 1000,
    } as const;
    const throttled = planFrom([{ ...run, listMs: 20 }]);
    const slowListing = planFrom([{ ...run, listMs: 1000 }]);
    assert.equal(slowListing.inlineFiles, 500, 'listing at 0.5 ms/entry: 250 ms holds 500 files');
    assert.equal(throttled.inlineFiles, 1600, 'listing at 0.01 ms/entry: the break-even is the limit');
  });

  test('runs known to be far past the break-even start the pool at once, with default batches', async () => {
    const plan = planFrom(
      times(3, { fastPath: 'pool', files: 20_000, copyMs: 600, startMs: 80, scanMs: 100 }),
    );
    assert.equal(plan.inlineFiles, DEFAULTS.inlineFiles);
    assert.match(plan.reason, /pool at once/);
    assert.equal(plan.batchFiles, DEFAULTS.batchFiles);
    assert.equal(plan.workers, DEFAULTS.workers);
    assert.deepEqual(await executorsFor(plan, 9), [false]);
  });

  test('worker count and batch size follow the expected workload', () => {
    const many = { ...DEFAULTS, workers: 8 };
    const mid = planFrom(
      times(2, { fastPath: 'pool', files: 1000, bytes: 4000 << 10, copyMs: 100, startMs: 80 }),
      many,
    );
    assert.equal(mid.workers, 4, '1000 files fill 4 default batches: no point starting 8 workers');
    assert.equal(mid.batchFiles, 125, 'two batches per worker');
    assert.equal(mid.batchBytes, 1 << 20, 'at least 1 MiB');
    const big = planFrom(times(2, { fastPath: 'pool', files: 50_000, copyMs: 2000, startMs: 80 }), many);
    assert.equal(big.workers, 8);
    assert.equal(big.batchFiles, 256);
  });

  test('the priors are the measured figures', () => {
    assert.equal(PRIOR_INLINE_MS_PER_FILE, 0.1);
    assert.equal(PRIOR_POOL_START_MS, 80);
  });
});
