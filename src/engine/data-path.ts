/**
 * The third seam of a session, beside the source and destination roles: how the bytes of the files
 * the destination needs reach it. In one process the copy threads read the source and write the
 * destination (transport/in-process); across machines a peer sends them as frames or records
 * (transport/stream, transport/tcp). The session asks for files and learns, through `FileEvents`,
 * what became of each; it never sees how the bytes moved.
 */
import type { DirPlan, Need } from './local-destination.js';
import type { FreshListing, SourceListing } from './roles.js';
import type { Failure } from './types.js';

/** What became of the files a data path was asked for: the session counts these. */
export interface FileEvents {
  /** Written under its final name (`bytes` of data). */
  copied(rel: string, bytes: number): void;
  /**
   * `count` files written under their final names at once, `bytes` in all, without a name each
   * (transport/stream/fresh-files.ts): counted as copied and done here, with no action listed.
   */
  copiedMany(count: number, bytes: number): void;
  /** Its contents were equal: only its metadata was brought in line. */
  updated(rel: string): void;
  /** Its contents and metadata were equal: nothing was written. */
  unchanged(rel: string): void;
  /** Not written (see FailedHow). */
  failed(failure: Failure, how?: FailedHow): void;
  /** Many files at once, each already counted in progress (a whole directory's job). */
  counted(counts: Partial<FileCounts>): void;
}

export interface FailedHow {
  /** The source could not be read: a mirror then deletes nothing. */
  sourceSide?: boolean;
  /** Already counted in progress as done (a whole directory's job counts its entries itself). */
  counted?: boolean;
}

export interface FileCounts {
  copied: number;
  updated: number;
  skipped: number;
  bytes: number;
}

export interface DataPath {
  /** The session's sink for what becomes of each file; set before anything is asked. */
  begin(events: FileEvents): void;
  /** Whether directories may go whole to the copy threads now (the in-process shortcut). */
  takesWhole(): boolean;
  /** The destination planned `listing` (with `takesWhole()` as given): whole-directory hand-offs, read-ahead. */
  planned(listing: SourceListing, plan: DirPlan, wholeDirs: boolean): void;
  /** Asks for one file's data; a promise when the session must wait before asking for more. */
  fetch(need: Need): Promise<void> | undefined;
  /**
   * Asks for every file of a listing's table of small files (SourceListing.fresh), which the
   * session does not plan one by one; a promise as fetch's. Only data paths whose source role takes
   * such tables are given any.
   */
  fetchFresh?(listing: SourceListing, fresh: FreshListing): Promise<void> | undefined;
  /** A listing's needs are all asked for: what is batched goes now; a promise to wait on as fetch's. */
  flush(): Promise<void> | undefined;
  /** The walk ended: `scanned` runs once whatever the data path lists itself is listed too. */
  walkEnded(scanned: () => void): void;
  /** Resolves once every file asked for so far has settled. */
  drain(): Promise<void>;
  /** Set once nothing more can be written (disk full, a copy thread lost): the session ends with it. */
  readonly fatal: string | undefined;
  /**
   * Stops the data path: the session was interrupted, stalled or failed. It takes no more work (a
   * peer's frames included); copies already running end as `close` says.
   */
  abort(error: Error): void;
  /**
   * Releases what the data path holds, however the session ended: `interrupted`, once its copies
   * have cleaned up; `stalled`, without waiting for a copy that may never return.
   */
  close(how: 'finished' | 'failed' | 'interrupted' | 'stalled'): Promise<void>;
  /**
   * True when the data path removes a move's source file as its copy lands (the copy threads do):
   * otherwise the session asks the source role to remove it once the file settles.
   */
  readonly removesMovedSources: boolean;
}
