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
   * Whole-directory jobs still running, as the copy threads count them: counted in entriesFound,
   * entriesDone and bytesNeeded only when each job ends. Display only.
   */
  inJobs?: () => InJobs;
  /** True once the source has listed everything: totals are final, an ETA makes sense. */
  scanComplete: boolean;
  /**
   * The walk is over; with directories out on the copy threads the scan is complete once they are
   * all listed too (see scanDone). */
  walkDone?: boolean;
  phase: 'scan' | 'copy' | 'delete' | 'finish' | 'done';
  /** nowMs() when the first file landed, if one has. */
  firstFileAt?: number;
  startedAt: number;
}

/** What whole-directory jobs still running have listed and dealt with (see Progress.inJobs). */
export interface InJobs {
  /** Entries their listings hold, and those they have dealt with. */
  listed: number;
  done: number;
  /** Bytes of the files they copy (or compare first, under --checksum). */
  bytes: number;
  /** Directories known and not listed yet: waiting, running unlisted, or subdirectories to come. */
  unlistedDirs: number;
}

/** Whether everything to copy is known: the walk is over and every directory is listed. */
export function scanDone(progress: Progress): boolean {
  if (progress.scanComplete) return true;
  const inJobs = progress.inJobs?.();
  return progress.walkDone === true && inJobs !== undefined && inJobs.unlistedDirs <= 0;
}

/** The bytes to move in all, as far as known (final once scanDone). */
export function bytesTotal(progress: Progress): number {
  return progress.bytesNeeded + (progress.inJobs?.().bytes ?? 0);
}

/** The bytes to show as moved: whichever is further, landed files or bytes written so far. */
export function bytesMoved(progress: Progress): number {
  return Math.max(progress.bytesDone, progress.bytesWritten?.() ?? 0);
}

/** The entry counts to show: those reported so far plus those inside running directory jobs. */
export function entriesShown(progress: Progress): { found: number; done: number } {
  const inJobs = progress.inJobs?.();
  return {
    found: progress.entriesFound + Math.max(inJobs?.listed ?? 0, inJobs?.done ?? 0),
    done: progress.entriesDone + (inJobs?.done ?? 0),
  };
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
