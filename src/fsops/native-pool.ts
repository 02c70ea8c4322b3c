/**
 * Runs copy batches on the addon's native copy threads (see native/copy_pool.cc): the
 * executor used whenever the addon is loaded and a job is not tiny. Compared with worker threads it
 * boots no V8 isolate per thread and clones no jobs or outcomes; each thread says on the activity
 * board which batch it runs, so the stall detector can name it.
 */
import type { ActivityBoard } from '../util/activity-board.js';
import { faults } from '../util/faults.js';
import { type CopyJob, type CopyOutcome, nativeBatch, nativeOutcomes } from './copy-file.js';
import type { CopyExecutor } from './copy-pool.js';
import type { NativeAddon, NativeCopyResult, NativeDirResult } from './native.js';

interface Pending {
  answer(result: NativeCopyResult | NativeDirResult): void;
  reject(error: Error): void;
}

export class NativePool implements CopyExecutor {
  private readonly pool: number;
  private readonly pending = new Map<number, Pending>();
  private readonly umask = process.umask();
  private nextId = 1;

  constructor(
    private readonly addon: NativeAddon,
    readonly size: number,
    /** Thread i says what it does in slot i + 1. */
    board?: ActivityBoard,
  ) {
    this.pool = addon.startCopyPool(size, board?.ints, board?.written, board?.slots, (id, result) => {
      const pending = this.pending.get(id);
      if (!pending) return;
      this.pending.delete(id);
      try {
        pending.answer(result);
      } catch (error) {
        pending.reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  get inFlight(): number {
    return this.pending.size;
  }

  get capacity(): number {
    return this.size * 3;
  }

  /** A thread is idle when fewer batches are out than there are threads. */
  get starving(): boolean {
    return this.pending.size < this.size;
  }

  run(jobs: CopyJob[]): Promise<CopyOutcome[]> {
    const id = this.nextId++;
    const batch = nativeBatch(this.addon, jobs, this.umask);
    const { delayMs, hangIndex } = faults.copyDelays(jobs);
    return new Promise((resolve, reject) => {
      // Each file is shown as its copy starts; the label covers the moment before.
      this.addon.submitCopies(this.pool, id, batch, `copy: ${jobs[0]?.rel ?? ''}`, delayMs, hangIndex);
      // Answers come through the event loop, never during the call above.
      const answer = (result: NativeCopyResult | NativeDirResult) =>
        resolve(nativeOutcomes(this.addon, jobs, result as NativeCopyResult));
      this.pending.set(id, { answer, reject });
    });
  }

  /**
   * Copies the directory `src` into `dst` on a copy thread (see engine/whole-dirs.ts): into a new
   * one (made empty under the temp name `stage`, renamed to `dst` once filled), or, with `sync`,
   * into an existing one, comparing first.
   */
  copyDir(
    src: string,
    dst: string,
    /** A fresh directory: where it was made (a temp name beside `dst`), to be filled and renamed. */
    stage: string,
    rel: string,
    sync?: { compare: number; mirror: boolean },
    /** Entries matching these are left out (engine/filter.ts nativeExcludes). */
    excludes: string[] = [],
    /** Entries get the source's owner (fsops/owner.ts keepsOwners). */
    owners = false,
    /** Files with a link count above 1 come back as residual, for engine/hard-links.ts. */
    hardLinks = false,
    /** The xattr kinds kept (fsops/xattrs.ts keepMask). */
    keepXattrs = 0,
    /** With `sync`: entries changed before these need not have their xattrs read (perf/xattr-mark.ts). */
    unchangedBefore?: { sourceMs: number; destinationMs: number },
  ): Promise<NativeDirResult> {
    const id = this.nextId++;
    const { delayMs, hangName, scanHang } = faults.dirDelays(rel);
    return new Promise((resolve, reject) => {
      this.addon.submitCopyDir(
        this.pool,
        id,
        src,
        dst,
        stage,
        rel,
        this.umask,
        delayMs,
        hangName,
        scanHang,
        sync?.compare,
        sync?.mirror,
        excludes,
        owners,
        hardLinks,
        keepXattrs,
        true, // sparse: holes are always kept
        unchangedBefore?.sourceMs ?? 0,
        unchangedBefore?.destinationMs ?? 0,
      );
      this.pending.set(id, { answer: (result) => resolve(result as NativeDirResult), reject });
    });
  }

  /** Drops the batches not yet started and settles their promises (see CopyExecutor.close). */
  async close(abandon = false): Promise<void> {
    const dropped = this.addon.closeCopyPool(this.pool, abandon);
    // Without abandon, a batch already running still answers (its thread keeps the process up).
    const settle = abandon ? [...this.pending.keys()] : dropped;
    const stopped = new Error('copying stopped');
    for (const id of settle) {
      this.pending.get(id)?.reject(stopped);
      this.pending.delete(id);
    }
  }
}
