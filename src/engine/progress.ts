/** Live counters of a running session, read by whoever shows progress (the CLI polls them). */
import { nowMs } from '../util/clock.js';

export interface Progress {
  /** Entries the source has listed so far. */
  entriesFound: number;
  /** Entries dealt with (copied, unchanged, updated, failed). */
  entriesDone: number;
  /** Bytes the destination asked for so far, and bytes written. */
  bytesNeeded: number;
  bytesDone: number;
  /**
   * Bytes written so far, files still in flight included (a huge file moves before it lands); the
   * session sets it when its copiers count as they go. Display only: reports count landed files.
   */
  bytesWritten?: () => number;
  /**
   * Entries copy threads have dealt with inside whole-directory jobs still running: found and done
   * at once, counted in entriesFound and entriesDone only when the job ends. Display only.
   */
  entriesInJobs?: () => number;
  /** True once the source has listed everything: totals are final, an ETA makes sense. */
  scanComplete: boolean;
  phase: 'scan' | 'copy' | 'delete' | 'finish' | 'done';
  /** nowMs() when the first file landed, if one has. */
  firstFileAt?: number;
  startedAt: number;
}

/** The bytes to show as moved: whichever is further, landed files or bytes written so far. */
export function bytesMoved(progress: Progress): number {
  return Math.max(progress.bytesDone, progress.bytesWritten?.() ?? 0);
}

/** The entry counts to show: those reported so far plus those inside running directory jobs. */
export function entriesShown(progress: Progress): { found: number; done: number } {
  const inJobs = progress.entriesInJobs?.() ?? 0;
  return { found: progress.entriesFound + inJobs, done: progress.entriesDone + inJobs };
}

export function newProgress(): Progress {
  return {
    entriesFound: 0,
    entriesDone: 0,
    bytesNeeded: 0,
    bytesDone: 0,
    scanComplete: false,
    phase: 'scan',
    startedAt: nowMs(),
  };
}
