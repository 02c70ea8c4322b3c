/**
 * One transfer session, whatever the machines: the source role streams its manifest a directory at
 * a time, the destination role plans each listing (what it needs, what it makes itself, what a
 * mirror may delete), the data path brings what it needs, and once the source reports a complete
 * scan a mirror's deletions are confirmed and applied. The same loop runs a local copy (local
 * roles, copy threads), the daemon's half of a push and the client's half of a pull (a remote
 * source proxy, data from the peer): the rules live in the roles, the session only joins them.
 */
import type { RemovalStep } from '../fsops/remove-tree.js';
import type { ActivityBoard } from '../util/activity-board.js';
import { loopTurns, nowMs } from '../util/clock.js';
import { BlitError, showPath } from '../util/errors.js';
import { faults } from '../util/faults.js';
import type { DataPath, FileEvents } from './data-path.js';
import type { DeletionCandidate, Need } from './local-destination.js';
import { newProgress, type Progress } from './progress.js';
import type { DestinationRole, FreshListing, SourceListing, SourceRole } from './roles.js';
import { countListing, countSizes, type SessionStats } from './session-stats.js';
import type { Action, Failure, TransferOptions, TransferReport } from './types.js';

export interface SessionHooks {
  onAction?(action: Action): void;
  /** Files copied without an action each (DataPath.fetchFresh's): how many. */
  onCopied?(count: number): void;
  /** Asked once, with every deletion a mirror is about to make; false withholds them all. */
  confirmDeletions?(candidates: DeletionCandidate[]): Promise<boolean>;
  /** Counters the session keeps up to date while it runs. */
  progress?: Progress;
  /** Filled with what the session measured (perf history), when given. */
  stats?: SessionStats;
  /**
   * The stall detector's board (local runs): the session beats it while it deletes and pauses it
   * while it waits for a reader of its actions or for an answer to its prompt.
   */
  board?: ActivityBoard;
  /** Rejects when the stall detector fires: the session ends with that error. */
  stalled?: Promise<never>;
  /** The session's work is over (the stall detector stops), before the data path closes. */
  ending?(): void;
  /**
   * Aborted (with the signal's name as its reason) to stop the run: copies stop between files and
   * 64 MiB chunks, nothing is deleted, no temp file stays, and the session throws `interrupted`.
   */
  signal?: AbortSignal;
}

/** What a session reports; the caller adds the paths it was given. */
export type SessionReport = Omit<TransferReport, 'source' | 'destination'>;

export async function runTransfer(
  source: SourceRole,
  destination: DestinationRole,
  data: DataPath,
  options: TransferOptions,
  hooks: SessionHooks = {},
): Promise<SessionReport> {
  const started = nowMs();
  const board = hooks.board;
  const progress = hooks.progress ?? newProgress();
  const stats = hooks.stats;
  const move = options.operation === 'move' && !options.dryRun;
  /** Waiting on a reader of the actions or on the user is not a stall (ActivityBoard.whilePaused). */
  const paused = <T>(wait: () => T): T => (board ? board.whilePaused(wait) : wait());
  const onAction = (action: Action) => {
    if (hooks.onAction) paused(() => hooks.onAction!(action));
  };
  const copyFailures: Failure[] = [];
  /** Counted here from the data path's events; the destination's own tally adds what it did itself. */
  const files = { copied: 0, skipped: 0, updated: 0 };
  let bytes = 0;
  let sourceReadFailed = false;

  /** A move's source entry whose copy is in place goes; a failure to remove it is reported. */
  const removeSource = (rel: string) => {
    const failure = source.remove(rel);
    if (failure) copyFailures.push(failure);
  };
  const settledFile = (rel: string) => {
    progress.entriesDone++;
    if (move && !data.removesMovedSources) removeSource(rel);
  };
  const events: FileEvents = {
    copied(rel, size) {
      files.copied++;
      bytes += size;
      progress.bytesDone += size;
      progress.firstFileAt ??= nowMs();
      onAction({ kind: 'copy', path: rel });
      settledFile(rel);
    },
    updated(rel) {
      files.updated++;
      onAction({ kind: 'update', path: rel });
      settledFile(rel);
    },
    unchanged(rel) {
      files.skipped++;
      settledFile(rel);
    },
    failed(failure, how = {}) {
      if (!how.counted) progress.entriesDone++;
      destination.copyFailed(failure.path);
      copyFailures.push(failure);
      if (how.sourceSide) sourceReadFailed = true;
    },
    copiedMany(count, size) {
      files.copied += count;
      bytes += size;
      progress.bytesDone += size;
      progress.entriesDone += count;
      progress.firstFileAt ??= nowMs();
      hooks.onCopied?.(count);
    },
    counted(counts) {
      files.copied += counts.copied ?? 0;
      files.updated += counts.updated ?? 0;
      files.skipped += counts.skipped ?? 0;
      bytes += counts.bytes ?? 0;
    },
  };
  data.begin(events);
  /** Nothing more can be written (the data path says why): the session ends with that. */
  const stopping = () => data.fatal !== undefined;

  // A stall or an interruption stops the data path; the walk also checks for them at every directory.
  let stallError: Error | undefined;
  hooks.stalled?.catch((error: Error) => {
    stallError = error;
    data.abort(error);
  });
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
    board?.cancel();
    data.abort(interrupted);
  };
  if (hooks.signal?.aborted) interrupt();
  else hooks.signal?.addEventListener('abort', interrupt, { once: true });
  const throwIfInterrupted = () => {
    if (interrupted) throw interrupted;
  };
  // Deletions run on this thread: each removal beats the stall detector, and every 20 ms the event
  // loop gets a turn, so a SIGINT stops a deletion of a million files.
  const turn = loopTurns(20);
  const deletionStep: RemovalStep = (rel) => {
    if (stallError) return Promise.reject(stallError);
    if (rel !== undefined) {
      board?.set(0, `delete: removing ${showPath(rel)}`);
      faults.hang('delete', rel);
    }
    faults.slowDeletion();
    board?.beat();
    return turn()?.then(throwIfInterrupted);
  };

  /** Asks the data path for one needed file (a dry run only counts it). */
  const ask = (need: Need): Promise<void> | undefined => {
    progress.bytesNeeded += need.entry.size;
    if (options.dryRun) {
      onAction({ kind: need.hashFirst ? 'update' : 'copy', path: need.rel });
      files.copied++;
      bytes += need.entry.size;
      progress.entriesDone++;
      return undefined;
    }
    if (stats) {
      stats.jobs++;
      stats.jobBytes += need.entry.size;
    }
    return data.fetch(need);
  };

  /** Asks the data path for a listing's table of small files, all needed (SourceListing.fresh). */
  const askFresh = (listing: SourceListing, fresh: FreshListing): Promise<void> | undefined => {
    progress.bytesNeeded += fresh.bytes;
    if (stats) {
      stats.jobs += fresh.count;
      stats.jobBytes += fresh.bytes;
    }
    if (!data.fetchFresh) throw new Error('a table of small files for a data path that takes none');
    return data.fetchFresh(listing, fresh);
  };

  const consume = async (listings: AsyncIterable<SourceListing>) => {
    let listingAsked = nowMs();
    for await (const listing of listings) {
      throwIfInterrupted();
      const { unchanged, fresh } = listing;
      if (stats) {
        stats.listMs += nowMs() - listingAsked;
        if (unchanged) {
          countSizes(stats, unchanged.count, unchanged.fileSizes);
          stats.unchangedDirs++;
        } else countListing(stats, listing.entries);
        if (fresh) countSizes(stats, fresh.count, fresh.sizes);
      }
      const count = unchanged ? unchanged.count : listing.entries.length + (fresh?.count ?? 0);
      progress.entriesFound += count;
      const wholeDirs = data.takesWhole();
      const plan = destination.reconcile(listing, wholeDirs);
      for (const rel of plan.blocked) source.skipSubtree(rel);
      data.planned(listing, plan, wholeDirs);
      progress.entriesDone += count - plan.needs.length - (fresh?.count ?? 0);
      if (move) for (const rel of plan.landed) removeSource(rel);
      // A table first: asked whole, it then fits below the files asked at most (the needs after it wait).
      if (fresh) {
        const wait = askFresh(listing, fresh);
        if (wait) await wait;
        if (stopping()) return;
      }
      for (const need of plan.needs) {
        const wait = ask(need);
        if (wait) await wait;
        if (stopping()) return;
      }
      const wait = data.flush();
      if (wait) await wait;
      if (stopping()) return;
      listingAsked = nowMs();
    }
  };

  /**
   * The later names of hard-link groups, once every copy is back (and a mirror's deferred entries
   * are in): linked to the first, or copied where they cannot be.
   */
  const linkFollowers = async () => {
    const { copy, landed } = destination.linkFollowers();
    if (move) for (const rel of landed) removeSource(rel);
    if (copy.length === 0) return;
    // Counted as done with their listing: counted again once they settle.
    progress.entriesDone -= copy.length;
    for (const need of copy) {
      const wait = ask(need);
      if (wait) await wait;
    }
    await data.flush();
    await data.drain();
  };

  let deletionsWithheld = 0;
  let finished = false;
  try {
    await consume(source.scan());
    progress.walkDone = true;
    // The walk is done: what is in flight now is on the data path.
    board?.set(0, '');
    progress.phase = 'copy';
    data.walkEnded(() => {
      if (stats) stats.scanMs = nowMs() - started;
      // A mirror's deferred entries are walked after the deletions: complete once they are.
      if (destination.deferred.length === 0) progress.scanComplete = true;
    });
    await data.drain();
    throwIfInterrupted();
    if (!stopping() && options.operation === 'mirror') {
      const candidates = destination.candidates;
      if (candidates.length > 0) {
        const complete = source.scanComplete && !sourceReadFailed && !source.readFailed;
        const confirmed =
          complete &&
          (options.dryRun ||
            (await paused(async () => (await hooks.confirmDeletions?.(candidates)) ?? false)));
        throwIfInterrupted();
        if (confirmed) {
          progress.phase = 'delete';
          deleting = 'deletions';
          await destination.applyDeletions(candidates, deletionStep);
          deleting = undefined;
          board?.set(0, '');
          progress.phase = 'copy';
          const deferred = destination.deferred.splice(0);
          if (deferred.length > 0) {
            progress.walkDone = false;
            await consume(source.scanAgain(deferred));
            progress.walkDone = true;
            await data.drain();
          }
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
    if (!stopping()) await linkFollowers();
    if (!stopping()) {
      deleting = 'stale temps';
      await destination.removeStaleDirs(deletionStep);
      deleting = undefined;
      board?.set(0, '');
    }
    progress.phase = 'finish';
    if (!stopping()) destination.finishDirectories();
    if (!stopping() && move) copyFailures.push(...source.removeEmptyDirectories());
    finished = !stopping();
  } catch (error) {
    // The session failed: the data path takes no more work (nor, remotely, the peer's frames).
    if (!interrupted && !stallError) data.abort(error as Error);
    throw error;
  } finally {
    hooks.signal?.removeEventListener('abort', interrupt);
    // Before the close, which after an interruption waits for the copies to clean up (a hung one
    // may take long): that wait is not a stall.
    hooks.ending?.();
    await data.close(stallError ? 'stalled' : interrupted ? 'interrupted' : finished ? 'finished' : 'failed');
    if (stats) {
      if (progress.firstFileAt !== undefined) stats.firstByteMs = progress.firstFileAt - started;
      stats.totalMs = nowMs() - started;
    }
  }
  progress.phase = 'done';
  if (data.fatal) throw new BlitError(data.fatal);

  const failures = [...source.failures, ...destination.failures, ...copyFailures];
  const tally = destination.tally;
  return {
    operation: options.operation,
    dryRun: options.dryRun,
    copied: tally.copied + files.copied,
    skipped: tally.skipped + files.skipped,
    updated: tally.updated + files.updated,
    deleted: tally.deleted,
    failed: failures.length,
    bytes,
    elapsedMs: nowMs() - started,
    scanComplete: source.scanComplete,
    deletionsWithheld,
    failures,
    fidelity: destination.fidelity.report(),
  };
}
