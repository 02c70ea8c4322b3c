/**
 * A transfer within one machine: the local source and destination roles, joined by the copy threads
 * (transport/in-process), under the stall detector. A move to a new path on the same file system is
 * one rename instead.
 */
import { dirname } from 'node:path';
import type { Endpoints } from '../../engine/endpoints.js';
import { defaultPlan, type ExecutionPlan } from '../../engine/execution-plan.js';
import { buildFilter } from '../../engine/filter.js';
import { LocalDestination } from '../../engine/local-destination.js';
import { LocalSource } from '../../engine/local-source.js';
import { tryMoveByRename } from '../../engine/move-by-rename.js';
import { newProgress } from '../../engine/progress.js';
import { runTransfer, type SessionHooks } from '../../engine/session.js';
import { emptySessionStats, type SessionStats } from '../../engine/session-stats.js';
import { StallWatch } from '../../engine/stall-watch.js';
import type { Action, TransferOptions, TransferReport } from '../../engine/types.js';
import type { CopyExecutor } from '../../fsops/copy-pool.js';
import { BlitError, showPath } from '../../util/errors.js';
import { CopyThreads } from './copy-threads.js';

export interface LocalTransferHooks extends Omit<SessionHooks, 'stats' | 'board' | 'stalled' | 'ending'> {
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
}

export async function transferLocally(
  endpoints: Endpoints,
  options: TransferOptions,
  hooks: LocalTransferHooks = {},
): Promise<TransferReport> {
  if (options.operation === 'mirror' && endpoints.sourceInsideTarget) {
    throw new BlitError(
      `${showPath(endpoints.target)}: the source ${showPath(endpoints.source)} lies inside this destination; a mirror would delete it`,
    );
  }
  const renamed = tryMoveByRename(endpoints, options);
  if (renamed) return renamed;
  const filter = buildFilter(options.filter);
  const single = endpoints.kind === 'single';
  const watch = new StallWatch();
  const progress = hooks.progress ?? newProgress();
  const stats = emptySessionStats();
  const source = new LocalSource(endpoints, filter);
  // Listing an action may block on a slow reader of stdout (`blit -v … | less`): not a stall.
  const onAction = (action: Action) => {
    if (hooks.onAction) watch.board.whilePaused(() => hooks.onAction!(action));
  };
  const destination = new LocalDestination(
    single ? dirname(endpoints.target) : endpoints.target,
    filter,
    options,
    onAction,
  );
  const data = new CopyThreads(source, destination, options, single, {
    plan: hooks.plan ?? defaultPlan(),
    board: watch.board,
    progress,
    stats,
    startExecutor: hooks.startExecutor,
    listsActions: hooks.onAction !== undefined,
    xattrsUnchangedBefore: hooks.xattrsUnchangedBefore,
  });
  try {
    const report = await runTransfer(source, destination, data, options, {
      ...hooks,
      progress,
      stats,
      board: watch.board,
      stalled: watch.stalled,
      ending: () => watch.stop(),
    });
    return { ...report, source: endpoints.source, destination: endpoints.target };
  } finally {
    watch.stop();
    hooks.onStats?.(stats);
  }
}
