/**
 * The size, use and free space of the file system holding a path, from statfs(2), counted the way
 * df(1) counts: `used` is the blocks in use (f_blocks - f_bfree), `free` what an unprivileged
 * writer may still use (f_bavail), so used + free falls short of total by the blocks reserved for
 * root. `blit df` computes it locally and blitd for a module with this one function, so both read
 * the same.
 */
import { statfsSync } from 'node:fs';

export interface FsSpace {
  totalBytes: bigint;
  usedBytes: bigint;
  freeBytes: bigint;
  totalInodes: bigint;
  usedInodes: bigint;
  freeInodes: bigint;
}

/** The fields of statfs(2) the figures come from (Node's `StatsFs` with bigint: true). */
export interface StatfsFields {
  bsize: bigint;
  blocks: bigint;
  bfree: bigint;
  bavail: bigint;
  files: bigint;
  ffree: bigint;
}

export function spaceFromStatfs(s: StatfsFields): FsSpace {
  const usedInodes = s.files > s.ffree ? s.files - s.ffree : 0n;
  return {
    totalBytes: s.blocks * s.bsize,
    usedBytes: (s.blocks > s.bfree ? s.blocks - s.bfree : 0n) * s.bsize,
    freeBytes: s.bavail * s.bsize,
    totalInodes: s.files,
    usedInodes,
    freeInodes: s.ffree,
  };
}

/** Throws the file-system error (ENOENT, EACCES, …) when `path` cannot be reached. */
export function spaceOf(path: string): FsSpace {
  return spaceFromStatfs(statfsSync(path, { bigint: true }));
}
