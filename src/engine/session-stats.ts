/**
 * What a session measured about itself: the workload it saw and where the time went. Perf history
 * records it; the session does not interpret it.
 */

/** Upper bounds (exclusive) of the file-size histogram's buckets; the last bucket is open-ended. */
export const SIZE_BUCKET_LIMITS = [1, 1024, 8 * 1024, 64 * 1024, 1 << 20, 16 << 20, 128 << 20, 1 << 30];
export const SIZE_BUCKET_LABELS = ['0', '<1K', '<8K', '<64K', '<1M', '<16M', '<128M', '<1G', '>=1G'];

export function sizeBucket(size: number): number {
  let bucket = 0;
  while (bucket < SIZE_BUCKET_LIMITS.length && size >= SIZE_BUCKET_LIMITS[bucket]!) bucket++;
  return bucket;
}

export type ExecutorKind = 'none' | 'inline' | 'pool';

export interface SessionStats {
  /** Entries the source listed (files, directories, links), files among them and their bytes. */
  entries: number;
  files: number;
  bytes: number;
  /** Source files per size bucket (SIZE_BUCKET_LABELS). */
  sizeHistogram: number[];
  /** Files handed to the copy executor, and their bytes. */
  jobs: number;
  jobBytes: number;
  /** Directories copied whole on the copy threads (engine/whole-dirs.ts). */
  wholeDirs: number;
  /** Which executor ran the copies ('none' when nothing needed copying), with how many workers. */
  executor: ExecutorKind;
  workers: number;
  batchFiles: number;
  batchBytes: number;
  /** Milliseconds since the session started: the scan (and diff) finished, the first file landed. */
  scanMs: number;
  /** Time spent listing the source alone (the scan without waits for the copies to catch up). */
  listMs: number;
  firstByteMs?: number;
  /** From the executor's start to its last batch: the copy phase. */
  copyMs: number;
  /** From the executor's start to its first finished batch (worker start-up, for a pool). */
  executorStartMs?: number;
  totalMs: number;
  /** The latest change time (ms) the whole-directory jobs saw among source entries (perf/xattr-mark.ts). */
  sourceCtimeMaxMs?: number;
  /** Entries on both sides whose xattrs neither side read: unchanged since the last clean run. */
  xattrsUnread: number;
  /** Directories of a peer's listing that the destination found as listed, no entry planned. */
  unchangedDirs: number;
  /** Small files of directories this session made, landed from a table (SourceListing.fresh). */
  freshFiles: number;
}

export function emptySessionStats(): SessionStats {
  return {
    entries: 0,
    files: 0,
    bytes: 0,
    sizeHistogram: new Array<number>(SIZE_BUCKET_LABELS.length).fill(0),
    jobs: 0,
    jobBytes: 0,
    wholeDirs: 0,
    executor: 'none',
    workers: 0,
    batchFiles: 0,
    batchBytes: 0,
    scanMs: 0,
    listMs: 0,
    copyMs: 0,
    totalMs: 0,
    xattrsUnread: 0,
    unchangedDirs: 0,
    freshFiles: 0,
  };
}

/** Adds a source listing's entries to the workload signature. */
export function countListing(stats: SessionStats, entries: readonly { kind: string; size: number }[]): void {
  stats.entries += entries.length;
  for (const entry of entries) if (entry.kind === 'file') countFile(stats, entry.size);
}

/** The same for a directory copied whole on a copy thread: `entries` listed, files of these sizes. */
export function countSizes(stats: SessionStats, entries: number, sizes: Float64Array): void {
  stats.entries += entries;
  for (const size of sizes) countFile(stats, size);
}

function countFile(stats: SessionStats, size: number): void {
  stats.files++;
  stats.bytes += size;
  const bucket = sizeBucket(size);
  stats.sizeHistogram[bucket] = (stats.sizeHistogram[bucket] ?? 0) + 1;
}
