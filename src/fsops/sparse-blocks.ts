/**
 * Holes of sparse files on the pure-JS path (BLIT_NO_NATIVE=1): Node has no SEEK_DATA, so a source
 * whose allocated bytes are below its size (Entry.allocated) is copied block by block, and blocks
 * of all zeros are skipped instead of written; the copy gets its size with ftruncate, so they read
 * back as zeros and take no space. A zero block the source held as data becomes a hole too: same
 * contents, fewer blocks (rsync -S does the same). Files without holes never come here.
 */
import { writeSync } from 'node:fs';

/** Zero runs shorter than this are written: a file system allocates in blocks of 4 KiB. */
export const SPARSE_BLOCK = 4096;

const ZEROS = Buffer.alloc(SPARSE_BLOCK);

/** True when the listing shows holes: fewer bytes on disk than the file's size. */
export function hasHoles(entry: { size: number; allocated?: number }): boolean {
  return entry.allocated !== undefined && entry.allocated < entry.size;
}

/**
 * The runs of `buffer[0, length)` to write, as [start, end) pairs: everything except whole
 * SPARSE_BLOCK blocks of zeros (counted from the start of the buffer, which callers keep aligned
 * to the file's blocks). A partial block at the end is written unless it is all zeros too.
 */
export function dataRuns(buffer: Buffer, length: number): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  let runStart = -1;
  for (let at = 0; at < length; at += SPARSE_BLOCK) {
    const end = Math.min(at + SPARSE_BLOCK, length);
    const zero = buffer.subarray(at, end).equals(ZEROS.subarray(0, end - at));
    if (zero) {
      if (runStart >= 0) runs.push([runStart, at]);
      runStart = -1;
    } else if (runStart < 0) {
      runStart = at;
    }
  }
  if (runStart >= 0) runs.push([runStart, length]);
  return runs;
}

/** True when `stats` (an fstat) shows holes: fewer 512-byte blocks on disk than the size needs. */
export function hasHolesOnDisk(stats: { size: bigint; blocks: bigint }): boolean {
  return stats.blocks * 512n < stats.size;
}

/** True when every byte of `data` is zero (a chunk a sparse file's sender sends as a hole). */
export function isAllZeros(data: Buffer): boolean {
  for (let at = 0; at < data.length; at += SPARSE_BLOCK) {
    const end = Math.min(at + SPARSE_BLOCK, data.length);
    if (!data.subarray(at, end).equals(ZEROS.subarray(0, end - at))) return false;
  }
  return true;
}

/**
 * Writes `data` at `offset` except its all-zero pieces, cut at the file's 4 KiB page boundaries (a
 * socket's reads end anywhere: the pieces of a page may come apart); the caller gives the file its
 * size, so what is skipped reads as zeros and, where a whole page is skipped, takes no space.
 * fsops/land-files.ts and receive-file.ts write received files of sparse sources so without the addon.
 */
export function writeDataRuns(fd: number, data: Uint8Array, offset: number): void {
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.length);
  let runStart = -1;
  const flush = (end: number) => {
    for (let done = runStart; done < end; ) done += writeSync(fd, buffer, done, end - done, offset + done);
    runStart = -1;
  };
  for (let at = 0; at < buffer.length; ) {
    const end = Math.min(buffer.length, at + SPARSE_BLOCK - ((offset + at) % SPARSE_BLOCK));
    if (buffer.subarray(at, end).equals(ZEROS.subarray(0, end - at))) {
      if (runStart >= 0) flush(at);
    } else if (runStart < 0) runStart = at;
    at = end;
  }
  if (runStart >= 0) flush(buffer.length);
}
