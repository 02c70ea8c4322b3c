/**
 * The optional native addon (native/, gathered by native/blit_native.cc), loaded once. Everything it does has a pure-JS
 * twin; `BLIT_NO_NATIVE=1` forces that path (the test suite runs both).
 */
import { createRequire } from 'node:module';
import { errnoError, reasonOf, showPath } from '../util/errors.js';
import { faults } from '../util/faults.js';
import type { EntryKind } from './entry.js';

/**
 * The numbers the addon and TypeScript exchange, as the addon exports them (its `codes`, frozen):
 * read there, never copied here. The pure-JS path needs none of them.
 */
export interface NativeCodes {
  /** Kinds of listed entries (NativeListing.kinds, NativeDirResult extra.kinds). */
  kind: Readonly<Record<EntryKind | 'gone' | 'error', number>>;
  /** What came of one file's copy (NativeCopyResult.status, NativeDirResult problems.status). */
  status: Readonly<Record<'copied' | 'failed' | 'changed' | 'sourceKept' | 'unchanged' | 'updated', number>>;
  /** Which side a copy failed on (NativeCopyResult.stage). */
  stage: Readonly<Record<'source' | 'destination', number>>;
  /** Bits of NativeBatch.flags. */
  batchFlag: Readonly<
    Record<
      | 'chmodAfter'
      | 'removeSource'
      | 'compareFirst'
      | 'metadataMatches'
      | 'keepXattrs'
      | 'keepAcls'
      | 'sparse',
      number
    >
  >;
  /**
   * readWholeFiles' answers besides -errno (a failed open): read, not as listed, changed while
   * read; readFailedBase + errno, negated: a read or the last fstat failed.
   */
  wholeRead: Readonly<Record<'read' | 'notAsListed' | 'changed' | 'readFailedBase', number>>;
  /** NativeCopyResult.xattrs bits. */
  xattrOutcome: Readonly<Record<'xattrsApplied' | 'xattrsFailed' | 'aclsApplied' | 'aclsFailed', number>>;
  /** NativeDirResult problems.kinds. */
  problem: Readonly<
    Record<'name' | 'target' | 'stat' | 'copy' | 'link' | 'mkdir' | 'meta' | 'place', number>
  >;
  /** submitCopyDir's compare modes, under engine/types.ts CompareMode's names. */
  compare: Readonly<
    Record<'default' | 'size-only' | 'ignore-times' | 'checksum' | 'ignore-existing', number>
  >;
  /**
   * The layout of util/activity-board.ts as the addon reads and writes it: header Int32 indexes,
   * BigInt64 counter indexes, slot size and count. The board owns the layout (the pure-JS path
   * uses it too); test/unit/native-codes.test.ts checks that the addon's equals it.
   */
  board: Readonly<
    Record<
      | 'beats'
      | 'stopped'
      | 'paused'
      | 'cancelled'
      | 'written'
      | 'dirEntries'
      | 'listed'
      | 'listedCounters'
      | 'slotBytes'
      | 'slots',
      number
    >
  >;
}

export interface NativeListing {
  names: (string | Buffer)[];
  /** codes.kind: file, dir, symlink, other, or error (see errnos); vanished entries are left out. */
  kinds: Uint8Array;
  modes: Uint32Array;
  sizes: Float64Array;
  mtimeNs: BigInt64Array;
  links: (string | Buffer | undefined)[];
  errnos: Int32Array;
  /** The rest of each lstat, for metadata fidelity: owners, link counts, st_mode & S_IFMT, identity, device numbers, st_blocks × 512. */
  uids: Uint32Array;
  gids: Uint32Array;
  nlinks: Uint32Array;
  types: Uint32Array;
  devs: BigUint64Array;
  inos: BigUint64Array;
  rdevs: BigUint64Array;
  allocated: Float64Array;
  /** 1 where the entry's xattrs were read; `xattrs[i]` holds them when it has any (native/xattr.cc). */
  xattrsRead: Uint8Array;
  xattrs: ([string, Buffer][] | undefined)[];
}

/** sameAsManifestLater's answer when equal: also which directory was listed. */
export interface FoundAsListed extends SameAsManifest {
  dev: bigint;
  ino: bigint;
}

/** sameAsManifest's answer: the directory's own entries, every one as the peer listed it. */
export interface SameAsManifest {
  entries: number;
  /** The size of each regular file. */
  fileSizes: Float64Array;
  /** The subdirectories' names. */
  dirs: string[];
}

/**
 * listManifest's answer: the entries as encoded ManifestEntry messages, with the subdirectories'
 * listing for the walk; or, where an entry needs the JavaScript side, the whole listing instead.
 */
export type NativeManifestListing =
  | { chunks: Buffer[]; entries: number; fileSizes: Float64Array; dirs: NativeListing; listing?: undefined }
  | { listing: NativeListing; chunks?: undefined };

/** A batch of copies as the addon takes it: paths, then one typed array per field. */
export interface NativeBatch {
  srcs: string[];
  dsts: string[];
  /** Shown on the activity board while each file is copied. */
  rels: string[];
  sizes: Float64Array;
  secs: Float64Array;
  nsecs: Uint32Array;
  modes: Uint32Array;
  /** codes.batchFlag bits: chmod after, remove source, compare contents first (--checksum), metadata already matches. */
  flags: Uint8Array;
  /** The owner each copy gets (fsops/owner.ts); 0xffffffff: that id stays as written. */
  uids?: Uint32Array;
  gids?: Uint32Array;
}

export interface NativeCopyResult {
  /**
   * codes.status: copied, failed, (source) changed, sourceKept (done but the source could not be
   * removed), unchanged (same contents), updated (same contents, metadata set).
   */
  status: Int32Array;
  errno: Int32Array;
  /** codes.stage: the side that failed, source or destination. */
  stage: Int32Array;
  /** Per file: -1 no owner given, 0 given, else the errno of the chown that failed. */
  ownerErrno?: Int32Array;
  bytes: Float64Array;
  /** Per file, codes.xattrOutcome bits, and the errno of a kind not kept. */
  xattrs: Uint8Array;
  xattrErrno: Int32Array;
  /** Jobs attempted; fewer than given when a fatal destination error stopped the batch. */
  done: number;
}

/** What a fresh-directory job did (see submitCopyDir and engine/whole-dirs.ts). */
export interface NativeDirResult {
  /**
   * Fresh jobs: non-zero when the filled directory could not take its own name; it is left under
   * its temp name, and files, links and subdirectories count none.
   */
  placeErrno: number;
  /** Non-zero: the source directory could not be listed (nothing else was done). */
  listErrno: number;
  /** Entries listed (vanished ones left out). */
  entries: number;
  files: number;
  /** Of `files`, those copied with their holes kept. */
  sparseFiles?: number;
  /** FIFOs and devices made, and devices not made (not root). */
  specials?: number;
  specialRefused?: number;
  links: number;
  /** Sockets, FIFOs, devices: skipped. */
  others: number;
  bytes: number;
  /** Files given to the copy (copied, or compared first under --checksum), and their bytes. */
  handled: number;
  handledBytes: number;
  /**
   * What this job added to the board's listing totals (ActivityBoard.listed): entries, bytes of the
   * files it set out to copy, and its subdirectories minus itself.
   */
  listedEntries: number;
  listedBytes: number;
  listDelta: number;
  /** The size of every file the source listed. */
  sizes: Float64Array;
  /**
   * Subdirectories the destination lacks, made under the temp names `stages` (beside their own),
   * still to be filled (each a fresh job of its own).
   */
  dirs: { names: (string | Buffer)[]; stages: string[]; modes: Uint32Array; mtimeNs: BigInt64Array };
  /**
   * Entries not copied. kinds (codes.problem): name not UTF-8, link target not UTF-8, lstat (stat)
   * failed, the file copy failed (copy: status, errno, stage as in NativeCopyResult), link not
   * made, directory not made (mkdir), metadata not set (meta), not moved into place (place: the
   * directory appeared meanwhile and the entry could not join it).
   */
  problems: {
    names: (string | Buffer)[];
    kinds: Int32Array;
    status: Int32Array;
    errno: Int32Array;
    stage: Int32Array;
  };
  /** The destination is full or read-only: the job stopped there. */
  fatal: boolean;
  /** Owners given (files, links, directories made or brought up to date) and failed; errno: the first failure's. */
  owners?: { applied: number; failed: number; errno: number };
  /**
   * Source entries left to JavaScript: files with other names (with hardLinks) and, on both sides,
   * entries of another kind at the destination.
   */
  residual?: (string | Buffer)[];
  /** Entries whose xattrs and ACLs were kept or not, and the errno of the first that was not. */
  xattrs: {
    xattrsApplied: number;
    xattrsFailed: number;
    aclsApplied: number;
    aclsFailed: number;
    errno: number;
  };
  /** The latest change time among the source's entries, in ms (rounded down). */
  sourceCtimeMaxMs?: number;
  // A directory on both sides (submitCopyDir with a compare mode) also says:
  /** Entries on both sides whose xattrs neither listing read (unchanged since: perf/xattr-mark.ts). */
  xattrsDeferred?: number;
  /** Non-zero: the destination directory could not be listed (ELOOP/ENOTDIR: it is not one). */
  dstListErrno?: number;
  /** Entries left as they were, and files whose mode or mtime alone was set. */
  skipped?: number;
  updated?: number;
  /** Subdirectories on both sides, still to be compared (each a job of its own). */
  both?: { names: (string | Buffer)[]; modes: Uint32Array; mtimeNs: BigInt64Array };
  /** Mirror: destination entries the source lacks (codes.kind). */
  extra?: { names: (string | Buffer)[]; kinds: Uint8Array };
  /** Temp files, temp links and staging directories found at the destination. */
  temps?: (string | Buffer)[];
}

/** Why `beneath.open` failed: an errno, and which component of the path (0-based) it concerns. */
export interface NativeBeneathFailure {
  errno: number;
  /** A failure inside a link's target counts as the link's own component. */
  depth: number;
}

/** The lstat fields of some entries of one directory (`beneath.lstatAt`). */
export interface NativeEntryStats {
  /** st_mode, file type bits included (fs.constants.S_IFMT). */
  modes: Uint32Array;
  sizes: Float64Array;
  mtimeNs: BigInt64Array;
  /** Owners (fsops/owner.ts compares them). */
  uids?: Uint32Array;
  gids?: Uint32Array;
  /** A link's target; undefined for other kinds. */
  links: (Buffer | undefined)[];
  /** Link count, device and inode: which names are one file (engine/hard-links.ts). */
  nlinks: Uint32Array;
  devs: BigUint64Array;
  inos: BigUint64Array;
  /** st_rdev (a device's number). */
  rdevs: BigUint64Array;
  /** Bytes on disk (st_blocks × 512). */
  allocated: Float64Array;
  /** 0, or why that entry could not be described (ENOENT: gone meanwhile). */
  errnos: Int32Array;
  /** With `withXattrs`: 1 where the entry's xattrs were read, and those of the entries that have any. */
  xattrsRead?: Uint8Array;
  xattrs?: ([string, Buffer][] | undefined)[];
}

/** What one `beneath.removeStep` did (counts and failures of that step alone). */
export interface NativeRemovalStep {
  removed: number;
  done: boolean;
  /** Relative to the removed top, as bytes; empty for the top itself. */
  failedPaths: Buffer[];
  failedErrnos: Int32Array;
}

/** An opaque removal in progress (see removeStart). */
export type NativeRemoval = { readonly __brand: 'NativeRemoval' };

/**
 * Containment (native/beneath.cc): everything relative to directory descriptors, resolved beneath
 * them with openat2(RESOLVE_BENEATH) or an O_NOFOLLOW walk. Failures are errno numbers (errnoName
 * names them). fsops/beneath.ts is the way to use it.
 */
export interface NativeBeneath {
  /** Flags for `open`; without DIRECTORY, CREATE or READ the result is an O_PATH handle. */
  how: { FOLLOW: number; DIRECTORY: number; CREATE: number; READ: number; WALK: number; NAME: number };
  /**
   * Resolves `rel` beneath `dirFd` and opens it. `rootPath` is dirFd's real path: an absolute link
   * whose target lies under it is followed from dirFd ('' refuses every absolute link).
   */
  open(
    dirFd: number,
    rootPath: string,
    rel: string | Buffer,
    how: number,
    mode: number,
  ): number | NativeBeneathFailure;
  /** The names in a directory (without . and ..), or an errno. */
  readNames(dirFd: number): Buffer[] | number;
  lstatAt(dirFd: number, names: (string | Buffer)[], withXattrs?: boolean): NativeEntryStats;
  /** Starts removing `name` in `parentFd` with everything below it (parentFd is duplicated). */
  removeStart(parentFd: number, name: string | Buffer): NativeRemoval;
  /** At most `budget` units of work (entries read, removed or entered). */
  removeStep(removal: NativeRemoval, budget: number): NativeRemovalStep;
  // The thin writes take single names (no '/', '.', '..', '' or NUL: EINVAL) and return 0 or an errno.
  mkdirAt(dirFd: number, name: string | Buffer, mode: number): number;
  unlinkAt(dirFd: number, name: string | Buffer, isDirectory: boolean): number;
  /** Flags for renameAt (renameat2's); 0 is a plain renameat. */
  rename: { NOREPLACE: number; EXCHANGE: number };
  renameAt(fromFd: number, from: string | Buffer, toFd: number, to: string | Buffer, flags: number): number;
  symlinkAt(target: string | Buffer, dirFd: number, name: string | Buffer): number;
  fchmod(fd: number, mode: number): number;
  futimens(fd: number, sec: number, nsec: number): number;
}

/** One file for `landFiles`: see fsops/land-files.ts LandJob (mtime split by metadata.ts splitNs). */
export interface NativeLandFile {
  dir: string;
  temp: string;
  name: string;
  /** Referenced, never copied, until the answer: must not change or be transferred meanwhile. */
  data: Uint8Array;
  mode: number;
  /** False: the create mode after the umask is `mode` already, no fchmod (absent: true). */
  chmod?: boolean;
  mtimeSec: number;
  mtimeNsec: number;
  /** The owner to give it before its mode (fsops/owner.ts); absent: left as written. */
  uid?: number;
  gid?: number;
  /** The source has holes: its all-zero 4 KiB pages are punched before the metadata (native/sparse.h). */
  sparse?: boolean;
  /** The kinds of xattrs kept (xattrs.ts keepMask): `xattrs` set on the temp file, the rest removed. */
  keep?: number;
  xattrs?: [string, Uint8Array][];
}

/** A table of a fresh directory's small files, held by the addon (native/fresh.h). */
export type FreshTableHandle = { readonly __freshTable: unique symbol };

export interface NativeAddon {
  beneath: NativeBeneath;
  /** Lists one directory; takes the read-ahead result for it when there is one. */
  /** An entry's xattrs (not followed), sorted, of the names blit keeps; throws on failure. */
  readXattrs(path: string): [string, Buffer][];
  /**
   * Makes path's xattrs those given, within `keep` (1 xattrs, 2 ACLs): per kind, whether anything
   * was there to do and the first errno (0: done).
   */
  setXattrs(
    path: string,
    xattrs: [string, Uint8Array][],
    keep: number,
    isLink: boolean,
  ): { xattrs: boolean; acls: boolean; xattrErr: number; aclErr: number };
  listDir(path: string): NativeListing;
  /**
   * The same, on a reader thread, waiting up to `waitMs`: undefined when the listing takes longer
   * (it goes on; a call without `waitMs` takes it).
   */
  listDir(path: string, waitMs: number): NativeListing | undefined;
  /**
   * A directory listed straight into the ManifestEntry messages a push sends (native/manifest.cc):
   * `chunks` of at most `batchEntries`, `dirs` the subdirectories' listing; or the whole `listing`
   * where an entry needs the JavaScript side. With `waitMs`: undefined as listDir's.
   */
  listManifest(
    path: string,
    batchEntries: number,
    filterStatus: number,
    filterMet: number,
    waitMs?: number,
  ): NativeManifestListing | undefined;
  /** The names of this machine's user and group ids, for listManifest's owners. */
  setIdNames(uids: Uint32Array, users: string[], gids: Uint32Array, groups: string[]): void;
  /**
   * Whether the directory at `path` (not through a link in its place) holds exactly the entries a
   * peer listed, `entries` being their ManifestBatch field-3 records (native/manifest.cc): its own
   * counts and subdirectories' names, or undefined when anything differs or it cannot tell.
   */
  sameAsManifest(
    path: string,
    entries: Uint8Array,
    filterStatus: number,
    filterMet: number,
    refusedFileModes: number,
  ): SameAsManifest | undefined;
  /**
   * The same on the landing threads: the directory opened now (false: it could not be, nothing
   * queued), listed and compared there; `onDone` gets sameAsManifest's answer.
   */
  sameAsManifestLater(
    path: string,
    entries: Uint8Array,
    filterStatus: number,
    filterMet: number,
    refusedFileModes: number,
    onDone: (same: FoundAsListed | undefined) => void,
  ): boolean;
  /** Tests only (BLIT_TEST_HANG=scan:REL on the walk): listing `path` hangs for a minute. */
  setListingHang(path: string): void;
  /** Tests only (BLIT_TEST_CHANGE_SOURCE, util/env-faults.ts): a copy of `path` sees it change. */
  setChangeSource(path: string): void;
  /** Queues directories for the background reader (see fsops/read-ahead.ts). */
  readAhead(paths: string[]): void;
  /** Queues `root` and, as they are found, the directories below it (depth first, bounded). */
  readAheadTree(root: string): void;
  /** Tests only: listings read ahead still to come, and those done and not yet taken. */
  readAheadState(): { waiting: number; listed: number };
  /** Forgets every listing read ahead and not yet taken. */
  dropReadAhead(): void;
  setTimes(path: string, sec: number, nsec: number, noFollow: boolean): void;
  /** Runs a batch of copies on the calling thread (tiny jobs). */
  copyFiles(
    batch: NativeBatch,
    /** Bumped (atomically) after every file and every 64 MiB: the stall detector's beat. */
    beat?: Int32Array,
    /** Bytes written are added to it (atomically) per chunk, files in flight included. */
    written?: BigInt64Array,
    /** The activity board's slots, and the calling thread's among them: it shows the file being copied. */
    slots?: Uint8Array,
    slot?: number,
  ): NativeCopyResult;
  /** Starts `threads` native copy threads; returns the pool's number. onDone runs on the main thread. */
  startCopyPool(
    threads: number,
    beat: Int32Array | undefined,
    /**
     * [0]: bytes written, as for copyFiles; [1], when present: entries whole-directory jobs have
     * dealt with so far (each job's result reports them again when it ends); [2–4], when present,
     * what they listed (ActivityBoard.listed; each result reports its own share too).
     */
    written: BigInt64Array | undefined,
    slots: Uint8Array | undefined,
    onDone: (id: number, result: NativeCopyResult | NativeDirResult) => void,
  ): number;
  /** Queues a batch on a pool; `label` goes on the activity board while a thread runs it. */
  submitCopies(
    pool: number,
    id: number,
    batch: NativeBatch,
    label: string,
    /** Tests only (see util/faults.ts): a delay per file, and the file whose copy hangs (-1: none). */
    delayMs: number,
    hangIndex: number,
  ): void;
  /**
   * Queues a fresh-directory job on a pool: copy everything in `src` into `stage`, the empty
   * directory made for `dst` under a temp name beside it, then rename it to `dst` (see RunWholeDir).
   * `rel` names it on the activity board; umask decides which modes need a chmod.
   */
  /** Makes a FIFO or device node under a temp name and renames it to `path` (native/special_file.h). */
  /** Returns what came of giving `uid`/`gid`: -1 not given, 0 given, else the chown's errno. */
  makeSpecial(
    path: string,
    fileType: number,
    mode: number,
    rdev: bigint,
    sec: number,
    nsec: number,
    uid?: number,
    gid?: number,
  ): number;
  submitCopyDir(
    pool: number,
    id: number,
    src: string,
    dst: string,
    /** Empty for a directory on both sides (with `compare`). */
    stage: string,
    rel: string,
    umask: number,
    /** Tests only (see util/faults.ts): a delay per file, the name whose copy hangs, a hung listing. */
    delayMs: number,
    hangName: string,
    scanHang: boolean,
    /** Given: `dst` exists too; compare with this mode (codes.compare). */
    compare?: number,
    mirror?: boolean,
    /** --exclude patterns of literal characters and '*' (see engine/filter.ts nativeExcludes). */
    excludes?: string[],
    /** Entries get the source's owner (fsops/owner.ts keepsOwners). */
    owners?: boolean,
    /** Files with a link count above 1 go back as `residual` (engine/hard-links.ts). */
    hardLinks?: boolean,
    /** The xattr kinds kept (fsops/xattrs.ts keepMask). */
    keepXattrs?: number,
    /** Keep the holes of files whose allocated bytes are below their size (native/sparse.h). */
    sparse?: boolean,
    /**
     * With `compare`: read the xattrs only of entries changed since then (ms since the epoch, source
     * then destination; 0: of all; perf/xattr-mark.ts).
     */
    xattrsFromMs?: number,
    dstXattrsFromMs?: number,
  ): void;
  /**
   * Drops the batches not yet started (returns their ids) and lets the threads end; with `abandon`
   * the batches still running no longer keep the process alive and never answer.
   */
  closeCopyPool(pool: number, abandon?: boolean): number[];
  /**
   * Lands the files on the addon's landing threads (native/land.cc); `onDone` runs on the main
   * thread with one errno per file (0: landed). Throws a TypeError for a malformed job, before any lands.
   */
  /** ownerErrnos per file: -1 no owner given, 0 given, else the errno of the chown that failed. */
  /**
   * Per file: an errno (0: landed), the owner's (-1: none given), and four ints for its xattrs
   * (xattrs attempted, errno, ACLs attempted, errno) when `keep` was given.
   */
  landFiles(
    files: NativeLandFile[],
    onDone: (errnos: Int32Array, ownerErrnos: Int32Array, xattrInts: Int32Array) => void,
  ): void;
  /** This machine's ids by name (fsops/id-map.ts idOf), which freshFiles maps a sent owner's name to. */
  setFreshIds(userNames: string[], userIds: Uint32Array, groupNames: string[], groupIds: Uint32Array): void;
  /**
   * A whole listing's ManifestBatch field-3 records (a directory this session made) read into a
   * table of its small plain files (native/fresh.h); `rest` holds the other records as received.
   * Undefined: none taken (a record it cannot read, a name listed twice, no such file).
   * `options`: [smallMax, stripSetId, numericIds, giveOwners, keep, umask].
   */
  freshFiles(
    entries: Uint8Array,
    rel: string,
    options: Float64Array,
  ): { table: FreshTableHandle; count: number; bytes: number; sizes: Float64Array; rest: Buffer } | undefined;
  /** The table's needs (file i: firstFileId + i) as encoded TransferFrame messages of NeedBatch. */
  freshNeeds(table: FreshTableHandle, firstFileId: number, role: number): Buffer[];
  /** One file of the table: [name, size, mtimeSec, mtimeNsec, mode, uid, gid, owned, xattrsRead]. */
  freshEntry(
    table: FreshTableHandle,
    index: number,
  ): [string, number, number, number, number, number, number, boolean, boolean];
  /**
   * The table's files `indices` landed in `dir` from `views` (each its file's size); onDone as
   * landFiles'. `staged`: `dir` is this session's staging directory, seen under no final name yet:
   * each file is created straight under its name, and removed if it fails midway.
   */
  freshLand(
    table: FreshTableHandle,
    dir: string,
    indices: Uint32Array,
    views: Uint8Array[],
    onDone: (errnos: Int32Array, ownerErrnos: Int32Array, xattrInts: Int32Array) => void,
    staged?: boolean,
  ): void;
  /**
   * The staging directory `stage` of `parent` (a path; /proc/self/fd/N/. names a held directory),
   * while it is still the directory (`dev`, `ino`), takes the name `place` (native/stage.h): 1 when
   * nothing was there; 2 when the empty directory there traded names with it (and is now under
   * `stage`'s name); 3 when, without renameat2's flags, the empty directory there went to `aside`
   * first; 0 when neither (nothing moved, or it moved back). `renamesOnly` (tests only): as on a
   * file system without renameat2's flags.
   */
  placeStaged(
    parent: string,
    stage: string,
    place: string,
    aside: string,
    dev: bigint,
    ino: bigint,
    renamesOnly?: boolean,
  ): 0 | 1 | 2 | 3;
  /** Each range written at its offset into its descriptor on the landing threads; one errno each. */
  writeRanges(
    ranges: { fd: number; offset: number; data: Uint8Array }[],
    onDone: (errnos: Int32Array) => void,
  ): void;
  /**
   * The all-zero 4 KiB pages of the first `size` bytes of `fd` (a received file of a sparse source)
   * punched into holes, on the calling thread (fd readable and writable); 0 or an errno (cannot
   * punch here: 0, left dense).
   */
  punchZeros(fd: number, size: number): number;
  /**
   * Fills `into` from `fd` at `offset`, then fstat: 0 when the file is still a regular file of
   * `size` bytes with that mtime, -1 when it ended early or is not (it changed), else an errno.
   */
  readChecked(
    fd: number,
    into: Uint8Array,
    offset: number,
    size: number,
    mtimeSec: number,
    mtimeNsec: number,
  ): number;
  /**
   * fstat of a file opened to be sent: -1 when it is not a regular file of `size` bytes with that
   * mtime, 0 when it is, 1 when it is and has holes on disk; errno + 1 when the fstat failed.
   */
  openedAsListed(fd: number, size: number, mtimeSec: number, mtimeNsec: number): number;
  /**
   * Small files read whole by their paths on the landing threads (native/land.h readWholeFiles):
   * file i (`listed[3i..3i+2]`: size, mtime seconds, nanoseconds) into `into` right after file
   * i-1's bytes. `onDone` gets one answer per file: 0 read and still as listed, 1 not as listed
   * when opened (nothing read), 2 changed while read, -errno the open (or the fstat after it)
   * failed, -(65536 + errno) a read or the last fstat did. Throws a TypeError, nothing queued,
   * when the sizes do not fit `into`. With `root` (a directory and its real path) the paths are
   * relative to it and resolved beneath it, as beneath.open resolves them (`walk`: never through
   * openat2, as its WALK); the job reads through its own duplicate of `root.fd`.
   */
  readWholeFiles(
    paths: string[],
    listed: Float64Array,
    into: Uint8Array,
    onDone: (answers: Int32Array) => void,
    root?: { fd: number; path: string; walk?: boolean },
  ): void;
  /**
   * A data-plane socket driven from a thread of its own (native/data_socket.cc): takes a duplicate
   * of `fd`; each command below answers once, in order, with (result, errno, side) — side 1 the
   * socket, side 2 the file.
   */
  dataSocketOpen(fd: number, onDone: (result: number, errno: number, side: number) => void): NativeDataSocket;
  /**
   * Reads 1..into.length bytes (0: the peer closed; ETIMEDOUT after idleMs of nothing); `whole`:
   * on until into is full, or the peer closes.
   */
  dataSocketRead(socket: NativeDataSocket, into: Uint8Array, idleMs: number, whole?: boolean): void;
  /** Moves exactly `length` bytes from the socket into `fd` at `offset` (splice). */
  dataSocketReceive(
    socket: NativeDataSocket,
    fd: number,
    offset: number,
    length: number,
    idleMs: number,
  ): void;
  /** Writes `header`, then `length` bytes of `fd` from `offset` (sendfile; zeros past a short file). */
  dataSocketSend(
    socket: NativeDataSocket,
    header: Uint8Array,
    fd: number,
    offset: number,
    length: number,
    idleMs: number,
  ): void;
  dataSocketWrite(socket: NativeDataSocket, data: Uint8Array, idleMs: number): void;
  /** What the kernel measured of the connection (TCP_INFO) and its buffers. */
  dataSocketTcpInfo(socket: NativeDataSocket): {
    rttUs: number;
    rcvRttUs: number;
    sendBuffer: number;
    receiveBuffer: number;
  };
  /** Sets SO_RCVBUF (receive) or SO_SNDBUF (which ends autotuning of it); returns its size now. */
  dataSocketSetBuffer(socket: NativeDataSocket, receive: boolean, bytes: number): number;
  /** Ends the socket's thread (the step under way and those queued answer ECANCELED). */
  dataSocketClose(socket: NativeDataSocket, shutdown: boolean): void;
  errnoName(errno: number): string;
  /** systemd's notify protocol: one datagram to `socketPath` ($NOTIFY_SOCKET; '@': abstract). */
  sdNotify(socketPath: string, message: string): void;
  /**
   * A Buffer of `bytes` (a multiple of 2 MiB) at a 2 MiB boundary, advised for transparent huge
   * pages (native/huge_buffer.cc); undefined when it cannot be mapped.
   */
  hugeBuffer(bytes: number): Buffer | undefined;
  /**
   * Whether this process reads small files through io_uring (native/uring.h): Linux with a kernel
   * and sandbox that allow it, and BLIT_NO_URING unset.
   */
  uringUsable(): boolean;
  /** How many batches this process's io_uring rings have run (tests: proof a path took them). */
  uringRuns(): number;
  /**
   * Ends the process at once (`_exit`). With `streamsMade` (Node's stdio streams were made), or a
   * stdio pipe left non-blocking, Node's stdio descriptors are first set back as Node's own exit
   * sets them, where `stdioResettable`; otherwise they are left as they are.
   */
  exitProcess(code: number, streamsMade?: boolean): never;
  /**
   * Whether exitProcess sets Node's stdio descriptors back first (O_NONBLOCK as found at start, a
   * terminal's mode): this Node exports that step of its exit (native/watchdog.cc).
   */
  stdioResettable: boolean;
  /**
   * Whether no copy pool (see closeCopyPool) and no landFiles call owes an answer: nothing is left
   * that must finish.
   */
  poolsIdle(): boolean;
  /** The stall watchdog on a native thread (see engine/stall-watch.ts); onStall runs on the main thread. */
  startWatchdog(
    header: Int32Array,
    slots: Uint8Array,
    timeoutMs: number,
    graceMs: number,
    onStall: (message: string) => void,
  ): void;
  /**
   * Tests only: the rules the addon shares with the TypeScript side, one case at a time
   * (test/unit/native-rules.test.ts runs one table of cases through both).
   */
  testRules: NativeTestRules;
  codes: NativeCodes;
  abiVersion: number;
}

/** An opaque handle of the addon's data-socket threads. */
export type NativeDataSocket = { readonly __nativeDataSocket: unique symbol };

/** An entry as NativeTestRules takes it (kind: codes.kind). */
export interface NativeTestEntry {
  kind: number;
  size?: number;
  mtimeNs?: bigint;
  mode?: number;
  name?: string | Buffer;
  link?: string | Buffer;
  uid?: number;
  gid?: number;
  /** st_mode & S_IFMT and st_rdev, for special files. */
  fileType?: number;
  rdev?: bigint;
  /** Read xattrs, as listDir gives them (absent: not read). */
  xattrs?: [string, Uint8Array][];
}

export interface NativeTestRules {
  /**
   * engine/compare.ts decide() for an entry on both sides; compare: codes.compare; owners: kept;
   * keep: xattrs.ts keepMask.
   */
  decide(
    source: NativeTestEntry,
    dest: NativeTestEntry,
    compare: number,
    owners?: boolean,
    keep?: number,
  ): string;
  /** fsops/temp-path.ts isTempName(). */
  isTempName(name: string | Buffer): boolean;
  /** fsops/metadata.ts needsChmod(). */
  needsChmod(mode: number, umask: number): boolean;
  /** Whether the copy threads leave `entry` out under these engine/filter.ts namePattern()s. */
  excluded(patterns: string[], entry: NativeTestEntry): boolean;
  /** node:buffer isUtf8(), as the addon decides which names it hands out as strings. */
  isUtf8(bytes: Buffer): boolean;
  /** ActivityBoard.stallMessage() (util/activity-board.ts) for the board's slots. */
  stallMessage(slots: Uint8Array, timeoutMs: number): string;
}

const ABI_VERSION = 47;
const CANDIDATES = [
  '../native/build/Release/blit_native.node',
  '../../native/build/Release/blit_native.node',
];

let loaded: NativeAddon | undefined;
let status: string | undefined;
let embedded: (() => string | undefined) | undefined;

/**
 * Where a single executable (src/sea/setup.ts) finds its addon: `extract` returns the path of the
 * copy it embeds, written out to disk (a binary has no addon file beside it), or undefined when it
 * embeds none. Called before the first use; without it the addon is looked for beside the bundle.
 */
export function useEmbeddedAddon(extract: () => string | undefined): void {
  embedded = extract;
}

function load(): void {
  if (status !== undefined) return;
  loadAddon();
  if (loaded) injectFaults(loaded);
}

function loadAddon(): void {
  if (process.env.BLIT_NO_NATIVE === '1') {
    status = 'pure JS (BLIT_NO_NATIVE=1)';
    return;
  }
  if (embedded) {
    loadEmbedded(embedded);
    return;
  }
  const require = createRequire(import.meta.url);
  for (const candidate of CANDIDATES) {
    try {
      const addon = require(new URL(candidate, import.meta.url).pathname) as NativeAddon;
      if (addon.abiVersion !== ABI_VERSION) continue;
      loaded = addon;
      status = 'native addon';
      return;
    } catch {
      // try the next location
    }
  }
  status = 'pure JS (native addon not built)';
}

/** A test's fault plan (util/faults.ts) reaches the addon's own threads as it loads. */
function injectFaults(addon: NativeAddon): void {
  const changed = faults.sourceToChange();
  if (changed !== undefined) addon.setChangeSource(changed);
}

/** The embedded addon, or the pure-JS path with the reason it did not load. */
function loadEmbedded(extract: () => string | undefined): void {
  try {
    const path = extract();
    if (path === undefined) {
      status = 'pure JS (native addon not built)';
      return;
    }
    const module = { exports: {} as NativeAddon };
    process.dlopen(module, path);
    if (module.exports.abiVersion !== ABI_VERSION) {
      status = `pure JS (embedded native addon has ABI ${module.exports.abiVersion}, expected ${ABI_VERSION})`;
      return;
    }
    loaded = module.exports;
    status = 'native addon (embedded)';
  } catch (error) {
    // A file-system failure names its path; dlopen's message names the file already.
    const path = (error as NodeJS.ErrnoException).path;
    status = `pure JS (embedded native addon not loaded: ${path ? `${showPath(path)}: ` : ''}${reasonOf(error)})`;
  }
}

export function nativeAddon(): NativeAddon | undefined {
  load();
  return loaded;
}

/** Which file-operation path is active, for `blit --version` and diagnostics. */
export function nativeStatus(): string {
  load();
  return status!;
}

let kindsByCode: readonly (EntryKind | undefined)[] | undefined;

/** Entry kinds indexed by the addon's kind codes (none for `gone` and `error`). */
export function nativeKinds(addon: NativeAddon): readonly (EntryKind | undefined)[] {
  if (!kindsByCode) {
    const kinds: (EntryKind | undefined)[] = [];
    for (const kind of ['file', 'dir', 'symlink', 'other'] as const) kinds[addon.codes.kind[kind]] = kind;
    kindsByCode = kinds;
  }
  return kindsByCode;
}

/** The error for an errno the addon reported (its number turned into Node's code, e.g. EACCES). */
export function nativeErrnoError(addon: NativeAddon, errno: number): NodeJS.ErrnoException {
  return errnoError(addon.errnoName(errno));
}
