/**
 * The small files of a directory this session made, received without an object per file. Such a
 * directory holds nothing to compare or replace, so every small regular file its listing names is
 * needed: the addon reads the peer's records straight into a table of them (native/fresh.cc), the
 * needs go out as frames it encoded, the files' bytes are gathered from the data plane's batches by
 * number, and the addon lands them from the table on its landing threads (native/land.cc
 * freshLand). The session counts them per landing, not per file.
 *
 * Profile behind it (docs/DECISIONS.md): a pull of 20,000 small files spent about a third of its
 * client's main thread on each file's manifest entry, plan, need, pending file, landing job and
 * answer, as objects.
 *
 * Only a file whose records are ordinary takes this path: a small file sent whole in a batch, once.
 * A file of the table sent any other way (in the gRPC stream, as blocks, hashed) is handed to the
 * session's usual pending files first (`materialize`), and goes on as any other; a file sent twice,
 * or a record for a file landed, is the protocol error it is there.
 */

import { linkSync, lstatSync, readdirSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import type { FilterVerdict } from '../../engine/filter.js';
import type { LocalDestination } from '../../engine/local-destination.js';
import type { FreshListing, SourceEntry } from '../../engine/roles.js';
import type { ParentDir } from '../../fsops/destination-fs.js';
import { queueLandingJob } from '../../fsops/land-files.js';
import {
  type FreshTableHandle,
  type NativeAddon,
  nativeAddon,
  nativeErrnoError,
} from '../../fsops/native.js';
import { countOwner, ownerResultOfErrno } from '../../fsops/owner.js';
import { baseRel, joinRel, parentRel } from '../../fsops/rel-path.js';
import { tempName } from '../../fsops/temp-path.js';
import { countXattrOutcome, NO_XATTRS } from '../../fsops/xattrs.js';
import { MAX_EXACT_ID, ProtocolError } from '../../protocol/manifest-wire.js';
import { giveIds } from '../../protocol/native-manifest.js';
import { codeOf, isFatalWriteError, reasonOf } from '../../util/errors.js';
import type { LandingJobs } from '../tcp/landing-jobs.js';
import type { BackingHold } from '../tcp/landing-queue.js';
import { SMALL_FILE_BYTES } from '../tcp/layout.js';
import { holdView, releaseView } from '../tcp/slab-pool.js';

/** What the destination's machine does with the files it takes (LocalDestination's settings). */
export interface FreshOptions {
  stripSetId: boolean;
  numericIds: boolean;
  giveOwners: boolean;
  /** The xattr kinds kept (fsops/xattrs.ts keepMask). */
  keep: number;
}

/**
 * Files one table takes at most (half of peer-data.ts MAX_FILES_ASKED): a table is asked for whole,
 * so the files asked for stay bounded, here and in the source's queue of needs.
 */
export const MAX_TABLE_FILES = 8192;

/**
 * Staging directories a session holds open at once, at most (each a descriptor): past them a
 * table lands in its directory as before. A source sends a table's files together, so a few are
 * held at a time; a peer spreading its files over many tables gets no more descriptors than this.
 */
export const MAX_HELD_STAGES = 64;

/** The process umask: a mode it would strip is set again after the create. */
const umask = process.umask();

/**
 * The small plain files of a whole listing's records (`entries`, ManifestBatch field 3 as received)
 * taken into a table, with the records left for the usual decoder (`rest`); undefined when none
 * are taken (no addon, or nothing the addon takes: see native/fresh.h).
 */
export function takeFreshFiles(
  entries: Uint8Array,
  rel: string,
  options: FreshOptions,
): { fresh: FreshListing; rest: Uint8Array } | undefined {
  const addon = nativeAddon();
  if (!addon) return undefined;
  if (options.giveOwners && !options.numericIds) giveIds(addon);
  const taken = addon.freshFiles(
    entries,
    rel,
    Float64Array.of(
      SMALL_FILE_BYTES,
      options.stripSetId ? 1 : 0,
      options.numericIds ? 1 : 0,
      options.giveOwners ? 1 : 0,
      options.keep,
      umask,
      MAX_TABLE_FILES,
    ),
  );
  if (!taken) return undefined;
  const { table, count, bytes, sizes, rest } = taken;
  return { fresh: { table, count, bytes, sizes, whole: rest.length === 0 }, rest };
}

/** A file of a table: asked for, its bytes coming, landing, settled, or handed to the pending files. */
const ASKED = 0;
const RECEIVING = 1;
const LANDING = 2;
const SETTLED = 3;
const HANDED = 4;
/** Failed by the source while it lands in a staging directory: settled once the landing answers. */
const FAILED_LANDING = 5;

interface Range {
  first: number;
  count: number;
  rel: string;
  verdict: FilterVerdict | undefined;
  table: FreshTableHandle;
  sizes: Float64Array;
  state: Uint8Array;
  /** Files of it neither settled nor handed on: once none, the range is forgotten. */
  open: number;
  /** Complete files waiting for the next landing: their indices and bytes. */
  queued: number[];
  views: Uint8Array[];
  scheduled: boolean;
  /** Files landed once more already (their directory had gone): a second ENOENT fails them. */
  retried?: Uint8Array;
  /** Where its files land until they are all in, when the table is the directory's whole listing. */
  stage?: Stage;
}

/**
 * A directory whose files land in a staging directory beside it (`name`, a temp name), each created
 * straight under its own name, and which is renamed over the directory (made empty by this session)
 * once every file of its table has settled: no one sees a partial file under a final name, and
 * each file makes one name instead of an unnamed file linked in (docs/DECISIONS.md, "A directory of
 * small files fills beside its place").
 */
interface Stage {
  name: string;
  /** Made and held open (until then nothing landed there). */
  dir?: ParentDir;
  /** What it is (device, inode): only that is renamed into place. */
  dev?: bigint;
  ino?: bigint;
  /** Landing jobs under way there: it is renamed into place only once none is. */
  inFlight: number;
  /** Files landed there (counted as they land: one that cannot be placed is reported failed too). */
  landed: number[];
  /**
   * A file of the range went the usual way (materialize), into the directory itself, maybe still
   * being written through a descriptor of it: the directory is then never replaced, and the staged
   * files join it one by one.
   */
  handedOn?: boolean;
  /**
   * A file's landing there failed: what it wrote may still be under its name (its removal can
   * fail too), so the directory is never replaced, and only the files that landed join it.
   */
  failed?: boolean;
}

/** Sent as this path takes a file: whole at the size its table holds, and small. */
function fitsAsSent(range: Range, index: number, length: number): boolean {
  return length === range.sizes[index] && length <= SMALL_FILE_BYTES;
}

/** What the session hears of these files. */
export interface FreshEvents {
  /** `count` files landed, `bytes` in all. */
  copied(count: number, bytes: number): void;
  failed(rel: string, reason: string, sourceSide: boolean): void;
  /** A file leaves the files asked for (landed or failed here): the session may wake. */
  settled(count: number): void;
  /** A write that cannot go on (disk full): the session ends. */
  fatal(rel: string, error: unknown): void;
}

export class FreshFiles {
  private readonly ranges: Range[] = [];
  private heldRows = 0;
  /** Staging directories held open now (made, not placed yet). */
  private heldStages = 0;
  /**
   * Empty directories moved aside, by the directory they are in: each a directory this session
   * made, whose name its staging directory took (renamed over it, it would be freed, and a
   * file system mounted `discard` waits for the device to trim its block: ~90 µs a directory
   * here, and tens of milliseconds behind a backlog of trims). The next staging directory beside
   * them is one of these; what is left is removed when the session ends.
   */
  private readonly spares = new Map<string, string[]>();
  /** Pieces of a file whose batch straddled two reads, by file id. */
  private readonly pieces = new Map<number, Uint8Array[]>();
  private closed = false;

  constructor(
    private readonly addon: NativeAddon,
    private readonly destination: LocalDestination,
    /** The session's holds on read buffers, shared with its landing queue (one charge per buffer). */
    private readonly held: BackingHold,
    private readonly jobs: LandingJobs,
    private readonly events: FreshEvents,
  ) {}

  /** The needs of a listing's table (file i: `first` + i), encoded as TransferFrames. */
  add(
    rel: string,
    verdict: FilterVerdict | undefined,
    fresh: FreshListing,
    first: bigint,
    role: number,
  ): Buffer[] {
    const firstId = Number(first);
    this.ranges.push({
      first: firstId,
      count: fresh.count,
      rel,
      verdict,
      table: fresh.table,
      sizes: fresh.sizes,
      state: new Uint8Array(fresh.count),
      open: fresh.count,
      queued: [],
      views: [],
      scheduled: false,
      // Not the root: its staging directory would be outside the transfer.
      ...(fresh.whole && rel !== '' ? { stage: { name: tempName(), inFlight: 0, landed: [] } } : {}),
    });
    this.heldRows += fresh.count;
    return this.addon.freshNeeds(fresh.table, firstId, role);
  }

  /** Files in the tables still held (any of whose files is not settled or handed on). */
  get rows(): number {
    return this.heldRows;
  }

  /** The range and index of `fileId`, if a table holds it (ranges are in the order of their ids). */
  private find(fileId: bigint): { range: Range; index: number } | undefined {
    if (this.ranges.length === 0 || fileId > MAX_EXACT_ID) return undefined;
    const id = Number(fileId);
    let low = 0;
    let high = this.ranges.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const range = this.ranges[mid]!;
      if (id < range.first) high = mid - 1;
      else if (id >= range.first + range.count) low = mid + 1;
      else return { range, index: id - range.first };
    }
    return undefined;
  }

  /**
   * A range of `fileId` begins (records.begin). 'taken': its bytes are gathered here; 'usual': the
   * file (handed on now if it was still asked) goes the usual way; throws for a file of a table
   * sent twice or after it settled.
   */
  begin(fileId: bigint, length: number, whole: boolean): 'taken' | 'usual' {
    const at = this.find(fileId);
    if (!at) return 'usual';
    const { range, index } = at;
    const state = range.state[index]!;
    if (state === HANDED) return 'usual';
    if (state !== ASKED) throw new ProtocolError(`file ${fileId} sent twice`);
    if (whole && fitsAsSent(range, index, length)) {
      range.state[index] = RECEIVING;
      this.pieces.set(Number(fileId), []);
      return 'taken';
    }
    return 'usual';
  }

  /**
   * A batch that came in one read (records.ts BatchEvent): each member still only asked for whose
   * length is its file's size is taken at once, its bytes a view of `data` (the read buffer held),
   * and lands with the others of its range; which were taken is said by a 1 (record-receiver.ts
   * RangeSink.batch). The rest are left as they were, for begin, data and done to judge (a file sent
   * twice, one handed on, one of no table).
   */
  takeBatch(fileIds: bigint[], lengths: number[], data: Buffer): Uint8Array | undefined {
    let taken: Uint8Array | undefined;
    let range: Range | undefined;
    for (let i = 0, at = 0; i < fileIds.length; at += lengths[i]!, i++) {
      const fileId = fileIds[i]!;
      const length = lengths[i]!;
      if (fileId > MAX_EXACT_ID) continue;
      const id = Number(fileId);
      // Members are mostly consecutive files of one table: the last range first.
      if (!range || id < range.first || id >= range.first + range.count) range = this.find(fileId)?.range;
      if (!range) continue;
      const index = id - range.first;
      if (range.state[index] !== ASKED || !fitsAsSent(range, index, length)) continue;
      const view = data.subarray(at, at + length);
      this.held.take(view);
      this.queueLanding(range, index, view);
      taken ??= new Uint8Array(fileIds.length);
      taken[i] = 1;
    }
    return taken;
  }

  /** Bytes of a file being gathered (records.data): kept past this call, its read buffer held. */
  data(fileId: bigint, data: Uint8Array): boolean {
    const pieces = this.pieces.get(Number(fileId));
    if (!pieces) return false;
    holdView(data);
    pieces.push(data);
    return true;
  }

  /** A file's bytes are all in (records.done): it lands with the others of its range. */
  done(fileId: bigint): boolean {
    const id = Number(fileId);
    const pieces = this.pieces.get(id);
    if (!pieces) return false;
    this.pieces.delete(id);
    const { range, index } = this.find(fileId)!;
    const data = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    // Held by the landing now (the whole read buffer counts against the budget): the pieces' own holds end.
    this.held.take(data);
    for (const piece of pieces) releaseView(piece);
    this.queueLanding(range, index, data);
    return true;
  }

  /** File `index` of `range` lands with the others queued there (once the event loop turns). */
  private queueLanding(range: Range, index: number, data: Uint8Array): void {
    range.state[index] = LANDING;
    range.queued.push(index);
    range.views.push(data);
    if (!range.scheduled) {
      range.scheduled = true;
      setImmediate(() => this.land(range));
    }
  }

  /**
   * The source failed a file of a table (a FAIL record, or an error frame naming it): reported as
   * the usual path reports it. False when no table holds it any more (the pending files answer).
   */
  fail(fileId: bigint, reason: string): boolean {
    const at = this.find(fileId);
    if (!at) return false;
    const { range, index } = at;
    const state = range.state[index]!;
    if (state === HANDED) return false;
    if (state === SETTLED || state === FAILED_LANDING)
      throw new ProtocolError(`a failure for file ${fileId}, which was not asked for`);
    const pieces = this.pieces.get(Number(fileId));
    if (pieces) {
      for (const piece of pieces) releaseView(piece);
      this.pieces.delete(Number(fileId));
    }
    // One landing already has it: whatever lands, it is the failure the source said. In a
    // staging directory it settles once that landing answers: the directory is placed then, and
    // the session must not finish (and set directories' metadata) before.
    this.events.failed(this.relOf(range, index), reason, true);
    if (state === LANDING && range.stage) {
      range.state[index] = FAILED_LANDING;
      return true;
    }
    this.settle(range, index);
    this.events.settled(1);
    return true;
  }

  /**
   * The file, still only asked for, as the usual pending files hold it (its entry made from the
   * table): it goes on the usual way. Undefined for a file no table holds still asked for.
   */
  materialize(fileId: bigint): { rel: string; entry: SourceEntry } | undefined {
    const at = this.find(fileId);
    if (!at || at.range.state[at.index] !== ASKED) return undefined;
    const { range, index } = at;
    const [name, size, sec, nsec, mode, uid, gid, owned, xattrsRead] = this.addon.freshEntry(
      range.table,
      index,
    );
    const entry = {
      name,
      kind: 'file',
      size,
      mtimeNs: BigInt(sec) * 1_000_000_000n + BigInt(nsec),
      mode,
      ...(owned ? { uid, gid } : {}),
      ...(xattrsRead ? { xattrs: NO_XATTRS } : {}),
      verdict: range.verdict,
    } as SourceEntry;
    range.state[index] = HANDED;
    if (range.stage) range.stage.handedOn = true;
    range.open--;
    this.forgetIfDone(range);
    return { rel: joinRel(range.rel, name), entry };
  }

  /** The session is over: nothing more lands, and what waits is dropped. */
  close(): void {
    for (const pieces of this.pieces.values()) for (const piece of pieces) releaseView(piece);
    this.pieces.clear();
    for (const range of this.ranges) {
      for (const view of range.views) this.held.give(view);
      range.views = [];
      range.queued = [];
      // What landed goes into place (a landing under way there places it when it answers).
      if (range.stage?.inFlight === 0) this.place(range);
    }
    this.removeSpares();
    this.closed = true;
  }

  private relOf(range: Range, index: number): string {
    return joinRel(range.rel, this.addon.freshEntry(range.table, index)[0]);
  }

  private settle(range: Range, index: number): void {
    range.state[index] = SETTLED;
    range.open--;
    this.forgetIfDone(range);
  }

  private forgetIfDone(range: Range): void {
    if (range.open > 0) return;
    if (range.stage?.inFlight === 0) this.place(range);
    const at = this.ranges.indexOf(range);
    if (at < 0) return;
    this.ranges.splice(at, 1);
    this.heldRows -= range.count;
  }

  /**
   * Makes a range's staging directory beside its directory, held open (never reached through a
   * link) until it is placed; where it cannot be made, or MAX_HELD_STAGES are held already (a peer
   * sending one file of each of many tables), the range lands in its directory as any other. Its
   * mode is the umask's, as any directory made here until the end sets its own.
   */
  private makeStage(range: Range, stage: Stage): void {
    if (this.heldStages >= MAX_HELD_STAGES) {
      range.stage = undefined;
      return;
    }
    const spare = this.takeSpare(range);
    let dir: ParentDir | undefined;
    try {
      if (spare) stage.name = spare.name;
      dir = spare ? spare.dir : this.destination.fs.makeBeside(range.rel, stage.name);
      const { dev, ino } = statSync(dir.path('.'), { bigint: true });
      Object.assign(stage, { dir, dev, ino });
      this.heldStages++;
    } catch {
      dir?.close();
      range.stage = undefined;
    }
  }

  /**
   * A directory set aside beside `range`'s, open and still empty, to be its staging directory; one
   * something was put in meanwhile is left where it is (and is not removed: see removeSpares).
   */
  private takeSpare(range: Range): { name: string; dir: ParentDir } | undefined {
    const spares = this.spares.get(parentRel(range.rel));
    for (let name = spares?.pop(); name !== undefined; name = spares?.pop()) {
      let dir: ParentDir | undefined;
      try {
        dir = this.destination.fs.openBeside(range.rel, name);
        if (readdirSync(dir.path('.')).length === 0) return { name, dir };
      } catch {
        // Gone or swapped: not taken.
      }
      dir?.close();
    }
    return undefined;
  }

  /**
   * A staged range is done (or the session is): its staging directory is renamed over the
   * directory, which this session made empty, if its name still names it. Where that cannot be
   * (something else put entries in the directory meanwhile, or swapped a name), each entry of the
   * staging directory is linked into the directory beside what is there, never over it; a file of
   * the table that cannot be is reported where it is left.
   */
  private place(range: Range): void {
    const stage = range.stage;
    if (!stage) return;
    range.stage = undefined;
    const dir = stage.dir;
    if (!dir) return;
    this.heldStages--;
    try {
      if (!stage.handedOn && !stage.failed && this.renamedIntoPlace(range, stage)) {
        // Placed after the session ended (a landing that answered late): no later one takes it.
        if (this.closed) this.removeSpares();
        return;
      }
      const table = new Set<string>();
      for (const index of stage.landed) table.add(this.addon.freshEntry(range.table, index)[0]);
      let left = 0;
      // The directory, opened once for all its entries (any name below it names it).
      let into: ParentDir | undefined;
      let unopened: unknown;
      try {
        into = this.destination.fs.parentOf(joinRel(range.rel, stage.name));
        if (!into) throw Object.assign(new Error('no such file or directory'), { code: 'ENOENT' });
      } catch (error) {
        unopened = error;
      }
      for (const name of readdirSync(dir.path('.'))) {
        // Only what landed: a file whose landing failed, or anything else put there, stays (and
        // the staging directory with it, for a later run to remove).
        if (!table.has(name)) {
          left++;
          continue;
        }
        try {
          if (!into) throw unopened;
          linkSync(dir.path(name), into.path(name));
        } catch (error) {
          left++;
          if (!this.closed && table.has(name))
            this.events.failed(
              joinRel(range.rel, name),
              `cannot move into place: ${reasonOf(error)}; left in ${joinRel(joinRel(parentRel(range.rel), stage.name), name)}`,
              false,
            );
          continue;
        }
        try {
          unlinkSync(dir.path(name));
        } catch {
          left++; // in place all the same; its second name goes with the staging directory later
        }
      }
      into?.close();
      if (left === 0) this.removeBeside(range.rel, stage.name, stage);
    } catch {
      // Its entries could not be read: left for a later run, which removes a staging directory
      // whose writer is gone.
    } finally {
      dir.close();
    }
  }

  /**
   * The staging directory takes the directory's name if its own name still names it (the addon's
   * placeStaged: one descriptor of the parent, no name taken over anything but the empty directory
   * this session made there, which trades names with it and stays aside as a spare).
   */
  private renamedIntoPlace(range: Range, stage: Stage): boolean {
    let parent: ParentDir | undefined;
    let placed: 0 | 1 | 2 | 3 = 0;
    const aside = tempName();
    try {
      parent = this.destination.fs.parentOf(range.rel);
      if (!parent) return false;
      placed = this.addon.placeStaged(
        parent.path('.'),
        stage.name,
        baseRel(range.rel),
        aside,
        stage.dev!,
        stage.ino!,
      );
    } catch {
      return false;
    } finally {
      parent?.close();
    }
    if (placed === 0) return false;
    // Nothing keeps reaching the directory that was there through a descriptor of it.
    this.destination.fs.replaced(range.rel);
    if (placed === 1) return true;
    // The empty directory this session made there, now under a temp name: not freed (see `spares`).
    const name = placed === 2 ? stage.name : aside;
    const spares = this.spares.get(parentRel(range.rel));
    if (spares) spares.push(name);
    else this.spares.set(parentRel(range.rel), [name]);
    return true;
  }

  /**
   * The directories moved aside and not taken again go: once every file asked for is in (before
   * the session sets its directories' times, which a removal changes), and when the session ends.
   */
  removeSpares(): void {
    for (const [dir, names] of this.spares)
      for (const name of names) this.removeBeside(joinRel(dir, name), name);
    this.spares.clear();
  }

  /**
   * The empty directory `name` beside `rel` goes, if it is still the one this session holds
   * (`identity`, when given); anything else is left for a later run, which removes what a writer
   * gone left under a temp name.
   */
  private removeBeside(rel: string, name: string, identity?: { dev?: bigint; ino?: bigint }): void {
    let parent: ParentDir | undefined;
    try {
      parent = this.destination.fs.parentOf(rel);
      if (!parent) return;
      if (identity) {
        const named = lstatSync(parent.path(name), { bigint: true });
        if (named.dev !== identity.dev || named.ino !== identity.ino) return;
      }
      rmdirSync(parent.path(name));
    } catch {
      // Left for a later run.
    } finally {
      parent?.close();
    }
  }

  /** The complete files of a range, landed together on the addon's threads. */
  private land(range: Range): void {
    range.scheduled = false;
    const indices = range.queued;
    const views = range.views;
    range.queued = [];
    range.views = [];
    if (indices.length === 0) return;
    if (this.closed) {
      for (const view of views) this.held.give(view);
      return;
    }
    const addon = this.addon;
    if (range.stage && !range.stage.dir) this.makeStage(range, range.stage);
    const stage = range.stage;
    /** The first file as the session names it (its work, its faults). */
    const first = joinRel(range.rel, addon.freshEntry(range.table, indices[0]!)[0]);
    /** Every file of this landing failed with `error` (its directory could not be opened, or the job failed). */
    const failAll = (error: unknown) =>
      this.answer(
        range,
        indices,
        views,
        undefined,
        indices.map(() => error),
        stage,
      );
    let parent: ParentDir | undefined;
    try {
      // A staging directory is held open until it is placed.
      parent = stage ? { path: stage.dir!.path, close() {} } : this.destination.fs.parentOf(first);
      if (!parent) throw Object.assign(new Error('no such file or directory'), { code: 'ENOENT' });
    } catch (error) {
      failAll(error);
      return;
    }
    const opened = parent;
    if (stage) stage.inFlight++;
    /** The job answered: a staged range whose last landing this was goes into place once answered. */
    /**
     * The job answered: no longer under way there before its answers settle files, so the last
     * file's settling places the directory before the session hears that it settled (and, with
     * nothing left to land, removes what it set aside before the directories' times are set).
     */
    const jobAnswered = () => {
      if (stage) stage.inFlight--;
    };
    /** After the answers: a session over meanwhile still places what landed. */
    const over = () => {
      opened.close();
      if (stage && stage.inFlight === 0 && range.stage === stage && (range.open === 0 || this.closed))
        this.place(range);
    };
    this.jobs
      .runCounted('land', first, indices.length, 'file(s)', () =>
        this.closed
          ? Promise.resolve(undefined)
          : new Promise<{ errnos: Int32Array; owners: Int32Array; xattrs: Int32Array }>((resolve) => {
              const answered = queueLandingJob();
              addon.freshLand(
                range.table,
                opened.path('.'),
                Uint32Array.from(indices),
                views,
                (errnos, owners, xattrs) => {
                  answered();
                  resolve({ errnos, owners, xattrs });
                },
                stage !== undefined,
              );
            }),
      )
      .then(
        (result) => {
          jobAnswered();
          this.answer(range, indices, views, result, result?.errnos, stage);
          over();
        },
        (error: unknown) => {
          jobAnswered();
          failAll(error);
          over();
        },
      );
  }

  /**
   * What came of a landing: counted, and each failure reported (a directory gone meanwhile is made
   * again and its files landed once more).
   */
  private answer(
    range: Range,
    indices: number[],
    views: Uint8Array[],
    result: { errnos: Int32Array; owners: Int32Array; xattrs: Int32Array } | undefined,
    /** Per file: 0 (landed), an errno, or the error that kept the landing from starting. */
    errors: ArrayLike<unknown> | undefined,
    /** The staging directory they landed in (where a file failed by the source is left too). */
    stage?: Stage,
  ): void {
    if (this.closed || !errors) {
      for (const view of views) this.held.give(view);
      // The session is over, but what landed in a staging directory is still placed (and what
      // failed there keeps it from being swapped in).
      if (stage && errors)
        for (let i = 0; i < indices.length; i++) {
          if (errors[i] === 0) stage.landed.push(indices[i]!);
          else stage.failed = true;
        }
      return;
    }
    const again: number[] = [];
    const againViews: Uint8Array[] = [];
    let landed = 0;
    let bytes = 0;
    let settled = 0;
    let fatal: { rel: string; error: unknown } | undefined;
    indices.forEach((index, i) => {
      // Failed by the source meanwhile: already reported. What landed goes into place all the
      // same, as on the usual path; what did not may have left a part under its name.
      if (range.state[index] !== LANDING) {
        this.held.give(views[i]!);
        if (range.state[index] === FAILED_LANDING) {
          if (errors[i] === 0) stage?.landed.push(index);
          else if (stage) stage.failed = true;
          this.settle(range, index);
          settled++;
        }
        return;
      }
      const outcome = errors[i];
      if (outcome === 0) {
        this.held.give(views[i]!);
        if (result) this.countFidelity(result, i);
        settled++;
        stage?.landed.push(index);
        landed++;
        bytes += range.sizes[index]!;
        this.settle(range, index);
        return;
      }
      const error = typeof outcome === 'number' ? nativeErrnoError(this.addon, outcome) : outcome;
      range.retried ??= new Uint8Array(range.count);
      // Not for a staging directory, which only this session makes: gone, it is not made again.
      if (codeOf(error) === 'ENOENT' && range.retried[index] === 0 && !stage) {
        // Kept held: it lands once more.
        range.retried[index] = 1;
        again.push(index);
        againViews.push(views[i]!);
        return;
      }
      this.held.give(views[i]!);
      if (stage) stage.failed = true;
      this.settle(range, index);
      settled++;
      const rel = this.relOf(range, index);
      this.events.failed(rel, `cannot write: ${reasonOf(error)}`, false);
      if (isFatalWriteError(error)) fatal ??= { rel, error };
    });
    if (landed > 0) this.events.copied(landed, bytes);
    if (again.length > 0) {
      try {
        this.destination.fs.makeDirs(range.rel);
      } catch (error) {
        // Not made: they fail as they would have.
        for (const [i, index] of again.entries()) {
          this.held.give(againViews[i]!);
          this.settle(range, index);
          settled++;
          this.events.failed(this.relOf(range, index), `cannot write: ${reasonOf(error)}`, false);
        }
        again.length = 0;
      }
      if (again.length > 0) {
        range.queued.push(...again);
        range.views.push(...againViews);
        this.land(range);
      }
    }
    if (fatal) this.events.fatal(fatal.rel, fatal.error);
    if (settled > 0) this.events.settled(settled);
  }

  /** What a landing did with file `i`'s owner and xattrs, counted in the destination's fidelity report. */
  private countFidelity({ owners, xattrs }: { owners: Int32Array; xattrs: Int32Array }, i: number): void {
    const fidelity = this.destination.fidelity;
    countOwner(
      fidelity,
      ownerResultOfErrno(owners[i]!, (code) => reasonOf(nativeErrnoError(this.addon, code))),
    );
    // Four ints a file: xattrs attempted and their errno, ACLs attempted and theirs (most files:
    // neither, and no object made for them).
    if (xattrs[i * 4] === 0 && xattrs[i * 4 + 2] === 0) return;
    countXattrOutcome(
      this.addon,
      {
        xattrs: xattrs[i * 4] !== 0,
        xattrErr: xattrs[i * 4 + 1]!,
        acls: xattrs[i * 4 + 2] !== 0,
        aclErr: xattrs[i * 4 + 3]!,
      },
      fidelity,
    );
  }
}
