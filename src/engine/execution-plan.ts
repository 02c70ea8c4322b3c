/**
 * How a session executes its copies: when the inline fast path is taken, how many workers the pool
 * starts and how big a batch is. The defaults are the design's (docs/ARCHITECTURE.md, "The
 * engine"); perf history may choose others.
 */
import { defaultWorkerCount } from '../fsops/copy-pool.js';
import { BATCH_BYTES, BATCH_FILES, TINY_JOB_BYTES, TINY_JOB_FILES } from './copy-scheduler.js';

export interface ExecutionPlan {
  /** A job of at most this many files and bytes is copied inline, without starting workers. */
  inlineFiles: number;
  inlineBytes: number;
  workers: number;
  /** A batch is sent to a worker once it holds this many files or bytes. */
  batchFiles: number;
  batchBytes: number;
}

export function defaultPlan(): ExecutionPlan {
  return {
    inlineFiles: TINY_JOB_FILES,
    inlineBytes: TINY_JOB_BYTES,
    workers: defaultWorkerCount(),
    batchFiles: BATCH_FILES,
    batchBytes: BATCH_BYTES,
  };
}
