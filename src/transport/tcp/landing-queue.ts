/**
 * Small files that arrived whole in data-plane batches, landed in groups on the addon's threads
 * (fsops/land-files.ts) while the event loop goes on reading sockets: the receiving side's
 * per-file system calls (create, write, metadata, rename) no longer stop the session. Each group
 * goes out at the end of the event-loop turn that filled it; the bytes waiting count against the
 * session's budget (byte-budget.ts: memory is bounded).
 */
import { basename } from 'node:path';
import type { DestinationFs, ParentDir } from '../../fsops/destination-fs.js';
import { type LandJob, landFiles } from '../../fsops/land-files.js';
import type { Owner, OwnerResult } from '../../fsops/owner.js';
import { baseRel, parentRel } from '../../fsops/rel-path.js';
import { tempPathFor } from '../../fsops/temp-path.js';
import { codeOf } from '../../util/errors.js';
import type { ByteBudget } from './byte-budget.js';

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
  /** Landed once more already (its directory had gone): a second ENOENT is a failure. */
  retried?: boolean;
}

export interface LandingCallbacks {
  /** `owner`: what came of giving it its owner (fsops/owner.ts). */
  landed(fileId: bigint, owner: OwnerResult): void;
  /** The file could not land: the error of the step that failed. */
  failed(fileId: bigint, error: unknown): void;
}

export class LandingQueue {
  private queued: LandingFile[] = [];
  private scheduled = false;

  constructor(
    private readonly fs: DestinationFs,
    private readonly budget: ByteBudget,
    private readonly on: LandingCallbacks,
  ) {}

  add(file: LandingFile): void {
    this.queued.push(file);
    this.budget.take(file.data.length);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    const group = this.queued.splice(0);
    if (group.length === 0) return;
    /** Each directory of the group opened once (its files land through the same descriptor). */
    const parents = new Map<string, ParentDir>();
    const jobs: LandJob[] = [];
    const landing: LandingFile[] = [];
    for (const file of group) {
      const dir = parentRel(file.rel);
      let parent = parents.get(dir);
      try {
        if (!parent) {
          parent = this.fs.parentOf(file.rel);
          if (!parent) {
            // A directory walked through (--include) is made only once something lands in it.
            this.fs.makeDirs(dir);
            parent = this.fs.parentOf(file.rel);
          }
          if (!parent) throw Object.assign(new Error('no such file or directory'), { code: 'ENOENT' });
          parents.set(dir, parent);
        }
      } catch (error) {
        this.settle(file);
        this.on.failed(file.fileId, error);
        continue;
      }
      landing.push(file);
      jobs.push({
        dir: parent.path('.'),
        temp: basename(tempPathFor('.')),
        name: baseRel(file.rel),
        data: file.data,
        mode: file.mode,
        mtimeNs: file.mtimeNs,
        owner: file.owner,
        ...(file.sparse ? { sparse: true } : {}),
      });
    }
    const opened = [...parents.values()];
    if (jobs.length === 0) return;
    const owners: OwnerResult[] = [];
    landFiles(jobs, owners).then(
      (results) => this.answer(landing, opened, results, owners),
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
  ) {
    for (const parent of parents) parent.close();
    files.forEach((file, i) => {
      this.settle(file);
      const error = results[i];
      if (error === undefined) this.on.landed(file.fileId, owners[i]);
      else if (codeOf(error) === 'ENOENT' && !file.retried) this.retry(file);
      else this.on.failed(file.fileId, error);
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
    this.budget.give(file.data.length);
  }
}
