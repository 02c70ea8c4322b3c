/**
 * The local fast path for new trees. A directory the destination has just created is empty, so
 * nothing in it needs comparing: instead of the walk listing it here and sending its files out in
 * batches, one native copy thread takes the whole directory (lists the source, copies its files,
 * recreates its links, makes its subdirectories), and each subdirectory comes back as a job of its
 * own, so the threads share a deep tree. The main thread does nothing per file.
 *
 * The session uses it only where the outcome equals the walk's: the addon's copy threads, no
 * filters (every entry goes), no per-file actions to list, not a dry run, and not a move (which
 * removes sources as it goes). Reasons given for failures are the walk's own.
 */
import { type CopyJob, nativeOutcomes } from '../fsops/copy-file.js';
import type { CopyExecutor } from '../fsops/copy-pool.js';
import { describeRawName, NOT_UTF8_NAME, NOT_UTF8_TARGET } from '../fsops/listing.js';
import type { NativeAddon, NativeDirResult } from '../fsops/native.js';
import { NativePool } from '../fsops/native-pool.js';
import { joinRel } from '../fsops/rel-path.js';
import { errnoError, reasonOf } from '../util/errors.js';
import type { Entry } from './types.js';

const PROBLEM_NAME = 0;
const PROBLEM_TARGET = 1;
const PROBLEM_STAT = 2;
const PROBLEM_COPY = 3;
const PROBLEM_LINK = 4;

/** What the session does with a fresh directory's results. */
export interface FreshDirSink {
  sourcePath(rel: string): string;
  destinationPath(rel: string): string;
  /** Runs a job on the copy threads as part of the session's work in flight (drain waits for it). */
  run(task: (executor: CopyExecutor) => Promise<void>): void;
  /** A directory made at the destination: its mode and mtime are set with the others at the end. */
  madeDirectory(rel: string, entry: Entry): void;
  /** A directory's contents are in: counts for the report, progress and statistics. */
  done(result: NativeDirResult): void;
  /** The source side could not be read; `blocksDeletion` unless the entry simply cannot be represented. */
  sourceFailure(rel: string, reason: string, blocksDeletion: boolean): void;
  /** A file copy that failed, as the batch path reports it (fatal: stop the run). */
  copyFailure(rel: string, reason: string, sourceSide: boolean, fatal: boolean): void;
  destinationFailure(rel: string, reason: string): void;
  /** True once the run is stopping: no more directories are started. */
  stopping(): boolean;
}

export class FreshDirs {
  private pending = 0;
  private idleWaiter: (() => void) | undefined;

  constructor(
    private readonly addon: NativeAddon,
    private readonly sink: FreshDirSink,
  ) {}

  /** Copies the fresh directory `rel` (already made at the destination), and everything below it. */
  start(rel: string, entry: Entry): void {
    this.sink.madeDirectory(rel, entry);
    this.pending++;
    const settled = () => {
      if (--this.pending === 0) this.idleWaiter?.();
    };
    try {
      this.sink.run(async (executor) => {
        try {
          if (!(executor instanceof NativePool))
            throw new Error('fresh directories need the native copy pool');
          const result = await executor.copyDir(
            this.sink.sourcePath(rel),
            this.sink.destinationPath(rel),
            rel,
          );
          this.finish(rel, result);
        } finally {
          settled();
        }
      });
    } catch (error) {
      settled();
      throw error;
    }
  }

  /** Calls `then` once no fresh directory is in flight (at once when none is). */
  whenIdle(then: () => void): void {
    if (this.pending === 0) then();
    else
      this.idleWaiter = () => {
        this.idleWaiter = undefined;
        then();
      };
  }

  private finish(rel: string, result: NativeDirResult): void {
    const { sink } = this;
    if (result.listErrno !== 0) {
      sink.sourceFailure(rel, `cannot read directory: ${this.reason(result.listErrno)}`, true);
      return;
    }
    this.reportProblems(rel, result);
    sink.done(result);
    if (result.fatal || sink.stopping()) return;
    const { names, modes, mtimeNs } = result.dirs;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      // The directory could not have been listed under a name that is not UTF-8 (reported above).
      if (typeof name !== 'string') continue;
      this.start(joinRel(rel, name), { name, kind: 'dir', size: 0, mtimeNs: mtimeNs[i]!, mode: modes[i]! });
    }
  }

  private reportProblems(rel: string, result: NativeDirResult): void {
    const { sink } = this;
    const { names, kinds, status, errno, stage } = result.problems;
    for (let i = 0; i < names.length; i++) {
      const raw = names[i]!;
      const path = joinRel(rel, typeof raw === 'string' ? raw : describeRawName(raw));
      switch (kinds[i]) {
        case PROBLEM_NAME:
          sink.sourceFailure(path, NOT_UTF8_NAME, false);
          break;
        case PROBLEM_TARGET:
          sink.sourceFailure(path, NOT_UTF8_TARGET, true);
          break;
        case PROBLEM_STAT:
          sink.sourceFailure(path, this.reason(errno[i]!), true);
          break;
        case PROBLEM_COPY: {
          const job = { rel: path } as CopyJob;
          const one = {
            status: status.subarray(i, i + 1),
            errno: errno.subarray(i, i + 1),
            stage: stage.subarray(i, i + 1),
            bytes: new Float64Array(1),
            done: 1,
          };
          const [outcome] = nativeOutcomes(this.addon, [job], one);
          sink.copyFailure(
            path,
            outcome!.reason ?? 'failed',
            outcome!.sourceSide === true,
            outcome!.fatal === true,
          );
          break;
        }
        case PROBLEM_LINK:
          sink.destinationFailure(path, `cannot create symbolic link: ${this.reason(errno[i]!)}`);
          break;
        default:
          sink.destinationFailure(path, `cannot create directory: ${this.reason(errno[i]!)}`);
          break;
      }
    }
  }

  private reason(errno: number): string {
    return reasonOf(errnoError(this.addon.errnoName(errno)));
  }
}
