/**
 * How the data plane cuts files into records, shared by the sender (which cuts) and the receiver
 * (which checks that what arrives fits): fixed by the protocol, not tunable.
 */

/** A file above this size travels as blocks of exactly this size (the last one shorter). */
export const DATA_BLOCK_BYTES = 4 << 20;
/** A file up to this size travels packed in a batch with others. */
export const SMALL_FILE_BYTES = 64 << 10;
/** A batch is sent once its files hold this many bytes (or it has MAX_BATCH_FILES). */
export const BATCH_TARGET_BYTES = 1 << 20;

/** Number of blocks a file of `size` bytes travels as when the sender reads it (0: it travels whole). */
export function blockCount(size: number): number {
  return size > DATA_BLOCK_BYTES ? Math.ceil(size / DATA_BLOCK_BYTES) : 0;
}

/**
 * Number of blocks a file of `size` bytes makes when it travels as blocks: a file too large for a
 * batch may go as blocks whatever its size (by sendfile it does), as one block when it fits one.
 */
export function blocksOf(size: number): number {
  return Math.max(1, blockCount(size));
}

/**
 * The length a block at `offset` of a file of `size` bytes must have, or undefined if no block
 * starts there: a file small enough for a batch never travels as blocks.
 */
export function blockLength(size: number, offset: number): number | undefined {
  if (size <= SMALL_FILE_BYTES || offset % DATA_BLOCK_BYTES !== 0 || offset >= size) return undefined;
  return Math.min(DATA_BLOCK_BYTES, size - offset);
}
