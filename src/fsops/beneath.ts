/**
 * File access beneath a root directory through directory descriptors (the addon's `beneath`): a
 * path is resolved once, by the kernel (openat2 RESOLVE_BENEATH) or an O_NOFOLLOW walk, into a
 * descriptor, and everything after that is relative to descriptors, never to a path string that
 * a local writer could have changed since it was checked. A link that leads outside the root is
 * refused (EXDEV); links that stay inside may be followed; a removal never follows any.
 *
 * Only with the native addon: `BeneathRoot.open` returns undefined without it, and callers keep
 * their path-string behaviour (see README, "Containment without the addon").
 * BLIT_NO_OPENAT2=1 makes every resolution take the walk (the tests run both).
 */
import { closeSync, constants, openSync, realpathSync } from 'node:fs';
import { codeOf, errnoError, reasonOf } from '../util/errors.js';
import type { Xattr } from './entry.js';
import { describeRawName } from './listing.js';
import { type NativeAddon, type NativeBeneath, nativeAddon } from './native.js';
import { readWholeFiles, type WholeFile, type WholeRead } from './read-listed.js';
import { baseRel, parentRel } from './rel-path.js';
import type { RemovalFailure } from './remove-tree.js';
import { NO_XATTRS } from './xattrs.js';

/** Units of work (entries read, removed or entered) between two turns of the event loop. */
const REMOVAL_CHUNK = 512;

/** A resolution that failed: `code` as Node names errnos, `depth` the component it concerns. */
export class BeneathError extends Error {
  constructor(
    readonly code: string,
    /** 0-based index of the component of the resolved path; a link's target counts as the link. */
    readonly depth: number,
  ) {
    super(code);
    this.name = 'BeneathError';
  }
}

/** lstat of one entry, as much as a listing needs. */
export interface EntryStats {
  /** st_mode with the file type bits (see kindOfMode). */
  mode: number;
  size: number;
  mtimeNs: bigint;
  /** A link's target, as bytes. */
  linkTarget?: Buffer;
  uid?: number;
  gid?: number;
  nlink: number;
  /** `dev:ino` (see Entry.inode). */
  inode: string;
  /** st_rdev (a device's number). */
  rdev?: bigint;
  /** Bytes on disk (st_blocks × 512). */
  allocated?: number;
  /** With lstat's `withXattrs`: its xattrs (sorted), absent when they could not be read. */
  xattrs?: readonly Xattr[];
}

export type RenameHow = 'replace' | 'noReplace' | 'exchange';

/** One entry's lstat, or the error that kept it from being described. */
export type EntryStatsResult = { stats: EntryStats } | { error: NodeJS.ErrnoException };

function errnoFailure(addon: NativeAddon, errno: number): NodeJS.ErrnoException {
  const code = addon.errnoName(errno);
  const error = errnoError(code);
  if (code === 'EUNKNOWN') error.message = `errno ${errno}`;
  return error;
}

/** Throws the errno `result` (0: nothing happened wrong). */
function check(addon: NativeAddon, result: number): void {
  if (result !== 0) throw errnoFailure(addon, result);
}

const walkOnly = () => process.env.BLIT_NO_OPENAT2 === '1';

/** An open directory; names given to its methods are single components inside it. */
export class BeneathDir {
  #fd: number;

  /** Takes over `fd` (see BeneathRoot for how to get one). */
  constructor(
    protected readonly addon: NativeAddon,
    fd: number,
  ) {
    this.#fd = fd;
  }

  get fd(): number {
    if (this.#fd < 0) throw new Error('directory handle used after close');
    return this.#fd;
  }

  protected get native(): NativeBeneath {
    return this.addon.beneath;
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }

  /** Opens `rel` below this directory (never above it); throws BeneathError. */
  protected openBelow(rel: string | Buffer, how: number, rootPath = '', mode = 0): number {
    const result = this.native.open(
      this.fd,
      rootPath,
      rel,
      how | (walkOnly() ? this.native.how.WALK : 0),
      mode,
    );
    if (typeof result === 'number') return result;
    throw new BeneathError(this.addon.errnoName(result.errno), result.depth);
  }

  /** The subdirectory `name`, not through a link (ELOOP or ENOTDIR when it is not a directory). */
  openSubdir(name: string | Buffer): BeneathDir {
    const fd = this.openBelow(name, this.native.how.DIRECTORY | this.native.how.NAME);
    return new BeneathDir(this.addon, fd);
  }

  /** The names in this directory, as bytes, in directory order. */
  readNames(): Buffer[] {
    const names = this.native.readNames(this.fd);
    if (typeof names === 'number') throw errnoFailure(this.addon, names);
    return names;
  }

  /**
   * lstat of each name (a link is described, never followed); `withXattrs`: its xattrs too, read
   * through this directory's descriptor in the same call.
   */
  lstat(names: readonly (string | Buffer)[], withXattrs = false): EntryStatsResult[] {
    const listed = this.native.lstatAt(this.fd, names as (string | Buffer)[], withXattrs);
    return names.map((_, i) => {
      const errno = listed.errnos[i]!;
      if (errno !== 0) return { error: errnoFailure(this.addon, errno) };
      const stats: EntryStats = {
        mode: listed.modes[i]!,
        size: listed.sizes[i]!,
        mtimeNs: listed.mtimeNs[i]!,
        nlink: listed.nlinks[i]!,
        inode: `${listed.devs[i]}:${listed.inos[i]}`,
        rdev: listed.rdevs[i]!,
        allocated: listed.allocated[i]!,
      };
      if (listed.uids && listed.gids) {
        stats.uid = listed.uids[i]!;
        stats.gid = listed.gids[i]!;
      }
      const target = listed.links[i];
      if (target !== undefined) stats.linkTarget = target;
      if (listed.xattrsRead?.[i]) {
        const pairs = listed.xattrs?.[i];
        stats.xattrs = pairs ? pairs.map(([name, value]) => ({ name, value })) : NO_XATTRS;
      }
      return { stats };
    });
  }

  /** lstat of one name; undefined when there is no such entry. */
  lstatOne(name: string | Buffer): EntryStats | undefined {
    const [result] = this.lstat([name]);
    if ('stats' in result!) return result.stats;
    if (codeOf(result!.error) === 'ENOENT') return undefined;
    throw result!.error;
  }

  /**
   * Removes `name` and, for a directory, everything below it, in chunks with `between` awaited
   * after each (a turn of the event loop). A link is removed itself, also one swapped in for a
   * directory while the removal runs. Failures are recorded per path (`label`, then `/name` per
   * level) and the rest goes on; a missing `name` counts as removed already. Returns how many
   * entries went.
   */
  async removeTree(
    name: string | Buffer,
    label: string,
    failures: RemovalFailure[],
    between: () => Promise<void>,
    /** Units of work (entries read, removed or entered) per chunk. */
    chunk = REMOVAL_CHUNK,
  ): Promise<number> {
    const removal = this.native.removeStart(this.fd, name);
    let removed = 0;
    for (;;) {
      const step = this.native.removeStep(removal, chunk);
      removed += step.removed;
      step.failedPaths.forEach((path, i) => {
        const reason = reasonOf(errnoFailure(this.addon, step.failedErrnos[i]!));
        failures.push({ path: path.length === 0 ? label : `${label}/${describeRawName(path)}`, reason });
      });
      if (step.done) return removed;
      await between();
    }
  }

  mkdir(name: string | Buffer, mode: number): void {
    check(this.addon, this.native.mkdirAt(this.fd, name, mode));
  }

  /** Removes the name of a file or a link (never what a link points to). */
  unlink(name: string | Buffer): void {
    check(this.addon, this.native.unlinkAt(this.fd, name, false));
  }

  rmdir(name: string | Buffer): void {
    check(this.addon, this.native.unlinkAt(this.fd, name, true));
  }

  /**
   * Renames `from` here to `to` in `into`. 'noReplace' fails with EEXIST rather than replace
   * what is there; 'exchange' swaps the two entries in one step (both must exist).
   */
  rename(from: string | Buffer, into: BeneathDir, to: string | Buffer, how: RenameHow = 'replace'): void {
    const flags =
      how === 'replace'
        ? 0
        : how === 'noReplace'
          ? this.native.rename.NOREPLACE
          : this.native.rename.EXCHANGE;
    check(this.addon, this.native.renameAt(this.fd, from, into.fd, to, flags));
  }

  /** Makes the link `name` -> `target`; the target is data, never resolved here. */
  symlink(target: string | Buffer, name: string | Buffer): void {
    check(this.addon, this.native.symlinkAt(target, this.fd, name));
  }

  /**
   * Creates the new file `name` for writing (a temp file: O_CREAT | O_EXCL | O_NOFOLLOW, so neither
   * an existing file nor a link is ever written through). Returns its descriptor.
   */
  createFile(name: string | Buffer, mode: number): number {
    return this.openBelow(name, this.native.how.CREATE | this.native.how.NAME, '', mode);
  }

  /** Opens the file `name` for reading, not through a link. */
  openFile(name: string | Buffer): number {
    return this.openBelow(name, this.native.how.READ | this.native.how.NAME);
  }

  /** chmod of an open file or directory. */
  chmodFd(fd: number, mode: number): void {
    check(this.addon, this.native.fchmod(fd, mode));
  }

  /** atime and mtime of an open file or directory, to the nanosecond. */
  setTimesFd(fd: number, mtimeNs: bigint): void {
    const sec = mtimeNs / 1_000_000_000n;
    const nsec = mtimeNs - sec * 1_000_000_000n;
    const [s, ns] = nsec < 0n ? [sec - 1n, nsec + 1_000_000_000n] : [sec, nsec];
    check(this.addon, this.native.futimens(fd, Number(s), Number(ns)));
  }
}

/** The root: paths below it resolve beneath it, following links only while they stay inside. */
export class BeneathRoot extends BeneathDir {
  private constructor(
    addon: NativeAddon,
    fd: number,
    /** Its real path, for absolute links that lead back inside. */
    readonly path: string,
  ) {
    super(addon, fd);
  }

  /**
   * Opens the directory `path` (its own links resolved: the root is the administrator's choice);
   * undefined without the addon. Throws the file-system error when it cannot be opened.
   */
  static open(path: string): BeneathRoot | undefined {
    const addon = nativeAddon();
    if (!addon) return undefined;
    const real = realpathSync(path);
    return new BeneathRoot(addon, openSync(real, constants.O_RDONLY | constants.O_DIRECTORY), real);
  }

  /**
   * The directory `rel` ('' for the root itself; components joined by '/'). Links on the way are
   * followed while they stay inside; the last one too when `followLast`. Throws BeneathError.
   */
  openDir(rel: string, followLast: boolean): BeneathDir {
    const how = this.native.how.DIRECTORY | (followLast ? this.native.how.FOLLOW : 0);
    return new BeneathDir(this.addon, this.openBelow(rel, how, this.path));
  }

  /** The file `rel` opened for reading, never through a last link. Throws BeneathError. */
  openFileAt(rel: string): number {
    return this.openBelow(rel, this.native.how.READ, this.path);
  }

  /**
   * Small files below the root read whole on the addon's threads, each opened as openFileAt opens
   * it (read-listed.ts readWholeFiles); `files` name them relative to the root.
   */
  readWholeFiles(files: WholeFile[], into: Uint8Array): Promise<WholeRead[]> | undefined {
    return readWholeFiles(files, into, { fd: this.fd, path: this.path, walk: walkOnly() });
  }

  /** Removes the non-directory `rel` (a link goes itself). Throws BeneathError or the errno. */
  unlinkAt(rel: string): void {
    const parent = this.openDir(parentRel(rel), false);
    try {
      parent.unlink(baseRel(rel));
    } finally {
      parent.close();
    }
  }
}
