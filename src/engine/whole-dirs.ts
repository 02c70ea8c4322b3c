/**
 * Local fast paths that take a whole directory to a native copy thread, so the main thread does
 * nothing per file:
 * - fresh: a directory the destination lacks, made empty under a temp name beside its own (by the
 *   walk, or by the job that found it). The thread lists the source, copies the files straight
 *   under their names (nothing there to compare or replace, so no temp file and rename each),
 *   recreates the links, makes the subdirectories the same way, and renames the directory into
 *   place once filled: the destination shows it only with complete files in it.
 * - both: a directory on both sides. The thread lists both, applies the compare rules of
 *   engine/compare.ts, copies or updates what differs and, for a mirror, names what the source
 *   lacks; entries of another kind on each side come back to the destination role here.
 * Each subdirectory comes back as a job of its own, so the threads share even one deep tree.
 *
 * The session uses them only where the outcome equals the walk's: the addon's copy threads, no
 * filters but --exclude patterns of literal characters and '*' (which the threads apply to names:
 * filter.ts nativeExcludes), no per-file actions to list, not a dry run, and not a move (which
 * removes sources as it goes). Reasons given for failures are the walk's own.
 */
import { rmdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { nativeOutcome } from '../fsops/copy-file.js';
import type { CopyExecutor } from '../fsops/copy-pool.js';
import { describeRawName, NOT_UTF8_NAME, NOT_UTF8_TARGET } from '../fsops/listing.js';
import { type NativeAddon, type NativeDirResult, nativeErrnoError, nativeKinds } from '../fsops/native.js';
import { NativePool } from '../fsops/native-pool.js';
import { joinRel, parentRel } from '../fsops/rel-path.js';
import { readXattrs } from '../fsops/xattrs.js';
import { reasonOf } from '../util/errors.js';
import type { CompareMode, Entry, EntryKind } from './types.js';

/**
 * Directories out on the copy threads at once: plenty to keep them busy. The rest wait here, a few
 * bytes each, so a directory with 100,000 subdirectories does not put 100,000 jobs in flight.
 */
const IN_FLIGHT = 64;

interface WaitingDir {
  rel: string;
  /** A fresh directory: the temp path it was made under. None: a directory on both sides. */
  stage?: string;
}

/** What the session does with a whole directory's results. */
export interface WholeDirSink {
  sourcePath(rel: string): string;
  destinationPath(rel: string): string;
  /** Runs a job on the copy threads as part of the session's work in flight (drain waits for it). */
  run(task: (executor: CopyExecutor) => Promise<void>): void;
  /** A directory taken whole: its mode and mtime are set with the others at the end. */
  directory(rel: string, entry: Entry): void;
  /** A directory's contents are done: counts for the report, progress and statistics. */
  done(result: NativeDirResult): void;
  /** A job ended, whatever came of it (its share of the board's listing totals is reported). */
  ended(result: NativeDirResult): void;
  /** The source side could not be read; `blocksDeletion` unless the entry simply cannot be represented. */
  sourceFailure(rel: string, reason: string, blocksDeletion: boolean): void;
  /** A file copy that failed, as the batch path reports it (fatal: stop the run). */
  copyFailure(rel: string, reason: string, sourceSide: boolean, fatal: boolean): void;
  destinationFailure(rel: string, reason: string): void;
  /** A fresh directory that could not be put in place (it was counted as copied). */
  unmade(rel: string, reason: string): void;
  /** Mirror: an entry of the destination that the source lacks. */
  extra(rel: string, kind: EntryKind): void;
  /** A temp file found at the destination (removed when its writer is gone). */
  temp(rel: string): void;
  /** Entries of another kind on each side, in directory `rel`: the destination role decides. */
  conflicts(rel: string, names: string[]): void;
  /** True once the run is stopping: no more directories are started. */
  stopping(): boolean;
}

export class WholeDirs {
  /** Directories out on the copy threads. */
  private running = 0;
  /** Taken last in, first out: depth first, which also keeps this list short. */
  private readonly waiting: WaitingDir[] = [];
  private idleWaiter: (() => void) | undefined;
  private readonly compare: number;

  constructor(
    private readonly addon: NativeAddon,
    private readonly sink: WholeDirSink,
    /** `excludes`: --exclude patterns the copy threads apply themselves (filter.ts nativeExcludes). */
    private readonly options: {
      compare: CompareMode;
      mirror: boolean;
      excludes: string[];
      owners?: boolean;
      hardLinks: boolean;
      /** The xattr kinds kept (fsops/xattrs.ts keepMask). */
      keepXattrs: number;
      /** Entries changed before these (ms) on both sides need not have their xattrs read (perf/xattr-mark.ts). */
      xattrsUnchangedBefore?: { sourceMs: number; destinationMs: number };
    },
  ) {
    this.compare = addon.codes.compare[options.compare];
  }

  /** Fills `rel`, which the destination lacks, made empty under the temp path `stage`, and renames it. */
  fresh(rel: string, entry: Entry, stage: string): void {
    this.start(rel, entry, stage);
  }

  /** Brings `rel`, a directory on both sides, and everything below it up to date. */
  both(rel: string, entry: Entry): void {
    this.start(rel, entry);
  }

  /** Calls `then` once no directory is in flight (at once when none is). */
  whenIdle(then: () => void): void {
    if (this.pending === 0) then();
    else
      this.idleWaiter = () => {
        this.idleWaiter = undefined;
        then();
      };
  }

  /** Directories started and not finished, waiting ones included. */
  get pending(): number {
    return this.running + this.waiting.length;
  }

  private start(rel: string, entry: Entry, stage?: string): void {
    this.sink.directory(rel, entry);
    this.waiting.push({ rel, stage });
    this.pump();
  }

  /** Sends waiting directories to the copy threads while fewer than IN_FLIGHT are out. */
  private pump(): void {
    if (this.sink.stopping() && this.waiting.length > 0) {
      for (const dir of this.waiting.splice(0)) discardStage(dir.stage);
      if (this.pending === 0) this.idleWaiter?.();
    }
    while (this.running < IN_FLIGHT && this.waiting.length > 0) this.submit(this.waiting.pop()!);
  }

  private submit({ rel, stage }: WaitingDir): void {
    this.running++;
    // Runs inside the finishing job, so the session always has work out while directories wait.
    const settled = (next: boolean) => {
      this.running--;
      if (this.pending === 0) this.idleWaiter?.();
      else if (next) this.pump();
    };
    try {
      this.sink.run(async (executor) => {
        try {
          if (!(executor instanceof NativePool))
            throw new Error('whole directories need the native copy pool');
          const src = this.sink.sourcePath(rel);
          const dst = this.sink.destinationPath(rel);
          const sync =
            stage === undefined ? { compare: this.compare, mirror: this.options.mirror } : undefined;
          let result: NativeDirResult;
          try {
            result = await executor.copyDir(
              src,
              dst,
              stage ?? '',
              rel,
              sync,
              this.options.excludes,
              this.options.owners,
              this.options.hardLinks,
              this.options.keepXattrs,
              this.options.xattrsUnchangedBefore,
            );
          } catch (error) {
            // Dropped before it ran (the pool closed): its directory stays unmade.
            discardStage(stage);
            throw error;
          }
          this.finish(rel, stage, result);
        } finally {
          settled(true);
        }
      });
    } catch (error) {
      // The session failed already: nothing more is sent.
      settled(false);
      throw error;
    }
  }

  private finish(rel: string, stage: string | undefined, result: NativeDirResult): void {
    const { sink } = this;
    sink.ended(result);
    // Where what could not take its name stays, as a path in the transfer.
    const left = joinRel(parentRel(rel), basename(stage ?? ''));
    if (result.placeErrno) {
      sink.unmade(
        rel,
        `cannot move into place: ${this.reason(result.placeErrno)}; what it holds is left in ${left} (a later run removes it)`,
      );
    }
    if (result.listErrno !== 0) {
      sink.sourceFailure(rel, `cannot read directory: ${this.reason(result.listErrno)}`, true);
      return;
    }
    if (result.dstListErrno) {
      const name = this.addon.errnoName(result.dstListErrno);
      sink.destinationFailure(
        rel,
        name === 'ELOOP' || name === 'ENOTDIR'
          ? 'destination is not a directory (symbolic links are not followed); its contents were skipped'
          : `cannot read destination directory: ${this.reason(result.dstListErrno)}; its contents were skipped`,
      );
      return;
    }
    this.reportProblems(rel, result, left);
    for (const name of result.temps ?? []) if (typeof name === 'string') sink.temp(joinRel(rel, name));
    const extra = result.extra;
    const kinds = nativeKinds(this.addon);
    for (let i = 0; extra && i < extra.names.length; i++) {
      const name = extra.names[i]!;
      if (typeof name === 'string') sink.extra(joinRel(rel, name), kinds[extra.kinds[i]!] ?? 'other');
    }
    sink.done(result);
    const here = sink.destinationPath(rel);
    if (result.fatal || sink.stopping()) {
      // The run is ending: the subdirectories made empty for jobs that will not run go again, and
      // entries of another kind on each side are left for the next run.
      for (const name of result.dirs.stages) discardStage(join(here, name));
      return;
    }
    this.startAll(rel, result.dirs, (i) => join(here, result.dirs.stages[i]!));
    if (result.both) this.startAll(rel, result.both);
    const conflicts = (result.residual ?? []).filter((name): name is string => typeof name === 'string');
    if (conflicts.length > 0) sink.conflicts(rel, conflicts);
  }

  /** Starts a job per subdirectory; `stageOf` gives a fresh one's temp path (none: on both sides). */
  private startAll(
    rel: string,
    dirs: NonNullable<NativeDirResult['both']>,
    stageOf?: (index: number) => string,
  ): void {
    const { names, modes, mtimeNs } = dirs;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      // A name that is not UTF-8 was refused above.
      if (typeof name !== 'string') continue;
      const entry: Entry = { name, kind: 'dir', size: 0, mtimeNs: mtimeNs[i]!, mode: modes[i]! };
      const childRel = joinRel(rel, name);
      // Its xattrs and ACLs go on with its mode once its contents are in (finishDirectories).
      if (this.options.keepXattrs !== 0) entry.xattrs = sourceXattrs(this.sink.sourcePath(childRel));
      this.start(childRel, entry, stageOf?.(i));
    }
  }

  private reportProblems(rel: string, result: NativeDirResult, left: string): void {
    const { sink } = this;
    const PROBLEM = this.addon.codes.problem;
    const { names, kinds, status, errno, stage } = result.problems;
    for (let i = 0; i < names.length; i++) {
      const raw = names[i]!;
      const path = joinRel(rel, typeof raw === 'string' ? raw : describeRawName(raw));
      switch (kinds[i]) {
        case PROBLEM.name:
          sink.sourceFailure(path, NOT_UTF8_NAME, false);
          break;
        case PROBLEM.target:
          sink.sourceFailure(path, NOT_UTF8_TARGET, true);
          break;
        case PROBLEM.stat:
          sink.sourceFailure(path, this.reason(errno[i]!), true);
          break;
        case PROBLEM.copy: {
          const outcome = nativeOutcome(this.addon, path, status[i]!, errno[i]!, stage[i]!, 0);
          sink.copyFailure(
            path,
            outcome.reason ?? 'failed',
            outcome.sourceSide === true,
            outcome.fatal === true,
          );
          break;
        }
        case PROBLEM.link:
          sink.destinationFailure(path, `cannot create symbolic link: ${this.reason(errno[i]!)}`);
          break;
        case PROBLEM.mkdir:
          sink.destinationFailure(path, `cannot create directory: ${this.reason(errno[i]!)}`);
          break;
        case PROBLEM.place:
          // The directory appeared meanwhile and already holds this name.
          sink.destinationFailure(
            path,
            `cannot move into place: ${this.reason(errno[i]!)}; left in ${left} (a later run removes it)`,
          );
          break;
        default: // PROBLEM.meta
          sink.destinationFailure(path, `cannot set metadata: ${this.reason(errno[i]!)}`);
          break;
      }
    }
  }

  private reason(errno: number): string {
    return reasonOf(nativeErrnoError(this.addon, errno));
  }
}

/** A source directory's xattrs; unknown (none applied, none compared) when they cannot be read. */
function sourceXattrs(path: string): Entry['xattrs'] {
  try {
    return readXattrs(path);
  } catch {
    return undefined;
  }
}

/** Removes a staging directory made for a job that will not run (empty: nothing was put in it). */
function discardStage(stage: string | undefined): void {
  if (stage === undefined) return;
  try {
    rmdirSync(stage);
  } catch {
    // Gone, or not empty after all: then a later run removes it as a stale temp.
  }
}
