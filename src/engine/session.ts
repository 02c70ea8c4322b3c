/**
 * One transfer session: the source streams its manifest a directory at a time, the destination
 * answers each listing with what it needs, the scheduler copies it, and once the source reports
 * a complete scan a mirror's deletions are planned, confirmed and applied.
 */
import { dirname } from 'node:path';
import type { CopyJob, CopyOutcome } from '../fsops/copy-file.js';
import { type CopyExecutor, InlineExecutor, WorkerPool } from '../fsops/copy-pool.js';
import { nativeAddon, nativeErrnoError } from '../fsops/native.js';
import { NativePool } from '../fsops/native-pool.js';
import { countOwner, countOwners, keepsOwners, ownerToGive } from '../fsops/owner.js';
import { ReadAhead, type UpcomingDir } from '../fsops/read-ahead.js';
import { joinRel } from '../fsops/rel-path.js';
import type { RemovalStep } from '../fsops/remove-tree.js';
import { hasHoles } from '../fsops/sparse-blocks.js';
import { countCopyXattrs, countDirXattrs, keepMask } from '../fsops/xattrs.js';
import type { ActivityBoard } from '../util/activity-board.js';
import { loopTurns, nowMs } from '../util/clock.js';
import { BlitError, reasonOf, showPath } from '../util/errors.js';
import { hangIfInjected, slowDeletionIfInjected } from '../util/test-hang.js';
import { CopyScheduler } from './copy-scheduler.js';
import type { Endpoints } from './endpoints.js';
import { defaultPlan, type ExecutionPlan } from './execution-plan.js';
import { PRESERVE_ALL } from './fidelity.js';
import { buildFilter, nativeExcludes } from './filter.js';
import { type DeletionCandidate, type DirPlan, LocalDestination, type Need } from './local-destination.js';
import { LocalSource } from './local-source.js';
import { tryMoveByRename } from './move-by-rename.js';
import { newProgress, type Progress } from './progress.js';
import type { SourceListing } from './roles.js';
import { countListing, countSizes, emptySessionStats, type SessionStats } from './session-stats.js';
import { StallWatch } from './stall-watch.js';
import type { Action, Failure, TransferOptions, TransferReport } from './types.js';
import { WholeDirs } from './whole-dirs.js';

export interface SessionHooks {
  onAction?(action: Action): void;
  /** Asked once, with every deletion a mirror is about to make; false withholds them all. */
  confirmDeletions?(candidates: DeletionCandidate[]): Promise<boolean>;
  /** Counters the session keeps up to date while it runs. */
  progress?: Progress;
  /** Chooses the executor; tests use it to force inline or worker copying. */
  startExecutor?(tiny: boolean): CopyExecutor;
  /** Fast-path limits, worker count and batch sizes (perf history chooses them); defaults if absent. */
  plan?: ExecutionPlan;
  /** Called once when the session ends, fatal error or not, with what it measured. */
  onStats?(stats: SessionStats): void;
  /**
   * Entries changed before these times (ms since the epoch) on both sides need not have their xattrs
   * read: both trees were found equal since (perf/xattr-mark.ts). Used by the whole-directory jobs.
   */
  xattrsUnchangedBefore?: { sourceMs: number; destinationMs: number };
  /**
   * Aborted (with the signal's name as its reason) to stop the run: copies stop between files and
   * 64 MiB chunks, nothing is deleted, no temp file stays, and the session throws `interrupted`.
   */
  signal?: AbortSignal;
}

/** Tiny jobs inline; otherwise the addon's native copy threads, or worker threads without it. */
function defaultExecutor(tiny: boolean, workers: number, board: ActivityBoard): CopyExecutor {
  if (tiny || process.env.BLIT_INLINE_COPY === '1') return new InlineExecutor(board);
  const addon = nativeAddon();
  if (addon) return new NativePool(addon, workers, board);
  return new WorkerPool(workers, board.buffer);
}

export async function runTransfer(
  endpoints: Endpoints,
  options: TransferOptions,
  hooks: SessionHooks = {},
): Promise<TransferReport> {
  if (options.operation === 'mirror' && endpoints.sourceInsideTarget) {
    throw new BlitError(
      `${showPath(endpoints.target)}: the source ${showPath(endpoints.source)} lies inside this destination; a mirror would delete it`,
    );
  }
  const renamed = tryMoveByRename(endpoints, options);
  if (renamed) return renamed;
  const started = nowMs();
  const filter = buildFilter(options.filter);
  const single = endpoints.kind === 'single';
  const source = new LocalSource(endpoints, filter);
  const watch = new StallWatch();
  const board = watch.board;
  // Listing an action may block on a slow reader of stdout (`blit -v … | less`): waiting for it is
  // not a stall.
  const onAction = (action: Action) => {
    if (!hooks.onAction) return;
    board.pause(true);
    try {
      hooks.onAction(action);
    } finally {
      board.pause(false);
    }
  };
  const destination = new LocalDestination(
    single ? dirname(endpoints.target) : endpoints.target,
    filter,
    options,
    onAction,
  );
  const progress = hooks.progress ?? newProgress();
  progress.bytesWritten = () => board.bytesWritten();
  // What ended whole-directory jobs reported of the board's counters: the rest is jobs still running.
  let dirEntriesReported = 0;
  const listedReported = { entries: 0, bytes: 0, dirsDelta: 0 };
  progress.inJobs = () => {
    const listed = board.listed();
    return {
      listed: listed.entries - listedReported.entries,
      done: board.dirEntries() - dirEntriesReported,
      bytes: listed.bytes - listedReported.bytes,
      // A mirror's deferred entries (a directory where the destination has a file) are walked
      // after the deletions: their subtrees are unknown until then.
      unlistedDirs:
        (whole?.pending ?? 0) + listed.dirsDelta - listedReported.dirsDelta + destination.deferred.length,
    };
  };
  source.heldCopies = { waiting: () => scheduler.holding, send: () => scheduler.sendHeld() };
  source.onListing = (rel) => {
    board.set(0, `scan: listing ${showPath(rel === '' ? '.' : rel)}`);
    board.beat();
  };
  const copyFailures: Failure[] = [];
  let sourceReadFailed = false;
  let fatal: string | undefined;
  let bytes = 0;

  const plan = hooks.plan ?? defaultPlan();
  const stats: SessionStats = {
    ...emptySessionStats(),
    batchFiles: plan.batchFiles,
    batchBytes: plan.batchBytes,
  };
  let executorStartedAt = 0;
  let lastOutcomeAt = 0;

  /** Work came back from the copy threads. */
  const answered = () => {
    board.beat();
    lastOutcomeAt = nowMs();
    stats.executorStartMs ??= lastOutcomeAt - executorStartedAt;
  };

  const keepXattrs = keepMask(options.preserve ?? PRESERVE_ALL);
  const onOutcomes = (outcomes: CopyOutcome[], jobs: CopyJob[]) => {
    answered();
    progress.entriesDone += outcomes.length;
    for (const outcome of outcomes) {
      countOwner(destination.fidelity, outcome.owner);
      if (outcome.xattrBits && addon)
        countCopyXattrs(addon, outcome.xattrBits, outcome.xattrErrno ?? 0, destination.fidelity);
      switch (outcome.status) {
        case 'copied':
          destination.tally.copied++;
          if (outcome.sparse) destination.fidelity.applied('sparse');
          bytes += outcome.bytes;
          progress.bytesDone += outcome.bytes;
          progress.firstFileAt ??= nowMs();
          onAction({ kind: 'copy', path: outcome.rel });
          break;
        case 'updated':
          destination.tally.updated++;
          onAction({ kind: 'update', path: outcome.rel });
          break;
        case 'unchanged':
          destination.tally.skipped++;
          break;
        case 'failed':
          destination.copyFailed(outcome.rel);
          copyFailures.push({ path: outcome.rel, reason: outcome.reason ?? 'failed' });
          if (outcome.sourceSide) sourceReadFailed = true;
          if (outcome.fatal) fatal ??= `${showPath(destination.pathOf(outcome.rel))}: ${outcome.reason}`;
          break;
      }
    }
    if (outcomes.length < jobs.length && !fatal) fatal = 'copy stopped before finishing its batch';
  };

  const startExecutor = (tiny: boolean): CopyExecutor => {
    executorStartedAt = nowMs();
    const executor = hooks.startExecutor?.(tiny) ?? defaultExecutor(tiny, plan.workers, board);
    stats.executor = executor instanceof InlineExecutor ? 'inline' : 'pool';
    stats.workers = executor.size;
    return executor;
  };
  const scheduler = new CopyScheduler(
    startExecutor,
    onOutcomes,
    { files: plan.batchFiles, bytes: plan.batchBytes },
    { files: plan.inlineFiles, bytes: plan.inlineBytes },
  );
  const removeSource = options.operation === 'move';
  // Every wait of the session is a wait on the scheduler: a stall ends it there.
  let stallError: Error | undefined;
  watch.stalled.catch((error: Error) => {
    stallError = error;
    scheduler.abort(error);
  });
  // So does an interruption; the walk also checks for it at every directory.
  let interrupted: BlitError | undefined;
  /** What is being removed now, for the message of an interruption. */
  let deleting: 'deletions' | 'stale temps' | undefined;
  const interrupt = () => {
    const signal = String(hooks.signal?.reason ?? 'SIGINT');
    const what =
      deleting === 'deletions'
        ? 'deleting stopped where it was'
        : deleting === 'stale temps'
          ? "removing a dead run's temp directories stopped where it was"
          : 'files being copied were not installed and no temp file was left';
    interrupted = new BlitError(
      `interrupted (${signal}): ${what}; run again to finish`,
      signal === 'SIGTERM' ? 143 : 130,
    );
    board.cancel();
    scheduler.abort(interrupted);
  };
  if (hooks.signal?.aborted) interrupt();
  else hooks.signal?.addEventListener('abort', interrupt, { once: true });
  const throwIfInterrupted = () => {
    if (interrupted) throw interrupted;
  };
  // Mirror deletions run on this thread: each removal beats the stall detector, and every 20 ms
  // the event loop gets a turn, so a SIGINT stops a deletion of a million files.
  const turn = loopTurns(20);
  const deletionStep: RemovalStep = (rel) => {
    if (stallError) return Promise.reject(stallError);
    if (rel !== undefined) {
      board.set(0, `delete: removing ${showPath(rel)}`);
      hangIfInjected('delete', rel);
    }
    slowDeletionIfInjected();
    board.beat();
    return turn()?.then(throwIfInterrupted);
  };

  // Directories go whole to the copy threads (engine/whole-dirs.ts) where that changes nothing but
  // the speed.
  const addon = nativeAddon();
  // Excludes that match names alone go with the directories; other filters need the walk.
  const excludes = nativeExcludes(options.filter);
  const owners = keepsOwners(options.preserve?.owner);
  const whole =
    addon &&
    !single &&
    !options.dryRun &&
    !removeSource &&
    excludes !== undefined &&
    options.filter.minSize === undefined &&
    options.filter.maxSize === undefined &&
    !hooks.onAction &&
    !hooks.startExecutor &&
    process.env.BLIT_INLINE_COPY !== '1' &&
    // Tests compare both ways of copying a tree with it.
    process.env.BLIT_NO_WHOLE_DIRS !== '1'
      ? new WholeDirs(
          addon,
          {
            sourcePath: (rel) => source.localPathOf(rel),
            destinationPath: (rel) => destination.pathOf(rel),
            run: (task) => scheduler.runTask(task),
            directory: (rel, entry) => destination.adoptDirectory(rel, entry),
            done: (result) => {
              answered();
              destination.tally.copied += result.files + result.links + result.dirs.names.length;
              if (result.sparseFiles) destination.fidelity.applied('sparse', result.sparseFiles);
              if (result.specials) {
                destination.fidelity.applied('special', result.specials);
                destination.tally.copied += result.specials;
              }
              for (let i = 0; i < (result.specialRefused ?? 0); i++)
                destination.fidelity.failed('special', 'device files are made only as root');
              destination.tally.updated += result.updated ?? 0;
              countDirXattrs(addon, result.xattrs, destination.fidelity);
              destination.tally.skipped += result.others + (result.skipped ?? 0);
              bytes += result.bytes;
              dirEntriesReported += result.entries;
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
              listedReported.entries += result.listedEntries;
              listedReported.bytes += result.listedBytes;
              listedReported.dirsDelta += result.listDelta;
            },
            sourceFailure: (rel, reason, blocksDeletion) => source.fail(rel, reason, blocksDeletion),
            copyFailure: (rel, reason, sourceSide, isFatal) => {
              copyFailures.push({ path: rel, reason });
              if (sourceSide) sourceReadFailed = true;
              if (isFatal) fatal ??= `${showPath(destination.pathOf(rel))}: ${reason}`;
            },
            destinationFailure: (rel, reason) => destination.failures.push({ path: rel, reason }),
            unmade: (rel, reason) => {
              destination.failures.push({ path: rel, reason });
              destination.tally.copied--;
            },
            extra: (rel, kind) => destination.addCandidate(rel, kind),
            temp: (rel) => destination.removeStaleTemp(rel),
            conflicts: (rel, names) => {
              // Rare: the walk's own rules, for these entries alone.
              const wholeDirs = takesWhole();
              const plan = destination.reconcile(
                { rel, entries: source.entriesOf(rel, names), partial: true },
                wholeDirs,
              );
              if (wholeDirs) handOff(plan);
              const jobs = plan.needs.map(jobFor);
              if (jobs.length === 0) return;
              // Counted as done with their directory's job (done above): onOutcomes counts them
              // again once copied, as the walk's needs are counted.
              progress.entriesDone -= jobs.length;
              scheduler.runTask(async (executor) => onOutcomes(await executor.run(jobs), jobs));
            },
            stopping: () => fatal !== undefined || stallError !== undefined || interrupted !== undefined,
          },
          {
            compare: options.compare,
            mirror: options.operation === 'mirror',
            excludes,
            owners,
            hardLinks: options.preserve?.hardLinks ?? true,
            keepXattrs,
            xattrsUnchangedBefore: hooks.xattrsUnchangedBefore,
          },
        )
      : undefined;

  /** Whether directories go whole to the copy threads: not once a tiny job went inline (a mirror's deferred entries come after that). */
  const takesWhole = (): boolean =>
    whole !== undefined && (scheduler.started === undefined || scheduler.started instanceof NativePool);
  /** Directories the copy threads took whole: the walk does not go there. */
  const handedOff = new Set<string>();
  /** Hands a plan's directories to the copy threads; only for a plan reconciled with `takesWhole()` true. */
  const handOff = (plan: DirPlan) => {
    if (!whole) return;
    const take = (rel: string) => {
      source.skipSubtree(rel);
      handedOff.add(rel);
    };
    for (const dir of plan.freshDirs) {
      take(dir.rel);
      whole.fresh(dir.rel, dir.entry, dir.stage!);
    }
    for (const dir of plan.existingDirs) {
      take(dir.rel);
      whole.both(dir.rel, dir.entry);
    }
  };

  /** The copy job for a need of the destination, counted in progress and statistics. */
  const jobFor = (need: Need): CopyJob => {
    progress.bytesNeeded += need.entry.size;
    stats.jobs++;
    stats.jobBytes += need.entry.size;
    return {
      rel: need.rel,
      src: source.localPathOf(need.rel),
      dst: destination.pathOf(need.rel),
      size: need.entry.size,
      mtimeNs: need.entry.mtimeNs,
      mode: need.entry.mode,
      hashFirst: need.hashFirst,
      metadataMatches: need.metadataMatches,
      removeSource,
      owner: ownerToGive(need.entry, owners),
      keepXattrs,
      sparse: hasHoles(need.entry) || undefined,
    };
  };

  // Lists the directories the walk comes to next on background threads (source and destination).
  const readAhead = new ReadAhead();
  const readAheadFrom = (listing: SourceListing, plan: DirPlan) => {
    const blocked = new Set(plan.blocked);
    const existing = new Set(plan.existingDirs.map((dir) => dir.rel));
    const upcoming: UpcomingDir[] = [];
    for (const entry of listing.entries) {
      if (entry.kind !== 'dir') continue;
      const rel = joinRel(listing.rel, entry.name);
      if (blocked.has(rel) || handedOff.has(rel)) continue;
      // Read only where both sides will be listed: with the source alone (a fresh copy) the copy
      // threads have the cores, and reader threads would only take turns with them (no gain measured).
      const both = existing.has(rel);
      upcoming.push({ rel, paths: both ? [source.localPathOf(rel), destination.pathOf(rel)] : [] });
    }
    readAhead.found(upcoming);
  };

  const consume = async (listings: AsyncIterable<SourceListing>) => {
    let listingAsked = nowMs();
    for await (const listing of listings) {
      throwIfInterrupted();
      stats.listMs += nowMs() - listingAsked;
      progress.entriesFound += listing.entries.length;
      countListing(stats, listing.entries);
      readAhead.reached(listing.rel);
      const wholeDirs = takesWhole();
      const plan = destination.reconcile(listing, wholeDirs);
      for (const rel of plan.blocked) source.skipSubtree(rel);
      if (wholeDirs) handOff(plan);
      if (!single) readAheadFrom(listing, plan);
      progress.entriesDone += listing.entries.length - plan.needs.length;
      if (removeSource && !options.dryRun) {
        for (const rel of plan.landed) {
          const failure = source.remove(rel);
          if (failure) copyFailures.push(failure);
        }
      }
      for (const need of plan.needs) {
        if (options.dryRun) {
          progress.bytesNeeded += need.entry.size;
          onAction({ kind: need.hashFirst ? 'update' : 'copy', path: need.rel });
          destination.tally.copied++;
          bytes += need.entry.size;
          continue;
        }
        const job = jobFor(need);
        const wait = scheduler.add(job, need.entry.size);
        if (wait) await wait;
        if (fatal) return;
      }
      const wait = scheduler.nudge();
      if (wait) await wait;
      if (fatal) return;
      listingAsked = nowMs();
    }
  };

  /**
   * The later names of hard-link groups, once every copy is back (and a mirror's deferred entries
   * are in): linked to the first, or copied where they cannot be.
   */
  const linkFollowers = async () => {
    const { copy, landed } = destination.linkFollowers();
    if (removeSource && !options.dryRun) {
      for (const rel of landed) {
        const failure = source.remove(rel);
        if (failure) copyFailures.push(failure);
      }
    }
    if (copy.length === 0 || options.dryRun) return;
    const jobs = copy.map(jobFor);
    progress.entriesDone -= jobs.length;
    scheduler.runTask(async (executor) => onOutcomes(await executor.run(jobs), jobs));
    await scheduler.drain();
  };

  const confirm = async (candidates: DeletionCandidate[]): Promise<boolean> => {
    board.pause(true);
    try {
      return (await hooks.confirmDeletions?.(candidates)) ?? false;
    } finally {
      board.pause(false);
    }
  };

  let deletionsWithheld = 0;
  try {
    await consume(source.scan());
    progress.walkDone = true;
    readAhead.close();
    // The walk is done: what is in flight now is on the copy threads' own slots.
    board.set(0, '');
    progress.phase = 'copy';
    // New directories are listed on the copy threads: the scan is complete when they are all in.
    const scanned = () => {
      stats.scanMs = nowMs() - started;
      // A mirror's deferred entries are walked after the deletions: complete once they are.
      if (destination.deferred.length === 0) progress.scanComplete = true;
    };
    if (whole) whole.whenIdle(scanned);
    else scanned();
    await scheduler.drain();
    throwIfInterrupted();
    if (!fatal && options.operation === 'mirror') {
      const candidates = destination.candidates;
      if (candidates.length > 0) {
        const complete = source.scanComplete && !sourceReadFailed;
        const confirmed = complete && (options.dryRun || (await confirm(candidates)));
        throwIfInterrupted();
        if (confirmed) {
          progress.phase = 'delete';
          deleting = 'deletions';
          await destination.applyDeletions(candidates, deletionStep);
          deleting = undefined;
          board.set(0, '');
          progress.phase = 'copy';
          progress.walkDone = false;
          for (const deferred of destination.deferred.splice(0)) await consume(source.scan(deferred));
          progress.walkDone = true;
          await scheduler.drain();
          progress.scanComplete = true;
        } else {
          deletionsWithheld = candidates.length;
          const reason = complete
            ? 'not confirmed (use --yes to delete without asking)'
            : 'parts of the source could not be read';
          copyFailures.push({
            path: '.',
            reason: `${candidates.length} deletion(s) withheld: ${reason}`,
          });
        }
      }
    }
    if (!fatal) await linkFollowers();
    if (!fatal) {
      deleting = 'stale temps';
      await destination.removeStaleDirs(deletionStep);
      deleting = undefined;
      board.set(0, '');
    }
    progress.phase = 'finish';
    if (!fatal) destination.finishDirectories();
    if (!fatal && removeSource && !options.dryRun) copyFailures.push(...source.removeEmptyDirectories());
  } finally {
    readAhead.close();
    watch.stop();
    hooks.signal?.removeEventListener('abort', interrupt);
    // A stalled copy may never finish its system call: it is abandoned to the process exit.
    if (stallError) void scheduler.close(true);
    else {
      // Interrupted: the copiers stop at their next file or chunk and remove their temp files.
      if (interrupted) await scheduler.settle();
      await scheduler.close();
    }
    if (executorStartedAt > 0) stats.copyMs = Math.max(0, lastOutcomeAt - executorStartedAt);
    if (progress.firstFileAt !== undefined) stats.firstByteMs = progress.firstFileAt - started;
    stats.totalMs = nowMs() - started;
    hooks.onStats?.(stats);
  }
  progress.phase = 'done';
  if (fatal) throw new BlitError(fatal);

  const failures = [...source.failures, ...destination.failures, ...copyFailures];
  return {
    operation: options.operation,
    source: endpoints.source,
    destination: endpoints.target,
    dryRun: options.dryRun,
    ...destination.tally,
    failed: failures.length,
    bytes,
    elapsedMs: nowMs() - started,
    scanComplete: source.scanComplete,
    deletionsWithheld,
    failures,
    fidelity: destination.fidelity.report(),
  };
}
