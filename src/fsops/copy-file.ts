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
  ftruncateSync,
  lstatSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { type ActivityBoard, CANCELLED, WRITTEN } from '../util/activity-board.js';
import { errnoError, isFatalWriteError, reasonOf, sourceKeptReason } from '../util/errors.js';
import { faults } from '../util/faults.js';
import { type HasherFactory, hashFileSync, loadBlake3 } from './hash.js';
import { makeDirs } from './make-dirs.js';
import { applyMetadata, needsChmod, splitNs } from './metadata.js';
import {
  type NativeAddon,
  type NativeBatch,
  type NativeCopyResult,
  nativeAddon,
  nativeErrnoError,
} from './native.js';
import { giveOwnerPath, type Owner, type OwnerResult, ownerResultOfErrno } from './owner.js';
import { dataRuns } from './sparse-blocks.js';
import { tempPathFor } from './temp-path.js';

export interface CopyJob {
  rel: string;
  src: string;
  dst: string;
  /** What the scan saw; a source that differs by the end of the copy has changed meanwhile. */
  size: number;
  mtimeNs: bigint;
  mode: number;
  /** Compare contents first and copy only when they differ (--checksum). */
  hashFirst: boolean;
  /** With hashFirst: the destination's mode and mtime already match, so equal contents mean nothing to do. */
  metadataMatches?: boolean;
  /** Remove the source once its copy has landed (move). */
  removeSource: boolean;
  /** The owner to give the copy (fsops/owner.ts; owners kept: root, no --no-owner). */
  owner?: Owner;
  /** The xattr kinds copied with the data (fsops/xattrs.ts keepMask; the addon only). */
  keepXattrs?: number;
  /** The source has holes (Entry.allocated < size): keep them (fsops/sparse-blocks.ts, native/sparse.h). */
  sparse?: boolean;
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
  /** What came of giving the file its owner (counted in the destination's FidelityTally). */
  owner?: OwnerResult;
  /** What came of its xattrs (codes.xattrOutcome bits), and the errno of a failure. */
  xattrBits?: number;
  xattrErrno?: number;
  /** Copied with its holes kept (FidelityTally 'sparse'). */
  sparse?: boolean;
}

/** Files up to this size go through one read and one write; larger ones through the kernel. */
export const SMALL_FILE_LIMIT = 1 << 20;

export interface CopyContext {
  buffer: Buffer;
  hasher?: HasherFactory;
  /** The process umask: a temp file created with the final mode needs no chmod unless it strips bits. */
  umask: number;
  /**
   * The activity board, and this thread's slot on it: copies and hashes beat it as they make
   * progress (the stall detector), add the bytes they write to its live count, and show the file.
   */
  board?: ActivityBoard;
  slot?: number;
}

export function createCopyContext(hasher?: HasherFactory): CopyContext {
  return { buffer: Buffer.allocUnsafe(SMALL_FILE_LIMIT), hasher, umask: process.umask() };
}

/**
 * A context whose copies report on `board` (when there is one) from thread slot `slot`: they beat
 * it per file and per chunk (a slow but moving copy is not a stall), add the bytes they write to
 * its live count, show the file they copy, and stop between files and chunks once it is cancelled.
 */
export function boardContext(board: ActivityBoard | undefined, slot: number): CopyContext {
  return { ...createCopyContext(), board, slot };
}

class SourceChanged extends Error {}

/** An error raised while reading the source (as opposed to writing the destination). */
class SourceError extends Error {
  constructor(readonly sourceCause: unknown) {
    super('source error');
  }
}

function onSource<T>(operation: () => T): T {
  try {
    return operation();
  } catch (error) {
    throw error instanceof SourceChanged ? error : new SourceError(error);
  }
}

function unchangedSince(job: CopyJob, stats: BigIntStats): boolean {
  return stats.isFile() && Number(stats.size) === job.size && stats.mtimeNs === job.mtimeNs;
}

function openTemp(dst: string, mode: number): { path: string; fd: number } {
  const path = tempPathFor(dirname(dst));
  try {
    return { path, fd: openSync(path, 'wx', mode) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    makeDirs(dirname(dst));
    return { path, fd: openSync(path, 'wx', mode) };
  }
}

/** Reads exactly `size` bytes into `buffer`; a source that turns out longer or shorter has changed. */
function readSmall(fd: number, size: number, buffer: Buffer): void {
  let filled = 0;
  // Ask for one byte more than declared: getting it means the file grew. A short read of a regular
  // file is its end; the fstat after the copy catches a file that grows later.
  const want = Math.min(size + 1, buffer.length);
  while (filled < want) {
    const n = readSync(fd, buffer, filled, want - filled, filled);
    if (n === 0) break;
    filled += n;
    if (filled === size) break;
  }
  if (filled !== size) throw new SourceChanged();
}

/** Writes `size` bytes of `buffer` at `position` in the file. */
function writeAll(fd: number, buffer: Buffer, size: number, position = 0): void {
  let written = 0;
  while (written < size) written += writeSync(fd, buffer, written, size - written, position + written);
}

/**
 * Without the addon, files this big are not given to one copyFileSync (which cannot stop or show
 * progress midway) but copied a buffer at a time: live bytes, a stall-detector beat and a
 * cancellation check after each.
 */
const BIG_FILE = 64 * 1024 * 1024;

/**
 * Copies a big file into the open temp file `temp` a buffer at a time, unless a clone (a reflink,
 * instant on btrfs or XFS) can take its place: `temp.path` then names the clone.
 */
function copyBig(
  job: CopyJob,
  fdIn: number,
  temp: { path: string; fd: number | undefined },
  ctx: CopyContext,
): void {
  if (cloneInto(job, fdIn, temp)) {
    countWritten(ctx, job.size);
    return;
  }
  const fd = temp.fd!;
  copyBuffered(job, fdIn, ctx, (n, at) => writeAll(fd, ctx.buffer, n, at));
}

/**
 * Reads the source a buffer at a time into ctx.buffer and hands each read to `write` (its length
 * and file offset), counted and beating, with a cancellation check before each.
 */
function copyBuffered(
  job: CopyJob,
  fdIn: number,
  ctx: CopyContext,
  write: (n: number, at: number) => void,
): void {
  let done = 0;
  while (done < job.size) {
    if (cancelled(ctx)) throw errnoError('ECANCELED');
    const want = Math.min(ctx.buffer.length, job.size - done);
    const n = onSource(() => readSync(fdIn, ctx.buffer, 0, want, done));
    if (n === 0) throw new SourceChanged();
    write(n, done);
    done += n;
    countWritten(ctx, n);
    ctx.board?.beat();
  }
}

/**
 * Copies a file with holes a buffer at a time, writing only its non-zero blocks (dataRuns), then
 * gives the copy its size: the skipped blocks are holes.
 */
function copySparse(job: CopyJob, fdIn: number, fd: number, ctx: CopyContext): void {
  copyBuffered(job, fdIn, ctx, (n, at) => {
    for (const [start, end] of dataRuns(ctx.buffer, n)) {
      writeAll(fd, ctx.buffer.subarray(start, end), end - start, at + start);
    }
  });
  // One byte more than declared means the source grew.
  if (onSource(() => readSync(fdIn, ctx.buffer, 0, 1, job.size)) > 0) throw new SourceChanged();
  ftruncateSync(fd, job.size);
}

/**
 * Clones the source into a new temp file beside the target and puts it in `temp`'s place; false
 * when the file system cannot clone. The clone is made from the path, so it is kept only if that
 * path is still the file opened as `fdIn` (not one renamed over it meanwhile) and the clone has
 * the size the scan saw.
 */
function cloneInto(job: CopyJob, fdIn: number, temp: { path: string; fd: number | undefined }): boolean {
  const clone = tempPathFor(dirname(job.dst));
  try {
    // Exclusive: never through a link or over a file at that name; a failed clone removes its own.
    copyFileSync(job.src, clone, constants.COPYFILE_FICLONE_FORCE | constants.COPYFILE_EXCL);
  } catch {
    return false; // ext4, tmpfs, another file system: the bytes are copied instead
  }
  let same = false;
  try {
    const opened = fstatSync(fdIn);
    const now = lstatSync(job.src);
    same = now.dev === opened.dev && now.ino === opened.ino && statSync(clone).size === job.size;
  } finally {
    if (!same) tryUnlink(clone);
  }
  if (!same) throw new SourceChanged();
  const fd = temp.fd!;
  const unused = temp.path;
  temp.fd = undefined;
  temp.path = clone;
  tryUnlink(unused);
  closeSync(fd);
  return true;
}

function countWritten(ctx: CopyContext, bytes: number): void {
  if (ctx.board && bytes > 0) Atomics.add(ctx.board.written, WRITTEN, BigInt(bytes));
}

function tryUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function sameContents(src: string, dst: string, ctx: CopyContext): boolean {
  const hasher = ctx.hasher;
  if (!hasher) throw new Error('no BLAKE3 implementation loaded');
  const sourceHash = onSource(() => hashFileSync(src, hasher, ctx.buffer, ctx.board?.ints));
  try {
    return sourceHash === hashFileSync(dst, hasher, ctx.buffer, ctx.board?.ints);
  } catch {
    // A destination that cannot be read is simply rewritten, as the addon does (SameContents).
    return false;
  }
}

function failed(job: { rel: string }, error: unknown): CopyOutcome {
  if (error instanceof SourceChanged) {
    return {
      rel: job.rel,
      status: 'failed',
      bytes: 0,
      reason: 'source changed while being copied; not updated',
    };
  }
  // Which side failed is in the reason: the path alone is the same on both.
  if (error instanceof SourceError) {
    return {
      rel: job.rel,
      status: 'failed',
      bytes: 0,
      reason: `cannot read: ${reasonOf(error.sourceCause)}`,
      sourceSide: true,
    };
  }
  return {
    rel: job.rel,
    status: 'failed',
    bytes: 0,
    reason: `cannot write: ${reasonOf(error)}`,
    fatal: isFatalWriteError(error),
  };
}

export function copyFileJob(job: CopyJob, ctx: CopyContext): CopyOutcome {
  let fdIn: number | undefined;
  let temp: { path: string; fd: number | undefined } | undefined;
  const { size, mode } = job;
  try {
    const fd = onSource(() => openSync(job.src, 'r'));
    fdIn = fd;
    if (job.hashFirst && sameContents(job.src, job.dst, ctx)) {
      faults.changeSource(job.src);
      if (
        !unchangedSince(
          job,
          onSource(() => fstatSync(fd, { bigint: true })),
        )
      )
        throw new SourceChanged();
      let owner: OwnerResult;
      if (!job.metadataMatches) {
        owner = giveOwnerPath(job.dst, job.owner);
        applyMetadata(job.dst, 'file', mode, job.mtimeNs);
      }
      if (job.removeSource) onSource(() => unlinkSync(job.src));
      return {
        rel: job.rel,
        status: job.metadataMatches ? 'unchanged' : 'updated',
        bytes: 0,
        ...(owner ? { owner } : {}),
      };
    }
    const createMode = mode & 0o777;
    const chmod = needsChmod(mode, ctx.umask);
    temp = openTemp(job.dst, createMode);
    if (job.sparse) {
      copySparse(job, fd, temp.fd!, ctx);
      closeSync(temp.fd!);
      temp.fd = undefined;
    } else if (size < ctx.buffer.length) {
      onSource(() => readSmall(fd, size, ctx.buffer));
      writeAll(temp.fd!, ctx.buffer, size);
      closeSync(temp.fd!);
      temp.fd = undefined;
      countWritten(ctx, size);
    } else if (size < BIG_FILE) {
      closeSync(temp.fd!);
      temp.fd = undefined;
      // The kernel copies (copy_file_range); the size check below clamps a file that grew.
      copyFileSync(job.src, temp.path, constants.COPYFILE_FICLONE);
      // One call that cannot stop midway: interrupted meanwhile, the copy is dropped, not installed.
      if (cancelled(ctx)) throw errnoError('ECANCELED');
      if (statSync(temp.path).size !== size) throw new SourceChanged();
      countWritten(ctx, size);
    } else {
      copyBig(job, fd, temp, ctx);
      if (temp.fd !== undefined) closeSync(temp.fd);
      temp.fd = undefined;
    }
    faults.changeSource(job.src);
    if (
      !unchangedSince(
        job,
        onSource(() => fstatSync(fd, { bigint: true })),
      )
    )
      throw new SourceChanged();
    // The owner before the mode: chown clears setuid and setgid bits. The temp file is ours (no link).
    const owner = giveOwnerPath(temp.path, job.owner);
    applyMetadata(temp.path, 'file', mode, job.mtimeNs, chmod || size >= ctx.buffer.length);
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
          reason: sourceKeptReason(error),
          ...(owner ? { owner } : {}),
        };
      }
    }
    return {
      rel: job.rel,
      status: 'copied',
      bytes: size,
      ...(owner ? { owner } : {}),
      ...(job.sparse ? { sparse: true } : {}),
    };
  } catch (error) {
    return failed(job, error);
  } finally {
    if (fdIn !== undefined) closeSync(fdIn);
    if (temp) {
      if (temp.fd !== undefined) closeSync(temp.fd);
      tryUnlink(temp.path);
    }
  }
}

export function nativeBatch(addon: NativeAddon, jobs: CopyJob[], umask: number): NativeBatch {
  const { chmodAfter, removeSource, compareFirst, metadataMatches, keepXattrs, keepAcls, sparse } =
    addon.codes.batchFlag;
  const n = jobs.length;
  const batch: NativeBatch = {
    srcs: new Array<string>(n),
    dsts: new Array<string>(n),
    rels: new Array<string>(n),
    sizes: new Float64Array(n),
    secs: new Float64Array(n),
    nsecs: new Uint32Array(n),
    modes: new Uint32Array(n),
    flags: new Uint8Array(n),
  };
  if (jobs.some((job) => job.owner)) {
    // 0xffffffff (chown's -1): that id stays as written.
    batch.uids = new Uint32Array(n).fill(0xffffffff);
    batch.gids = new Uint32Array(n).fill(0xffffffff);
  }
  jobs.forEach((job, i) => {
    if (job.owner && batch.uids && batch.gids) {
      batch.uids[i] = job.owner.uid;
      batch.gids[i] = job.owner.gid;
    }
    batch.srcs[i] = job.src;
    batch.dsts[i] = job.dst;
    batch.rels[i] = job.rel;
    batch.sizes[i] = job.size;
    [batch.secs[i], batch.nsecs[i]] = splitNs(job.mtimeNs);
    batch.modes[i] = job.mode;
    batch.flags[i] =
      (needsChmod(job.mode, umask) ? chmodAfter : 0) |
      (job.removeSource ? removeSource : 0) |
      (job.hashFirst ? compareFirst : 0) |
      (job.metadataMatches ? metadataMatches : 0) |
      ((job.keepXattrs ?? 0) & 1 ? keepXattrs : 0) |
      ((job.keepXattrs ?? 0) & 2 ? keepAcls : 0) |
      (job.sparse ? sparse : 0);
  });
  return batch;
}

/** The outcomes of a batch the addon ran (by copyFiles or on its copy pool). */
export function nativeOutcomes(addon: NativeAddon, jobs: CopyJob[], result: NativeCopyResult): CopyOutcome[] {
  const outcomes: CopyOutcome[] = [];
  for (let i = 0; i < result.done; i++) {
    const outcome = nativeOutcome(
      addon,
      jobs[i]!.rel,
      result.status[i]!,
      result.errno[i]!,
      result.stage[i]!,
      result.bytes[i]!,
      jobs[i]!.sparse,
    );
    const owner = ownerResultOfErrno(result.ownerErrno?.[i] ?? -1, (errno) =>
      reasonOf(nativeErrnoError(addon, errno)),
    );
    if (owner) outcome.owner = owner;
    if (result.xattrs[i]) {
      outcome.xattrBits = result.xattrs[i]!;
      outcome.xattrErrno = result.xattrErrno[i]!;
    }
    outcomes.push(outcome);
  }
  return outcomes;
}

/** One file's outcome from the addon's status, errno and stage (a batch's, or a whole-directory job's). */
export function nativeOutcome(
  addon: NativeAddon,
  rel: string,
  status: number,
  errno: number,
  stage: number,
  bytes: number,
  /** The job asked to keep holes (kSparse). */
  sparse?: boolean,
): CopyOutcome {
  const STATUS = addon.codes.status;
  if (status === STATUS.copied) return { rel, status: 'copied', bytes, ...(sparse ? { sparse: true } : {}) };
  if (status === STATUS.unchanged || status === STATUS.updated) {
    return { rel, status: status === STATUS.unchanged ? 'unchanged' : 'updated', bytes: 0 };
  }
  if (status === STATUS.changed) return failed({ rel }, new SourceChanged());
  const error = nativeErrnoError(addon, errno);
  if (status === STATUS.sourceKept) return { rel, status: 'failed', bytes, reason: sourceKeptReason(error) };
  return failed({ rel }, stage === addon.codes.stage.source ? new SourceError(error) : error);
}

/** The addon's copy: each file's whole job (with --checksum, a byte comparison first) in one native call per batch. */
function copyBatchNative(addon: NativeAddon, jobs: CopyJob[], ctx: CopyContext): CopyOutcome[] {
  const result = addon.copyFiles(
    nativeBatch(addon, jobs, ctx.umask),
    ctx.board?.ints,
    ctx.board?.written,
    ctx.board?.slots,
    ctx.slot,
  );
  return nativeOutcomes(addon, jobs, result);
}

/**
 * Readies `ctx` for `jobs`: BLAKE3 is loaded only for --checksum jobs on the pure-JS path (the addon
 * compares bytes), so ordinary copies never pay for loading a hasher.
 */
export async function prepareContext(ctx: CopyContext, jobs: CopyJob[]): Promise<CopyContext> {
  if (!ctx.hasher && !nativeAddon() && jobs.some((job) => job.hashFirst)) ctx.hasher = await loadBlake3();
  return ctx;
}

export function copyBatch(jobs: CopyJob[], ctx: CopyContext): CopyOutcome[] {
  const addon = nativeAddon();
  if (addon) {
    // The addon's copyFiles takes no injections: they happen here, before it.
    for (const job of jobs) injectHang(job, ctx);
    return copyBatchNative(addon, jobs, ctx);
  }
  const outcomes: CopyOutcome[] = [];
  for (const job of jobs) {
    // Interrupted: the rest of the batch is left (the session reports the interruption).
    if (cancelled(ctx)) break;
    injectHang(job, ctx);
    const outcome = copyFileJob(job, ctx);
    ctx.board?.beat();
    outcomes.push(outcome);
    if (outcome.fatal) break;
  }
  return outcomes;
}

/** Shows `job` on the board, then blocks or slows down as a test injected (util/faults.ts). */
function injectHang(job: CopyJob, ctx: CopyContext): void {
  ctx.board?.set(ctx.slot ?? 0, `copy: ${job.rel}`);
  if (faults.hang('copy', job.rel)) ctx.board?.beat();
}

/** True once the run is interrupted (see CANCELLED). */
export function cancelled(ctx: CopyContext): boolean {
  return ctx.board !== undefined && Atomics.load(ctx.board.ints, CANCELLED) !== 0;
}
