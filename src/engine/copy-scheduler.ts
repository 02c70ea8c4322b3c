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
  /** Batches handed to the executor and not yet answered. */
  private running = 0;
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly startExecutor: (tiny: boolean) => CopyExecutor,
    private readonly onOutcomes: (outcomes: CopyOutcome[], jobs: CopyJob[]) => void,
    private readonly limits: BatchLimits = { files: BATCH_FILES, bytes: BATCH_BYTES },
    /** Jobs within these limits are copied inline (the tiny-job fast path). */
    private readonly inline: BatchLimits = { files: TINY_JOB_FILES, bytes: TINY_JOB_BYTES },
  ) {}

  /**
   * Queues one job. Returns a promise only when the caller must wait (a batch went out and the
   * executor is at capacity): most calls return at once, with no promise made per file.
   */
  add(job: CopyJob, size: number): Promise<void> | undefined {
    this.throwIfFailed();
    if (!this.executor) {
      this.held.push({ job, size });
      this.heldBytes += size;
      if (this.held.length <= this.inline.files && this.heldBytes <= this.inline.bytes) return undefined;
      this.executor = this.startExecutor(false);
      return this.enqueueHeld();
    }
    return this.enqueue({ job, size });
  }

  private async enqueueHeld(): Promise<void> {
    const held = this.held;
    this.held = [];
    for (const item of held) await this.enqueue(item);
  }

  private enqueue(item: SizedJob): Promise<void> | undefined {
    this.batch.push(item);
    this.batchBytes += item.size;
    return batchIsFull(this.batch.length, this.batchBytes, this.limits) ? this.flush() : undefined;
  }

  /** The executor, once started. */
  get started(): CopyExecutor | undefined {
    return this.executor;
  }

  /**
   * Runs `task` on the executor (started for real work if need be) as one more piece of work in
   * flight: drain() waits for it, and its failure surfaces like a batch's. Never waits: tasks are
   * started from another task's completion too, which must not take the walk's place as the waiter.
   */
  runTask(task: (executor: CopyExecutor) => Promise<void>): void {
    this.throwIfFailed();
    if (!this.executor) {
      this.executor = this.startExecutor(false);
      // A failure of these batches is kept in `failure`, and surfaces at the next wait.
      if (this.held.length > 0) this.enqueueHeld().catch(() => {});
    }
    this.track(task(this.executor));
  }

  /** Counts `work` as in flight until it settles; a failure is kept and rethrown at the next wait. */
  private track<T>(work: Promise<T>, then?: (value: T) => void): void {
    this.running++;
    work.then(
      (value) => {
        this.running--;
        then?.(value);
        this.wake();
      },
      (error: unknown) => {
        this.running--;
        this.failure ??= error instanceof Error ? error : new Error(String(error));
        this.wake();
      },
    );
  }

  /** Sends a partial batch when a worker is idle, so copying never waits for the walk. */
  nudge(): Promise<void> | undefined {
    return this.executor?.starving && this.batch.length > 0 ? this.flush() : undefined;
  }

  /** Ends every wait at once with `error` (the stall detector's abort). */
  abort(error: Error): void {
    this.failure ??= error;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** Resolves at the next batch completion (or abort): one promise per wait, nothing left attached. */
  private nextCompletion(): Promise<void> {
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** True while copies wait: a partial batch, or files held before the job is known to be tiny. */
  get holding(): boolean {
    return this.batch.length > 0 || (!this.executor && this.held.length > 0);
  }

  /**
   * Sends what waits now, without waiting for room on the executor (starting it for real work if
   * need be): the walk is about to wait on a slow listing, and these copies should not wait with it.
   */
  sendHeld(): void {
    if (!this.executor) {
      if (this.held.length === 0) return;
      this.executor = this.startExecutor(false);
      // At most the tiny-job limit: one batch.
      for (const item of this.held) this.batch.push(item);
      this.batchBytes += this.heldBytes;
      this.held = [];
      this.heldBytes = 0;
    }
    if (this.batch.length > 0) this.send();
  }

  private send(): CopyExecutor {
    const executor = this.executor!;
    const jobs = this.batch.map((item) => item.job);
    this.batch = [];
    this.batchBytes = 0;
    // Settles either way: a failed batch is kept and rethrown to the next caller, never left as
    // an unhandled rejection while the walk goes on.
    this.track(executor.run(jobs), (outcomes) => this.onOutcomes(outcomes, jobs));
    return executor;
  }

  private async flush(): Promise<void> {
    const executor = this.send();
    while (executor.inFlight >= executor.capacity && this.running > 0 && !this.failure)
      await this.nextCompletion();
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /** Sends what is left and waits for every batch. */
  async drain(): Promise<void> {
    if (!this.executor && this.held.length > 0) {
      this.executor = this.startExecutor(true);
      await this.enqueueHeld();
    }
    if (this.batch.length > 0) await this.flush();
    while (this.running > 0 && !this.failure) await this.nextCompletion();
    this.throwIfFailed();
  }

  /**
   * Waits until no batch or task is out, failed or not: after an interruption the copiers stop
   * between files and clean up, and nothing is left to the exit.
   */
  async settle(): Promise<void> {
    while (this.running > 0) await this.nextCompletion();
  }

  /** Closes the executor; `abandon` after a stall (see CopyExecutor.close). */
  async close(abandon = false): Promise<void> {
    await this.executor?.close(abandon);
  }
}
