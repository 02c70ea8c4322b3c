/**
 * Whole files that arrived in memory (a data-plane batch of small files), installed under their
 * final names by the rules of fsops/receive-file.ts: a temp file beside the target created
 * exclusively (nothing planted at its name is followed), every byte written, handle closed, mode
 * and mtime set, then renamed over the final name; any failure removes the temp file.
 *
 * With the native addon the batch lands on the addon's own threads (native/land.cc) while the JS
 * thread goes on decoding; the promise settles once every file is done. Without it
 * (BLIT_NO_NATIVE=1, or not built) the same steps run synchronously in the call, through
 * receive-file.ts's own helpers. test/unit/land-files.test.ts runs one set of cases through both.
 */
import { closeSync, ftruncateSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { errnoError, reasonOf } from '../util/errors.js';
import type { Xattr } from './entry.js';
import { needsChmod, splitNs } from './metadata.js';
import { type NativeAddon, type NativeLandFile, nativeAddon, nativeErrnoError } from './native.js';
import { type Owner, type OwnerResult, ownerResultOfErrno } from './owner.js';
import { installTemp, TEMP_FILE_FLAGS } from './receive-file.js';
import { isName } from './rel-path.js';
import { writeDataRuns } from './sparse-blocks.js';
import type { XattrOutcome } from './xattrs.js';

/** Ints per file in landFiles' xattr answer (native/land.cc kXattrInts). */
const XATTR_INTS = 4;

/** The process umask: a file created with its final mode needs no chmod unless the umask strips bits. */
const umask = process.umask();

export interface LandJob {
  /**
   * The directory the file lands in, as a plain path: what DestinationFs names it by (a daemon's
   * /proc/self/fd/N; that descriptor must stay open until the promise settles). Missing: ENOENT,
   * for the caller to make it and land the file again.
   */
  dir: string;
  /** The temp file's name in `dir`, fresh from fsops/temp-path.ts tempName. */
  temp: string;
  /** The final name in `dir`; whatever is there is replaced (never followed: a link is replaced). */
  name: string;
  /** The whole contents; with the addon it is read on another thread: unchanged until the promise settles. */
  data: Uint8Array;
  /** Set as given, special bits included (mode & 0o7777): strip what must not land before. */
  mode: number;
  mtimeNs: bigint;
  /** The owner to give it before its mode (fsops/owner.ts). */
  owner?: Owner;
  /**
   * The source has holes (sparse-blocks.ts hasHoles): the all-zero 4 KiB pages land as holes
   * (punched by the addon; without it, never written and the size given by ftruncate).
   */
  sparse?: boolean;
  /**
   * The source's xattrs and the kinds kept (xattrs.ts keepMask), for the addon to set on the temp
   * file before its mode and rename; what it has beyond them (inherited) is removed. Without the
   * addon they are left to the caller (no outcome given).
   */
  xattrs?: { list: readonly Xattr[]; keep: number };
}

/**
 * Per job: undefined when the file landed, else why not, as an errno error (`code`: EEXIST, ENOENT…)
 * for util/errors.ts reasonOf and codeOf. EINVAL: `temp` or `name` is not a single name, or `dir`
 * is empty or holds a NUL.
 */
export type LandFailure = NodeJS.ErrnoException | undefined;

/** Jobs handed to the addon's landing threads so far: each job's number in their one queue. */
let jobsQueued = 0;
/** Told the number of each job the landing threads answer, whichever session's. */
const answerListeners = new Set<(job: number) => void>();

/**
 * Calls `listener` with the number of each job the addon's landing threads answer (landFiles,
 * writeRanges and read-listed.ts readWholeFiles alike, any session's): they are one first-in, first-out pool for the process, so a
 * job is waiting, not stalled, while the jobs queued before it answer. Returns the function that
 * stops it.
 */
export function onLandingAnswer(listener: (job: number) => void): () => void {
  answerListeners.add(listener);
  return () => answerListeners.delete(listener);
}

/** The number the next job handed to the landing threads gets (see onLandingAnswer). */
export function nextLandingJob(): number {
  return jobsQueued;
}

function poolAnswered(job: number): void {
  for (const listener of answerListeners) listener(job);
}

/**
 * Numbers a job about to be handed to the landing threads (nextLandingJob's number); the function
 * returned tells the listeners once it answers, and is called first in its callback.
 */
export function queueLandingJob(): () => void {
  const job = jobsQueued++;
  return () => poolAnswered(job);
}

/**
 * `owners`, when given, gets what came of each job's owner (fsops/owner.ts), by index; `xattrs`
 * what came of each job's xattrs where the addon set them (undefined: not set, the caller's to do).
 */
export function landFiles(
  jobs: readonly LandJob[],
  owners?: OwnerResult[],
  xattrs?: (XattrOutcome | undefined)[],
): Promise<LandFailure[]> {
  const addon = nativeAddon();
  // A malformed job rejects before any file lands, on either path (the addon checks its own).
  if (!addon) {
    return new Promise((resolve) => {
      for (const job of jobs) {
        if (!(job.data instanceof Uint8Array)) throw new TypeError('landFiles: data must be a Uint8Array');
      }
      resolve(jobs.map((job, i) => landInJs(job, owners, i)));
    });
  }
  if (jobs.length === 0) return Promise.resolve([]);
  return landNatively(addon, jobs, owners, xattrs);
}

function landNatively(
  addon: NativeAddon,
  jobs: readonly LandJob[],
  owners: OwnerResult[] | undefined,
  xattrs: (XattrOutcome | undefined)[] | undefined,
): Promise<LandFailure[]> {
  const files = jobs.map((job): NativeLandFile => {
    const [mtimeSec, mtimeNsec] = splitNs(job.mtimeNs);
    return {
      dir: job.dir,
      temp: job.temp,
      name: job.name,
      data: job.data,
      mode: job.mode,
      chmod: needsChmod(job.mode, umask),
      mtimeSec,
      mtimeNsec,
      ...(job.owner ? { uid: job.owner.uid, gid: job.owner.gid } : {}),
      ...(job.sparse ? { sparse: true } : {}),
      ...(job.xattrs
        ? {
            keep: job.xattrs.keep,
            xattrs: job.xattrs.list.map((x): [string, Uint8Array] => [x.name, x.value]),
          }
        : {}),
    };
  });
  const answered = queueLandingJob();
  return new Promise((resolve) => {
    addon.landFiles(files, (errnos, ownerErrnos, xattrInts) => {
      answered();
      if (owners) {
        ownerErrnos.forEach((errno, i) => {
          owners[i] = ownerResultOfErrno(errno, (code) => reasonOf(nativeErrnoError(addon, code)));
        });
      }
      if (xattrs) {
        jobs.forEach((job, i) => {
          const at = i * XATTR_INTS;
          xattrs[i] = job.xattrs && {
            xattrs: xattrInts[at] !== 0,
            xattrErr: xattrInts[at + 1]!,
            acls: xattrInts[at + 2] !== 0,
            aclErr: xattrInts[at + 3]!,
          };
        });
      }
      resolve(Array.from(errnos, (errno) => (errno === 0 ? undefined : nativeErrnoError(addon, errno))));
    });
  });
}

function landInJs(job: LandJob, owners: OwnerResult[] | undefined, index: number): LandFailure {
  if (job.dir === '' || job.dir.includes('\0') || !isName(job.temp) || !isName(job.name)) {
    return errnoError('EINVAL');
  }
  // Joined as the addon joins them: path.join would resolve '..' before the kernel follows links.
  const temp = `${job.dir}/${job.temp}`;
  let fd: number;
  try {
    fd = openSync(temp, TEMP_FILE_FLAGS, job.mode & 0o777);
  } catch (error) {
    return failure(error);
  }
  try {
    try {
      const { data } = job;
      if (job.sparse) {
        // The skipped zero runs (a zero run at the end too) are holes: the size is set here.
        writeDataRuns(fd, data, 0);
        ftruncateSync(fd, data.length);
      } else {
        let done = 0;
        while (done < data.length) done += writeSync(fd, data, done, data.length - done);
      }
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    closeSync(fd);
    const owner = installTemp(
      temp,
      `${job.dir}/${job.name}`,
      job.mode,
      job.mtimeNs,
      needsChmod(job.mode, umask),
      job.owner,
    );
    if (owners) owners[index] = owner;
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // gone already
    }
    return failure(error);
  }
  return undefined;
}

/** A system call's error is the file's failure; anything else (a bad argument) is thrown. */
function failure(error: unknown): NodeJS.ErrnoException {
  if (typeof (error as NodeJS.ErrnoException).errno !== 'number') throw error;
  return error as NodeJS.ErrnoException;
}

/** A range of an open file to write: `data` at `offset` into `fd`, which stays open until the answer. */
export interface RangeJob {
  fd: number;
  offset: number;
  data: Uint8Array;
  /**
   * The file's source has holes: without the addon only the non-zero 4 KiB runs are written (the
   * receiver gives the file its size); with it every byte is, and the zero pages punched at the end.
   */
  sparse?: boolean;
}

/**
 * Writes each range at its offset (the blocks and whole files of a data-plane session), on the
 * addon's landing threads while the event loop reads on; without the addon, synchronously here.
 * Per range: undefined when written, else the errno error.
 */
export function writeRanges(ranges: readonly RangeJob[]): Promise<LandFailure[]> {
  const addon = nativeAddon();
  if (!addon) return new Promise((resolve) => resolve(ranges.map(writeRangeInJs)));
  if (ranges.length === 0) return Promise.resolve([]);
  const answered = queueLandingJob();
  return new Promise((resolve) => {
    addon.writeRanges([...ranges], (errnos) => {
      answered();
      resolve(Array.from(errnos, (errno) => (errno === 0 ? undefined : nativeErrnoError(addon, errno))));
    });
  });
}

function writeRangeInJs({ fd, offset, data, sparse }: RangeJob): LandFailure {
  try {
    if (sparse) {
      writeDataRuns(fd, data, offset);
      return undefined;
    }
    for (let done = 0; done < data.length; )
      done += writeSync(fd, data, done, data.length - done, offset + done);
    return undefined;
  } catch (error) {
    return failure(error);
  }
}
