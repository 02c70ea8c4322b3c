/**
 * Copies one file the safe way, synchronously (callers batch many files into one hop to a worker):
 * data into a temp file beside the target, handle closed, mode and mtime set, renamed over the target.
 * The source is checked before and after: a file that changes while it is copied is not installed.
 */
import {
  type BigIntStats,
  closeSync,
  constants,
  copyFileSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { isFatalWriteError, reasonOf } from '../util/errors.js';
import { type HasherFactory, hashFileSync } from './hash.js';
import { applyMetadata } from './metadata.js';
import { tempPathFor } from './temp-path.js';

export interface CopyJob {
  rel: string;
  src: string;
  dst: string;
  /** Compare contents first and copy only when they differ (--checksum). */
  hashFirst: boolean;
  /** Remove the source once its copy has landed (move). */
  removeSource: boolean;
}

export type CopyStatus = 'copied' | 'unchanged' | 'updated' | 'failed';

export interface CopyOutcome {
  rel: string;
  status: CopyStatus;
  bytes: number;
  reason?: string;
  /** The failure makes further writes pointless (disk full, read-only file system). */
  fatal?: boolean;
  /** The source could not be read: a mirror must not delete on this run. */
  sourceSide?: boolean;
}

/** Files up to this size go through one read and one write; larger ones through the kernel. */
export const SMALL_FILE_LIMIT = 1 << 20;

export interface CopyContext {
  buffer: Buffer;
  hasher?: HasherFactory;
}

export function createCopyContext(hasher?: HasherFactory): CopyContext {
  return { buffer: Buffer.allocUnsafe(SMALL_FILE_LIMIT), hasher };
}

class SourceChanged extends Error {}

function sameSourceState(a: BigIntStats, b: BigIntStats): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ino === b.ino;
}

function openTemp(dst: string): { path: string; fd: number } {
  const path = tempPathFor(dirname(dst));
  try {
    return { path, fd: openSync(path, 'wx', 0o600) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(dirname(dst), { recursive: true });
    return { path, fd: openSync(path, 'wx', 0o600) };
  }
}

/** Writes exactly `size` bytes of `fdIn` into `fdOut`; a source that turns out longer or shorter has changed. */
function copySmall(fdIn: number, fdOut: number, size: number, buffer: Buffer): void {
  let filled = 0;
  // Ask for one byte more than declared: getting it means the file grew.
  const want = Math.min(size + 1, buffer.length);
  while (filled < want) {
    const n = readSync(fdIn, buffer, filled, want - filled, filled);
    if (n === 0) break;
    filled += n;
  }
  if (filled !== size) throw new SourceChanged();
  let written = 0;
  while (written < size) written += writeSync(fdOut, buffer, written, size - written, written);
}

function tryUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function sameContents(src: string, dst: string, ctx: CopyContext): boolean {
  if (!ctx.hasher) throw new Error('no BLAKE3 implementation loaded');
  return hashFileSync(src, ctx.hasher, ctx.buffer) === hashFileSync(dst, ctx.hasher, ctx.buffer);
}

export function copyFileJob(job: CopyJob, ctx: CopyContext): CopyOutcome {
  let fdIn: number | undefined;
  let temp: { path: string; fd: number | undefined } | undefined;
  let readingSource = true;
  try {
    fdIn = openSync(job.src, 'r');
    const before = fstatSync(fdIn, { bigint: true });
    if (!before.isFile()) throw new SourceChanged();
    const size = Number(before.size);
    const mode = Number(before.mode & 0o7777n);
    if (job.hashFirst && sameContents(job.src, job.dst, ctx)) {
      readingSource = false;
      applyMetadata(job.dst, 'file', mode, before.mtimeNs);
      if (job.removeSource) unlinkSync(job.src);
      return { rel: job.rel, status: 'updated', bytes: 0 };
    }
    readingSource = false;
    temp = openTemp(job.dst);
    readingSource = true;
    if (size < ctx.buffer.length) {
      copySmall(fdIn, temp.fd!, size, ctx.buffer);
      readingSource = false;
      closeSync(temp.fd!);
      temp.fd = undefined;
    } else {
      readingSource = false;
      closeSync(temp.fd!);
      temp.fd = undefined;
      // The kernel copies (copy_file_range); the size check below clamps a file that grew.
      copyFileSync(job.src, temp.path, constants.COPYFILE_FICLONE);
      if (statSync(temp.path).size !== size) throw new SourceChanged();
    }
    readingSource = true;
    const after = fstatSync(fdIn, { bigint: true });
    if (!sameSourceState(before, after)) throw new SourceChanged();
    readingSource = false;
    applyMetadata(temp.path, 'file', mode, before.mtimeNs);
    renameSync(temp.path, job.dst);
    temp = undefined;
    if (job.removeSource) {
      try {
        unlinkSync(job.src);
      } catch (error) {
        return {
          rel: job.rel,
          status: 'failed',
          bytes: size,
          reason: `copied, but the source could not be removed: ${reasonOf(error)}`,
        };
      }
    }
    return { rel: job.rel, status: 'copied', bytes: size };
  } catch (error) {
    if (error instanceof SourceChanged) {
      return {
        rel: job.rel,
        status: 'failed',
        bytes: 0,
        reason: 'source changed while being copied; not updated',
      };
    }
    const reason = readingSource ? reasonOf(error) : `${reasonOf(error)} (writing destination)`;
    return {
      rel: job.rel,
      status: 'failed',
      bytes: 0,
      reason,
      fatal: !readingSource && isFatalWriteError(error),
      sourceSide: readingSource,
    };
  } finally {
    if (fdIn !== undefined) closeSync(fdIn);
    if (temp) {
      if (temp.fd !== undefined) closeSync(temp.fd);
      tryUnlink(temp.path);
    }
  }
}

export function copyBatch(jobs: CopyJob[], ctx: CopyContext): CopyOutcome[] {
  const outcomes: CopyOutcome[] = [];
  for (const job of jobs) {
    const outcome = copyFileJob(job, ctx);
    outcomes.push(outcome);
    if (outcome.fatal) break;
  }
  return outcomes;
}
