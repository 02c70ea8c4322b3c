/**
 * Runs copy batches: on worker threads for real work, inline on the calling thread for tiny jobs
 * (starting a worker costs more than copying a handful of files).
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { ActivityBoard } from '../util/activity-board.js';
import { loopTurns, nowMs } from '../util/clock.js';
import { startWorker } from '../util/start-worker.js';
import {
  boardContext,
  type CopyJob,
  type CopyOutcome,
  cancelled,
  copyBatch,
  prepareContext,
} from './copy-file.js';
import type { BatchRequest, CopyWorkerData } from './copy-worker.js';

export interface CopyExecutor {
  run(jobs: CopyJob[]): Promise<CopyOutcome[]>;
  /** Threads copying at once. */
  readonly size: number;
  /** Batches submitted and not yet answered. */
  readonly inFlight: number;
  /** How many batches may be in flight before the producer should wait. */
  readonly capacity: number;
  /** True when a worker has nothing to do: a partial batch is worth sending now. */
  readonly starving: boolean;
  /**
   * Ends the executor once its work is done. With `abandon` (after a stall) work still running is
   * left to the process exit: it may never return, and nothing waits for it.
   */
  close(abandon?: boolean): Promise<void>;
}

/** The inline copier lets the event loop run at least this often (SIGINT, progress, timers). */
const INLINE_TURN_MS = 20;
/** The most files one call copies inline before it looks at the clock. */
const MAX_INLINE_SLICE = 256;

export class InlineExecutor implements CopyExecutor {
  readonly size = 1;
  /** A run gives the event loop turns (see run): the scheduler waits for it before sending more. */
  inFlight = 0;
  readonly capacity = 1;

  get starving(): boolean {
    return this.inFlight === 0;
  }

  /**
   * `board`: the run's activity board, on which the copies report from slot 0 (the main thread's;
   * see boardContext).
   */
  constructor(private readonly board?: ActivityBoard) {}

  /**
   * Copies on this thread, where the handler that cancels on SIGINT also runs: the jobs go in
   * slices, one file first and then twice as many while a slice takes under a turn, and the event
   * loop gets a turn every INLINE_TURN_MS. After an interruption the rest is left (the session
   * reports it). A single file is never split: the longest wait is one file's copy.
   */
  async run(jobs: CopyJob[]): Promise<CopyOutcome[]> {
    this.inFlight++;
    const outcomes: CopyOutcome[] = [];
    try {
      const ctx = await prepareContext(boardContext(this.board, 0), jobs);
      let slice = 1;
      const turn = loopTurns(INLINE_TURN_MS);
      for (let start = 0; start < jobs.length && !cancelled(ctx); ) {
        const part = jobs.slice(start, start + slice);
        const sliceAt = nowMs();
        const done = copyBatch(part, ctx);
        outcomes.push(...done);
        if (done.length < part.length || done.some((outcome) => outcome.fatal)) break;
        start += part.length;
        if (nowMs() - sliceAt < INLINE_TURN_MS / 4) slice = Math.min(slice * 2, MAX_INLINE_SLICE);
        if (start < jobs.length) await turn();
      }
      return outcomes;
    } finally {
      this.inFlight--;
      this.board?.set(0, '');
    }
  }

  async close(): Promise<void> {}
}

interface Pending {
  resolve(outcomes: CopyOutcome[]): void;
  reject(error: Error): void;
  worker: PoolWorker;
}

interface PoolWorker {
  worker: Worker;
  busy: number;
}

export function defaultWorkerCount(): number {
  return Math.max(2, Math.min(availableParallelism(), 8));
}

export class WorkerPool implements CopyExecutor {
  private readonly workers: PoolWorker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | undefined;

  constructor(
    readonly size = defaultWorkerCount(),
    /** The stall detector's board: worker i says what it does in slot i + 1. */
    board?: SharedArrayBuffer,
  ) {
    for (let i = 0; i < size; i++) {
      const workerData: CopyWorkerData = { board, slot: i + 1 };
      const worker = startWorker(import.meta.url, 'copy-worker', { workerData });
      const entry: PoolWorker = { worker, busy: 0 };
      worker.on('message', (message: { id: number; outcomes: CopyOutcome[] }) => {
        const pending = this.pending.get(message.id);
        if (!pending) return;
        this.pending.delete(message.id);
        entry.busy--;
        pending.resolve(message.outcomes);
      });
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`copy worker exited with code ${code}`));
      });
      this.workers.push(entry);
    }
  }

  get inFlight(): number {
    return this.pending.size;
  }

  get capacity(): number {
    return this.size * 3;
  }

  get starving(): boolean {
    return this.workers.some((w) => w.busy === 0);
  }

  run(jobs: CopyJob[]): Promise<CopyOutcome[]> {
    if (this.failure) return Promise.reject(this.failure);
    let target = this.workers[0]!;
    for (const w of this.workers) if (w.busy < target.busy) target = w;
    const id = this.nextId++;
    target.busy++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: target });
      target.worker.postMessage({ id, jobs } satisfies BatchRequest);
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }

  async close(abandon = false): Promise<void> {
    // A worker stuck in a system call cannot be terminated; after a stall it is left to the exit.
    if (abandon) return;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
