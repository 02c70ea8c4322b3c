/**
 * The data path of a transfer within one machine: the copy threads read each needed file from the
 * source and write it to the destination (the addon's native threads, worker threads without it,
 * inline for a handful of files). Where that changes nothing but the speed, whole directories go to
 * the copy threads (engine/whole-dirs.ts), and the directories the walk comes to next are listed
 * ahead on background threads (fsops/read-ahead.ts).
 */

import { CopyScheduler } from '../../engine/copy-scheduler.js';
import type { DataPath, FileEvents } from '../../engine/data-path.js';
import type { ExecutionPlan } from '../../engine/execution-plan.js';
import { PRESERVE_ALL } from '../../engine/fidelity.js';
import { nativeExcludes } from '../../engine/filter.js';
import type { DirPlan, LocalDestination, Need } from '../../engine/local-destination.js';
import type { LocalSource } from '../../engine/local-source.js';
import type { Progress } from '../../engine/progress.js';
import type { SourceListing } from '../../engine/roles.js';
import { countSizes, type SessionStats } from '../../engine/session-stats.js';
import type { TransferOptions } from '../../engine/types.js';
import { WholeDirs } from '../../engine/whole-dirs.js';
import type { CopyJob, CopyOutcome } from '../../fsops/copy-file.js';
import { type CopyExecutor, InlineExecutor, WorkerPool } from '../../fsops/copy-pool.js';
import { type NativeAddon, nativeAddon, nativeErrnoError } from '../../fsops/native.js';
import { NativePool } from '../../fsops/native-pool.js';
import { countOwner, countOwners, keepsOwners, ownerToGive } from '../../fsops/owner.js';
import { ReadAhead, type UpcomingDir } from '../../fsops/read-ahead.js';
import { joinRel } from '../../fsops/rel-path.js';
import { hasHoles } from '../../fsops/sparse-blocks.js';
import { countCopyXattrs, countDirXattrs, keepMask } from '../../fsops/xattrs.js';
import type { ActivityBoard } from '../../util/activity-board.js';
import { nowMs } from '../../util/clock.js';
import { reasonOf, showPath } from '../../util/errors.js';

export interface CopyThreadsOptions {
  /** Fast-path limits, worker count and batch sizes (perf history chooses them). */
  plan: ExecutionPlan;
  /** The stall detector's board: the copy threads beat it. */
  board: ActivityBoard;
  progress: Progress;
  stats: SessionStats;
  /** Chooses the executor; tests use it to force inline or worker copying. */
  startExecutor?(tiny: boolean): CopyExecutor;
  /** Actions are listed one by one (-v, --json): no whole-directory jobs, which report counts only. */
  listsActions: boolean;
  /**
   * Entries changed before these times (ms since the epoch) on both sides need not have their xattrs
   * read: both trees were found equal since (perf/xattr-mark.ts). Used by the whole-directory jobs.
   */
  xattrsUnchangedBefore?: { sourceMs: number; destinationMs: number };
}

/** Tiny jobs inline; otherwise the addon's native copy threads, or worker threads without it. */
function defaultExecutor(tiny: boolean, workers: number, board: ActivityBoard): CopyExecutor {
  if (tiny || process.env.BLIT_INLINE_COPY === '1') return new InlineExecutor(board);
  const addon = nativeAddon();
  if (addon) return new NativePool(addon, workers, board);
  return new WorkerPool(workers, board.buffer);
}

export class CopyThreads implements DataPath {
  readonly removesMovedSources = true;
  private events!: FileEvents;
  private fatalReason: string | undefined;
  private readonly scheduler: CopyScheduler;
  private readonly whole: WholeDirs | undefined;
  private readonly readAhead = new ReadAhead();
  /** Directories the copy threads took whole: the walk does not go there. */
  private readonly handedOff = new Set<string>();
  private readonly addon = nativeAddon();
  private readonly owners: boolean;
  private readonly keepXattrs: number;
  /** Stalled or interrupted: whole-directory jobs stop where they are. */
  private aborted = false;
  private executorStartedAt = 0;
  private lastOutcomeAt = 0;

  constructor(
    private readonly source: LocalSource,
    private readonly destination: LocalDestination,
    private readonly options: TransferOptions,
    private readonly single: boolean,
    private readonly opts: CopyThreadsOptions,
  ) {
    const { plan, board, progress, stats } = opts;
    stats.batchFiles = plan.batchFiles;
    stats.batchBytes = plan.batchBytes;
    this.owners = keepsOwners(options.preserve?.owner);
    this.keepXattrs = keepMask(options.preserve ?? PRESERVE_ALL);
    this.scheduler = new CopyScheduler(
      (tiny) => this.startExecutor(tiny),
      (outcomes, jobs) => this.onOutcomes(outcomes, jobs),
      { files: plan.batchFiles, bytes: plan.batchBytes },
      { files: plan.inlineFiles, bytes: plan.inlineBytes },
    );
    source.heldCopies = { waiting: () => this.scheduler.holding, send: () => this.scheduler.sendHeld() };
    source.onListing = (rel) => {
      board.set(0, `scan: listing ${showPath(rel === '' ? '.' : rel)}`);
      board.beat();
    };
    // Excludes that match names alone go with the directories; other filters need the walk.
    const excludes = nativeExcludes(options.filter);
    const addon = this.addon;
    this.whole =
      addon &&
      !single &&
      !options.dryRun &&
      options.operation !== 'move' &&
      excludes !== undefined &&
      options.filter.minSize === undefined &&
      options.filter.maxSize === undefined &&
      !opts.listsActions &&
      !opts.startExecutor &&
      process.env.BLIT_INLINE_COPY !== '1' &&
      // Tests compare both ways of copying a tree with it.
      process.env.BLIT_NO_WHOLE_DIRS !== '1'
        ? this.wholeDirs(addon, excludes)
        : undefined;
    progress.bytesWritten = () => board.bytesWritten();
    // What ended whole-directory jobs reported of the board's counters: the rest is jobs still running.
    progress.inJobs = () => {
      const listed = board.listed();
      return {
        listed: listed.entries - this.listedReported.entries,
        done: board.dirEntries() - this.dirEntriesReported,
        bytes: listed.bytes - this.listedReported.bytes,
        // A mirror's deferred entries (a directory where the destination has a file) are walked
        // after the deletions: their subtrees are unknown until then.
        unlistedDirs:
          (this.whole?.pending ?? 0) +
          listed.dirsDelta -
          this.listedReported.dirsDelta +
          destination.deferred.length,
      };
    };
  }

  private dirEntriesReported = 0;
  private readonly listedReported = { entries: 0, bytes: 0, dirsDelta: 0 };

  begin(events: FileEvents): void {
    this.events = events;
  }

  get fatal(): string | undefined {
    return this.fatalReason;
  }

  /** Work came back from the copy threads. */
  private answered(): void {
    this.opts.board.beat();
    this.lastOutcomeAt = nowMs();
    this.opts.stats.executorStartMs ??= this.lastOutcomeAt - this.executorStartedAt;
  }

  private startExecutor(tiny: boolean): CopyExecutor {
    const { plan, board, stats } = this.opts;
    this.executorStartedAt = nowMs();
    const executor = this.opts.startExecutor?.(tiny) ?? defaultExecutor(tiny, plan.workers, board);
    stats.executor = executor instanceof InlineExecutor ? 'inline' : 'pool';
    stats.workers = executor.size;
    return executor;
  }

  private fail(rel: string, reason: string, sourceSide: boolean, isFatal: boolean, counted = false): void {
    if (isFatal) this.fatalReason ??= `${showPath(this.destination.pathOf(rel))}: ${reason}`;
    this.events.failed({ path: rel, reason }, { sourceSide, counted });
  }

  private onOutcomes(outcomes: CopyOutcome[], jobs: CopyJob[]): void {
    this.answered();
    const { addon, destination, events } = this;
    for (const outcome of outcomes) {
      countOwner(destination.fidelity, outcome.owner);
      if (outcome.xattrBits && addon)
        countCopyXattrs(addon, outcome.xattrBits, outcome.xattrErrno ?? 0, destination.fidelity);
      switch (outcome.status) {
        case 'copied':
          if (outcome.sparse) destination.fidelity.applied('sparse');
          events.copied(outcome.rel, outcome.bytes);
          break;
        case 'updated':
          events.updated(outcome.rel);
          break;
        case 'unchanged':
          events.unchanged(outcome.rel);
          break;
        case 'failed':
          this.fail(
            outcome.rel,
            outcome.reason ?? 'failed',
            outcome.sourceSide ?? false,
            outcome.fatal ?? false,
          );
          break;
      }
    }
    if (outcomes.length < jobs.length) this.fatalReason ??= 'copy stopped before finishing its batch';
  }

  /** The copy job for a need of the destination. */
  private jobFor(need: Need): CopyJob {
    return {
      rel: need.rel,
      src: this.source.localPathOf(need.rel),
      dst: this.destination.pathOf(need.rel),
      size: need.entry.size,
      mtimeNs: need.entry.mtimeNs,
      mode: need.entry.mode,
      hashFirst: need.hashFirst,
      metadataMatches: need.metadataMatches,
      removeSource: this.options.operation === 'move',
      owner: ownerToGive(need.entry, this.owners),
      keepXattrs: this.keepXattrs,
      sparse: hasHoles(need.entry) || undefined,
    };
  }

  takesWhole(): boolean {
    const started = this.scheduler.started;
    // Not once a tiny job went inline (a mirror's deferred entries come after that).
    return this.whole !== undefined && (started === undefined || started instanceof NativePool);
  }

  planned(listing: SourceListing, plan: DirPlan, wholeDirs: boolean): void {
    this.readAhead.reached(listing.rel);
    if (wholeDirs) this.handOff(plan);
    if (!this.single) this.readAheadFrom(listing, plan);
  }

  fetch(need: Need): Promise<void> | undefined {
    return this.scheduler.add(this.jobFor(need), need.entry.size);
  }

  flush(): Promise<void> | undefined {
    return this.scheduler.nudge();
  }

  walkEnded(scanned: () => void): void {
    this.readAhead.close();
    // New directories are listed on the copy threads: the scan is complete when they are all in.
    if (this.whole) this.whole.whenIdle(scanned);
    else scanned();
  }

  drain(): Promise<void> {
    return this.scheduler.drain();
  }

  abort(error: Error): void {
    this.aborted = true;
    this.scheduler.abort(error);
  }

  async close(how: 'finished' | 'failed' | 'interrupted' | 'stalled'): Promise<void> {
    this.readAhead.close();
    const { stats } = this.opts;
    // A stalled copy may never finish its system call: it is abandoned to the process exit.
    if (how === 'stalled') void this.scheduler.close(true);
    else {
      // Interrupted: the copiers stop at their next file or chunk and remove their temp files.
      if (how === 'interrupted') await this.scheduler.settle();
      await this.scheduler.close();
    }
    if (this.executorStartedAt > 0) stats.copyMs = Math.max(0, this.lastOutcomeAt - this.executorStartedAt);
  }

  /** Hands a plan's directories to the copy threads; only for a plan reconciled with `takesWhole()` true. */
  private handOff(plan: DirPlan): void {
    const whole = this.whole;
    if (!whole) return;
    const take = (rel: string) => {
      this.source.skipSubtree(rel);
      this.handedOff.add(rel);
    };
    for (const dir of plan.freshDirs) {
      take(dir.rel);
      whole.fresh(dir.rel, dir.entry, dir.stage!);
    }
    for (const dir of plan.existingDirs) {
      take(dir.rel);
      whole.both(dir.rel, dir.entry);
    }
  }

  /** Lists the directories the walk comes to next on background threads (source and destination). */
  private readAheadFrom(listing: SourceListing, plan: DirPlan): void {
    const blocked = new Set(plan.blocked);
    const existing = new Set(plan.existingDirs.map((dir) => dir.rel));
    const upcoming: UpcomingDir[] = [];
    for (const entry of listing.entries) {
      if (entry.kind !== 'dir') continue;
      const rel = joinRel(listing.rel, entry.name);
      if (blocked.has(rel) || this.handedOff.has(rel)) continue;
      // Read only where both sides will be listed: with the source alone (a fresh copy) the copy
      // threads have the cores, and reader threads would only take turns with them (no gain measured).
      const both = existing.has(rel);
      upcoming.push({
        rel,
        paths: both ? [this.source.localPathOf(rel), this.destination.pathOf(rel)] : [],
      });
    }
    this.readAhead.found(upcoming);
  }

  /** Whole directories on the copy threads, counted as the walk's entries are. */
  private wholeDirs(addon: NativeAddon, excludes: string[]): WholeDirs {
    const { source, destination, scheduler } = this;
    const { progress, stats } = this.opts;
    return new WholeDirs(
      addon,
      {
        sourcePath: (rel) => source.localPathOf(rel),
        destinationPath: (rel) => destination.pathOf(rel),
        run: (task) => scheduler.runTask(task),
        directory: (rel, entry) => destination.adoptDirectory(rel, entry),
        done: (result) => {
          this.answered();
          if (result.sparseFiles) destination.fidelity.applied('sparse', result.sparseFiles);
          if (result.specials) destination.fidelity.applied('special', result.specials);
          for (let i = 0; i < (result.specialRefused ?? 0); i++)
            destination.fidelity.failed('special', 'device files are made only as root');
          countDirXattrs(addon, result.xattrs, destination.fidelity);
          this.events.counted({
            copied: result.files + result.links + result.dirs.names.length + (result.specials ?? 0),
            updated: result.updated ?? 0,
            skipped: result.others + (result.skipped ?? 0),
            bytes: result.bytes,
          });
          this.dirEntriesReported += result.entries;
          progress.entriesFound += result.entries;
          progress.entriesDone += result.entries;
          progress.bytesNeeded += result.bytes;
          progress.bytesDone += result.bytes;
          if (result.files > 0) progress.firstFileAt ??= nowMs();
          countSizes(stats, result.entries, result.sizes);
          stats.wholeDirs++;
          stats.jobs += result.handled;
          stats.jobBytes += result.handledBytes;
          countOwners(destination.fidelity, result.owners, (errno) =>
            reasonOf(nativeErrnoError(addon, errno)),
          );
        },
        ended: (result) => {
          stats.sourceCtimeMaxMs = Math.max(stats.sourceCtimeMaxMs ?? 0, result.sourceCtimeMaxMs ?? 0);
          stats.xattrsUnread += result.xattrsDeferred ?? 0;
          this.listedReported.entries += result.listedEntries;
          this.listedReported.bytes += result.listedBytes;
          this.listedReported.dirsDelta += result.listDelta;
        },
        sourceFailure: (rel, reason, blocksDeletion) => source.fail(rel, reason, blocksDeletion),
        copyFailure: (rel, reason, sourceSide, isFatal) => this.fail(rel, reason, sourceSide, isFatal, true),
        destinationFailure: (rel, reason) => destination.failures.push({ path: rel, reason }),
        unmade: (rel, reason) => {
          destination.failures.push({ path: rel, reason });
          this.events.counted({ copied: -1 });
        },
        extra: (rel, kind) => destination.addCandidate(rel, kind),
        temp: (rel) => destination.removeStaleTemp(rel),
        conflicts: (rel, names) => {
          // Rare: the walk's own rules, for these entries alone.
          const wholeDirs = this.takesWhole();
          const plan = destination.reconcile(
            { rel, entries: source.entriesOf(rel, names), partial: true },
            wholeDirs,
          );
          if (wholeDirs) this.handOff(plan);
          const jobs = plan.needs.map((need) => {
            progress.bytesNeeded += need.entry.size;
            stats.jobs++;
            stats.jobBytes += need.entry.size;
            return this.jobFor(need);
          });
          if (jobs.length === 0) return;
          // Counted as done with their directory's job (done above): onOutcomes counts them
          // again once copied, as the walk's needs are counted.
          progress.entriesDone -= jobs.length;
          scheduler.runTask(async (executor) => this.onOutcomes(await executor.run(jobs), jobs));
        },
        stopping: () => this.fatalReason !== undefined || this.aborted,
      },
      {
        compare: this.options.compare,
        mirror: this.options.operation === 'mirror',
        excludes,
        owners: this.owners,
        hardLinks: this.options.preserve?.hardLinks ?? true,
        keepXattrs: this.keepXattrs,
        xattrsUnchangedBefore: this.opts.xattrsUnchangedBefore,
      },
    );
  }
}
