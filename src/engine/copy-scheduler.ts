/**
 * Groups the destination's needs into batches and hands them to an executor, so one hop to a
 * worker thread carries many small files. A tiny job (≤ 8 files, ≤ 100 MiB) never starts workers.
 */

import type { CopyJob, CopyOutcome } from '../fsops/copy-file.js';
import type { CopyExecutor } from '../fsops/copy-pool.js';

export const TINY_JOB_FILES = 8;
export const TINY_JOB_BYTES = 100 * 1024 * 1024;
/** A batch is sent once it holds this many files or bytes. */
export const BATCH_FILES = 256;
export const BATCH_BYTES = 16 * 1024 * 1024;

export interface SizedJob {
  job: CopyJob;
  size: number;
}

export interface BatchLimits {
  files: number;
  bytes: number;
}

/** True when adding `size` to a batch of `files` files and `bytes` bytes would overflow it. */
export function batchIsFull(files: number, bytes: number, limits: BatchLimits): boolean {
  return files >= limits.files || bytes >= limits.bytes;
}

export class CopyScheduler {
  private batch: SizedJob[] = [];
  private batchBytes = 0;
  /** Jobs held back until we know whether the job is tiny. */
  private held: SizedJob[] = [];
  private heldBytes = 0;
  private executor: CopyExecutor | undefined;
  private readonly running = new Set<Promise<void>>();
  private failure: Error | undefined;

  constructor(
    private readonly startExecutor: (tiny: boolean) => CopyExecutor,
    private readonly onOutcomes: (outcomes: CopyOutcome[], jobs: CopyJob[]) => void,
    private readonly limits: BatchLimits = { files: BATCH_FILES, bytes: BATCH_BYTES },
    /** Jobs within these limits are copied inline (the tiny-job fast path). */
    private readonly inline: BatchLimits = { files: TINY_JOB_FILES, bytes: TINY_JOB_BYTES },
  ) {}

  async add(job: CopyJob, size: number): Promise<void> {
    this.throwIfFailed();
    if (!this.executor) {
      this.held.push({ job, size });
      this.heldBytes += size;
      if (this.held.length <= this.inline.files && this.heldBytes <= this.inline.bytes) return;
      this.executor = this.startExecutor(false);
      const held = this.held;
      this.held = [];
      for (const item of held) await this.enqueue(item);
      return;
    }
    await this.enqueue({ job, size });
  }

  private async enqueue(item: SizedJob): Promise<void> {
    this.batch.push(item);
    this.batchBytes += item.size;
    if (batchIsFull(this.batch.length, this.batchBytes, this.limits)) await this.flush();
  }

  /** Sends a partial batch when a worker is idle, so copying never waits for the walk. */
  async nudge(): Promise<void> {
    if (this.executor?.starving && this.batch.length > 0) await this.flush();
  }

  private async flush(): Promise<void> {
    const executor = this.executor!;
    const jobs = this.batch.map((item) => item.job);
    this.batch = [];
    this.batchBytes = 0;
    // Settles either way: a failed batch is kept and rethrown to the next caller, never left as
    // an unhandled rejection while the walk goes on.
    const done: Promise<void> = executor.run(jobs).then(
      (outcomes) => {
        this.running.delete(done);
        this.onOutcomes(outcomes, jobs);
      },
      (error: unknown) => {
        this.running.delete(done);
        this.failure ??= error instanceof Error ? error : new Error(String(error));
      },
    );
    this.running.add(done);
    while (executor.inFlight >= executor.capacity && this.running.size > 0) await Promise.race(this.running);
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /** Sends what is left and waits for every batch. */
  async drain(): Promise<void> {
    if (!this.executor && this.held.length > 0) {
      this.executor = this.startExecutor(true);
      const held = this.held;
      this.held = [];
      for (const item of held) await this.enqueue(item);
    }
    if (this.batch.length > 0) await this.flush();
    while (this.running.size > 0) await Promise.all(this.running);
    this.throwIfFailed();
  }

  async close(): Promise<void> {
    await this.executor?.close();
  }
}
