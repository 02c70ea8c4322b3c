/**
 * Small files that arrived whole in data-plane batches, landed in groups on the addon's threads
 * (fsops/land-files.ts) while the event loop goes on reading sockets: the receiving side's
 * per-file system calls (create, write, metadata, rename) no longer stop the session. Each group
 * goes out at the end of the event-loop turn that filled it; the bytes waiting count against the
 * session's budget (byte-budget.ts: memory is bounded).
 */
import type { DestinationFs, ParentDir } from '../../fsops/destination-fs.js';
import { type LandFailure, type LandJob, landFiles } from '../../fsops/land-files.js';
import type { Owner, OwnerResult } from '../../fsops/owner.js';
import { baseRel, parentRel } from '../../fsops/rel-path.js';
import { tempName } from '../../fsops/temp-path.js';
import type { XattrOutcome } from '../../fsops/xattrs.js';
import { codeOf } from '../../util/errors.js';
import type { ByteBudget } from './byte-budget.js';
import { LandingJobs } from './landing-jobs.js';
import { holdView, releaseView } from './slab-pool.js';

export interface LandingFile {
  fileId: bigint;
  rel: string;
  data: Buffer;
  mode: number;
  mtimeNs: bigint;
  /** The owner to give it (fsops/owner.ts). */
  owner?: Owner;
  /** The source has holes: its all-zero 4 KiB pages land as holes (fsops/land-files.ts LandJob). */
  sparse?: boolean;
  /** Its xattrs, set by the addon before the rename (fsops/land-files.ts LandJob). */
  xattrs?: LandJob['xattrs'];
  /** Landed once more already (its directory had gone): a second ENOENT is a failure. */
  retried?: boolean;
}

export interface LandingCallbacks {
  /**
   * `owner`: what came of giving it its owner (fsops/owner.ts); `xattrs`: of setting its xattrs,
   * when the addon did (undefined: they are still to set).
   */
  landed(fileId: bigint, owner: OwnerResult, xattrs: XattrOutcome | undefined): void;
  /** The file could not land: the error of the step that failed. */
  failed(fileId: bigint, error: unknown): void;
}

export class LandingQueue {
  private queued: LandingFile[] = [];
  private scheduled = false;
  /** The session ended: nothing more lands (a group already with the landing threads still may). */
  private closed = false;
  private readonly held: BackingHold;

  constructor(
    private readonly fs: DestinationFs,
    budget: ByteBudget,
    private readonly on: LandingCallbacks,
    /** The session's jobs on the landing threads, as its stall detector sees them. */
    private readonly jobs = new LandingJobs(),
    /** Holds on read buffers shared with the session's other landings (one charge per buffer). */
    held = new BackingHold(budget),
  ) {
    this.held = held;
  }

  /**
   * `file.data` may be a view of a larger buffer (a file that came in one piece of a socket read):
   * it is landed from there, not copied, and the whole buffer counts against the budget until
   * none of its files waits any more.
   */
  add(file: LandingFile): void {
    this.queued.push(file);
    this.held.take(file.data);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** The session is over: files queued or held back are dropped, not landed. */
  close(): void {
    this.closed = true;
  }

  private flush(): void {
    this.scheduled = false;
    const group = this.queued.splice(0);
    if (group.length === 0) return;
    if (this.closed) {
      for (const file of group) this.settle(file);
      return;
    }
    /**
     * Each directory of the group opened once (its files land through the same descriptor), with the
     * path the landing threads name it by.
     */
    const parents = new Map<string, { dir: ParentDir; path: string }>();
    const jobs: LandJob[] = [];
    const landing: LandingFile[] = [];
    for (const file of group) {
      const dir = parentRel(file.rel);
      let parent = parents.get(dir);
      try {
        if (!parent) {
          let opened = this.fs.parentOf(file.rel);
          if (!opened) {
            // A directory walked through (--include) is made only once something lands in it.
            this.fs.makeDirs(dir);
            opened = this.fs.parentOf(file.rel);
          }
          if (!opened) throw Object.assign(new Error('no such file or directory'), { code: 'ENOENT' });
          parent = { dir: opened, path: opened.path('.') };
          parents.set(dir, parent);
        }
      } catch (error) {
        this.settle(file);
        this.on.failed(file.fileId, error);
        continue;
      }
      landing.push(file);
      jobs.push({
        dir: parent.path,
        temp: tempName(),
        name: baseRel(file.rel),
        data: file.data,
        mode: file.mode,
        mtimeNs: file.mtimeNs,
        owner: file.owner,
        ...(file.sparse ? { sparse: true } : {}),
        ...(file.xattrs ? { xattrs: file.xattrs } : {}),
      });
    }
    const opened = [...parents.values()].map((parent) => parent.dir);
    if (jobs.length === 0) return;
    const owners: OwnerResult[] = [];
    const xattrs: (XattrOutcome | undefined)[] = [];
    // Held back (a test's hung disk) past the session's end, the group does not land at all.
    const land = (): Promise<LandFailure[]> =>
      this.closed ? Promise.resolve([]) : landFiles(jobs, owners, xattrs);
    this.jobs.run('land', landing, 'file(s)', land).then(
      (results) => this.answer(landing, opened, results, owners, xattrs),
      (error: unknown) =>
        this.answer(
          landing,
          opened,
          landing.map(() => error as NodeJS.ErrnoException),
        ),
    );
  }

  private answer(
    files: LandingFile[],
    parents: ParentDir[],
    results: (NodeJS.ErrnoException | undefined)[],
    owners: OwnerResult[] = [],
    xattrs: (XattrOutcome | undefined)[] = [],
  ) {
    for (const parent of parents) parent.close();
    if (this.closed) {
      // The session is over: whatever came of these files is no one's news any more.
      for (const file of files) this.settle(file);
      return;
    }
    files.forEach((file, i) => {
      const error = results[i];
      const again = error !== undefined && codeOf(error) === 'ENOENT' && !file.retried;
      // Queued again before it is settled, so its bytes stay held throughout.
      if (again) this.retry(file);
      this.settle(file);
      if (error === undefined) this.on.landed(file.fileId, owners[i], xattrs[i]);
      else if (!again) this.on.failed(file.fileId, error);
    });
  }

  /** A file whose directory went missing meanwhile: made again, and the file landed once more. */
  private retry(file: LandingFile): void {
    try {
      this.fs.makeDirs(parentRel(file.rel));
    } catch (error) {
      this.on.failed(file.fileId, error);
      return;
    }
    this.add({ ...file, retried: true });
  }

  private settle(file: LandingFile): void {
    this.held.give(file.data);
  }
}

/**
 * The memory views keep alive, charged to a budget: each backing buffer once, at its whole size,
 * from its first waiting view until its last is given back (a small file's view must not hide the
 * 4 MiB read buffer it keeps from being freed). A socket's read buffer is held as long (slab-pool.ts):
 * not read into again before its last file has landed.
 */
export class BackingHold {
  private readonly views = new Map<ArrayBufferLike, number>();

  constructor(private readonly budget: ByteBudget) {}

  take(view: Uint8Array): void {
    const backing = view.buffer;
    const count = this.views.get(backing) ?? 0;
    if (count === 0) {
      this.budget.take(backing.byteLength);
      holdView(view);
    }
    this.views.set(backing, count + 1);
  }

  give(view: Uint8Array): void {
    const backing = view.buffer;
    const count = this.views.get(backing) ?? 0;
    if (count > 1) {
      this.views.set(backing, count - 1);
      return;
    }
    if (count === 0) return;
    this.views.delete(backing);
    this.budget.give(backing.byteLength);
    releaseView(view);
  }
}
