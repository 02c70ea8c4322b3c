/**
 * Turns what history predicts into an execution plan: how many files the inline fast path may take
 * before workers pay off, how many workers to start, how big a batch is. Pure, so tests can drive it.
 *
 * Inline copying costs c_i per file; the pool costs a start-up s plus r per file, so inline wins
 * below n* = s / (c_i − r) files. Jobs are held back (nothing copied) until the scheduler knows
 * whether the job stays under that limit, so the limit is also capped by how long holding may
 * delay the first byte, and a segment whose runs are known to be larger starts its pool at once.
 */
import type { ExecutionPlan } from '../engine/execution-plan.js';
import { newest, type PlanHistory, perFileMs } from './predictor.js';

/**
 * Synchronous small-file copies on one thread: 29 µs (tmpfs) to 225 µs (ext4) per file
 * (docs/ARCHITECTURE.md, "Ceilings").
 */
export const PRIOR_INLINE_MS_PER_FILE = 0.1;
/** Starting two copy workers and getting a first batch back, measured here: 75–110 ms. */
export const PRIOR_POOL_START_MS = 80;
export const MAX_INLINE_FILES = 10_000;
/** Holding jobs while deciding may delay the first byte by at most this long. */
export const HOLD_BUDGET_MS = 250;
export const MIN_BATCH_FILES = 32;
export const MIN_BATCH_BYTES = 1 << 20;

export interface ChosenPlan extends ExecutionPlan {
  fromHistory: boolean;
  /** One line on why, for `blit diagnostics perf`. */
  reason: string;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

const ms = (value: number) => (value >= 10 ? value.toFixed(0) : value.toPrecision(2));

export function chooseExecutionPlan(history: PlanHistory, defaults: ExecutionPlan): ChosenPlan {
  const copying = newest(history.inline, history.pool);
  if (!copying)
    return { ...defaults, fromHistory: false, reason: 'no history of copies like this one: defaults' };
  const recent = newest(history.inline, history.pool, history.none) ?? copying;

  const pool = history.pool && history.pool.rateRuns > 0 ? history.pool : undefined;
  const start = pool ? pool.rateStartMs : PRIOR_POOL_START_MS;
  // A pool run that copied everything in its first batch measured its start-up, not its rate.
  const poolRate =
    pool && pool.rateCopyMs > pool.rateStartMs
      ? (pool.rateCopyMs - pool.rateStartMs) / pool.rateFiles
      : undefined;
  const inlineRate = history.inline ? perFileMs(history.inline) : undefined;
  // Without inline runs to learn from, one thread is taken to do what one worker of the pool does.
  const ci = inlineRate ?? (poolRate === undefined ? PRIOR_INLINE_MS_PER_FILE : poolRate * defaults.workers);
  const r = poolRate ?? ci / defaults.workers;
  const breakEven = ci > r ? start / (ci - r) : Number.POSITIVE_INFINITY;
  const holdCap = recent.listMsPerEntry > 0 ? HOLD_BUDGET_MS / recent.listMsPerEntry : MAX_INLINE_FILES;

  const expectedFiles = copying.files;
  let inlineFiles = Math.floor(clamp(Math.min(breakEven, holdCap), defaults.inlineFiles, MAX_INLINE_FILES));
  const costs = `inline ${ms(ci)} ms/file${inlineRate === undefined ? ' (estimated)' : ''}, pool ${ms(start)} ms start${pool ? '' : ' (prior)'} + ${ms(r)} ms/file`;
  let reason: string;
  // Holding back jobs that will end up in the pool anyway only delays its start.
  if (expectedFiles > inlineFiles) {
    inlineFiles = defaults.inlineFiles;
    reason = `runs here copy ~${Math.round(expectedFiles)} files, past the break-even: pool at once (${costs})`;
  } else {
    reason = `inline up to ${inlineFiles} files (${costs})`;
  }

  // Enough batches for every worker to get two, so a mid-sized job is spread from the start;
  // never more workers than the expected work fills with full batches.
  const workers = Math.min(defaults.workers, Math.max(2, Math.ceil(expectedFiles / defaults.batchFiles)));
  const batchFiles = Math.ceil(clamp(expectedFiles / (workers * 2), MIN_BATCH_FILES, defaults.batchFiles));
  const batchBytes = Math.ceil(clamp(copying.bytes / (workers * 2), MIN_BATCH_BYTES, defaults.batchBytes));
  return {
    inlineFiles,
    inlineBytes: defaults.inlineBytes,
    workers,
    batchFiles,
    batchBytes,
    fromHistory: true,
    reason,
  };
}
