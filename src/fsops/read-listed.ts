/**
 * A file read to be sent, and the check that it is still what its listing said (same size and
 * mtime, still a regular file): what makes "a file that changes while it is copied is not
 * installed" hold for the remote senders. With the addon, the last read and the check are one call
 * (native/read_checked.cc); without it, readSync and a bigint fstat. Small files named by plain
 * paths may be opened, checked, read, checked again and closed a group at a time on the addon's
 * threads (readWholeFiles).
 */
import { type BigIntStats, fstatSync, readSync } from 'node:fs';
import { queueLandingJob } from './land-files.js';
import { splitNs } from './metadata.js';
import { type NativeAddon, nativeAddon, nativeErrnoError } from './native.js';
import { hasHolesOnDisk } from './sparse-blocks.js';

/** What a file was listed with. */
export interface Listed {
  size: bigint;
  mtimeNs: bigint;
}

/** Whether `stats` (of the open file) still say what it was listed with. */
export function stillAsListed(stats: BigIntStats, listed: Listed): boolean {
  return stats.isFile() && stats.size === listed.size && stats.mtimeNs === listed.mtimeNs;
}

/**
 * What a file just opened to be sent turned out to be: not as listed (another size, mtime or
 * type: a file swapped for a device or a FIFO is never read), as listed, or as listed with holes
 * on disk (its zero blocks then go as holes). With the addon one call (native/read_checked.cc);
 * without it a bigint fstat, whose BigIntStats cost ~3 µs of the sender's ~60 per small file.
 * Throws when the fstat fails.
 */
export function openedAsListed(fd: number, listed: Listed): 'changed' | 'dense' | 'sparse' {
  const addon = nativeAddon();
  if (!addon) {
    const stats = fstatSync(fd, { bigint: true });
    if (!stillAsListed(stats, listed)) return 'changed';
    return hasHolesOnDisk(stats) ? 'sparse' : 'dense';
  }
  const [sec, nsec] = splitNs(listed.mtimeNs);
  const outcome = addon.openedAsListed(fd, Number(listed.size), sec, nsec);
  if (outcome > 1) throw nativeErrnoError(addon, outcome - 1);
  return outcome === -1 ? 'changed' : outcome === 1 ? 'sparse' : 'dense';
}

/**
 * Fills `into` from `fd` at `offset`. False when the file ended early or, `last` (this read ends
 * the file), no longer is as listed afterwards; throws when it could not be read. `beforeCheck`
 * runs once the bytes are read and before the check (with the addon, just before the call that
 * reads and checks): a test's injected change.
 */
export function readListed(
  fd: number,
  into: Uint8Array,
  offset: number,
  last: boolean,
  listed: Listed,
  beforeCheck: () => void,
): boolean {
  const addon = last ? nativeAddon() : undefined;
  if (addon) {
    beforeCheck();
    const [sec, nsec] = splitNs(listed.mtimeNs);
    const outcome = addon.readChecked(fd, into, offset, Number(listed.size), sec, nsec);
    if (outcome > 0) throw nativeErrnoError(addon, outcome);
    return outcome === 0;
  }
  for (let done = 0; done < into.length; ) {
    const n = readSync(fd, into, done, into.length - done, offset + done);
    if (n === 0) return false;
    done += n;
  }
  if (!last) return true;
  beforeCheck();
  return stillAsListed(fstatSync(fd, { bigint: true }), listed);
}

/**
 * What reading a small file whole by its path came to: read and still as listed; not as listed when
 * opened (another size, mtime or type: nothing read); changed while read (it ended early, or was
 * not as listed afterwards); not opened (the open or the fstat after it failed: the caller opens
 * it again by its own steps, which report the error in Node's words); or a read's (or the last
 * fstat's) error.
 */
export type WholeRead =
  | { kind: 'read' }
  | { kind: 'not-as-listed' }
  | { kind: 'changed' }
  | { kind: 'not-opened' }
  | { kind: 'read-failed'; error: NodeJS.ErrnoException };

const READ: WholeRead = { kind: 'read' };
const NOT_AS_LISTED: WholeRead = { kind: 'not-as-listed' };
const CHANGED: WholeRead = { kind: 'changed' };
const NOT_OPENED: WholeRead = { kind: 'not-opened' };

/** Whether readWholeFiles can answer (the addon is loaded). */
export function canReadWhole(): boolean {
  return nativeAddon() !== undefined;
}

/**
 * A small file to read whole: its path (on this machine, or relative to the root readWholeFiles is
 * given) and what it was listed with.
 */
export interface WholeFile {
  path: string;
  listed: Listed;
}

/**
 * With the addon, reads small files on its landing threads, off the event loop: each one opened
 * without following a last link or blocking on a FIFO, checked as listed, read whole, checked
 * again and closed (native/read_checked.h ReadWholeAt), file i's bytes right after file i-1's in
 * `into` (whether or not file i-1 was read: the caller keeps those it takes). Answers one
 * WholeRead per file. A test's injected change (util/faults.ts changeSource) happens after the
 * read. With `root` (an open directory and its real path: a daemon's module), the paths are
 * relative to it and opened beneath it (fsops/beneath.ts openFileAt's resolution), never out of
 * it. Undefined without the addon: the caller takes each file's steps one by one. Throws a
 * RangeError when the files' listed sizes do not fit `into`.
 */
export function readWholeFiles(
  files: WholeFile[],
  into: Uint8Array,
  root?: { fd: number; path: string; walk?: boolean },
): Promise<WholeRead[]> | undefined {
  const addon = nativeAddon();
  if (!addon) return undefined;
  const paths: string[] = [];
  const listed = new Float64Array(files.length * 3);
  let bytes = 0;
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    const size = Number(file.listed.size);
    const mtime = splitNs(file.listed.mtimeNs);
    listed[i * 3] = size;
    listed[i * 3 + 1] = mtime[0];
    listed[i * 3 + 2] = mtime[1];
    bytes += size;
    paths.push(file.path);
  }
  if (bytes > into.length) throw new RangeError('readWholeFiles: the files do not fit into');
  // One job in the landing threads' queue, numbered as theirs are (land-files.ts onLandingAnswer).
  const answered = queueLandingJob();
  return new Promise((resolve) => {
    addon.readWholeFiles(
      paths,
      listed,
      into,
      (answers) => {
        answered();
        resolve(Array.from(answers, (answer) => wholeRead(addon, answer)));
      },
      root,
    );
  });
}

/** One of ReadWholeAt's answers (native/read_checked.h; their numbers are the addon's codes.wholeRead). */
function wholeRead(addon: NativeAddon, answer: number): WholeRead {
  const codes = addon.codes.wholeRead;
  if (answer === codes.read) return READ;
  if (answer === codes.notAsListed) return NOT_AS_LISTED;
  if (answer === codes.changed) return CHANGED;
  if (answer > -codes.readFailedBase) return NOT_OPENED;
  return { kind: 'read-failed', error: nativeErrnoError(addon, -answer - codes.readFailedBase) };
}
