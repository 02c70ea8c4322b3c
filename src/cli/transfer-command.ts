/** `blit copy|mirror|move`: turns flags into transfer options, runs the session, reports. */
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { resolveEndpoints, sourcePath } from '../engine/endpoints.js';
import { PRESERVE_ALL } from '../engine/fidelity.js';
import type { DeletionCandidate } from '../engine/local-destination.js';
import { newProgress, type Progress } from '../engine/progress.js';
import type {
  Action,
  CompareMode,
  FilterSpec,
  Operation,
  TransferOptions,
  TransferReport,
} from '../engine/types.js';
import { nativeAddon } from '../fsops/native.js';
import { localProbe } from '../fsops/path-probe.js';
import { readTreeAhead } from '../fsops/read-ahead.js';
import { isSafeRel } from '../fsops/rel-path.js';
import { keepMask } from '../fsops/xattrs.js';
import { startPerfRun } from '../perf/run-recorder.js';
import { endedClean, startXattrMark } from '../perf/xattr-mark.js';
import { transferLocally } from '../transport/in-process/local-transfer.js';
import { BlitError, reasonOf, showPath } from '../util/errors.js';
import { countOf, parseSize } from '../util/human.js';
import { canAsk, confirmDeletions } from './confirm.js';
import { readPathArguments } from './local-lookalike.js';
import type { TransferFlags } from './program.js';
import { ProgressDisplay, progressStyle } from './progress-display.js';
import { printActions, printReport } from './report-output.js';
import { err, isTerminal, out } from './stdio.js';

export function compareModeOf(flags: TransferFlags): CompareMode {
  const chosen: [boolean | undefined, CompareMode][] = [
    [flags.checksum, 'checksum'],
    [flags.sizeOnly, 'size-only'],
    [flags.ignoreTimes, 'ignore-times'],
    [flags.ignoreExisting, 'ignore-existing'],
  ];
  const set = chosen.filter(([on]) => on);
  if (set.length > 1) {
    throw new BlitError('choose one of --checksum, --size-only, --ignore-times, --ignore-existing');
  }
  return set[0]?.[1] ?? 'default';
}

function sizeFlag(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const size = parseSize(text);
  if (size === undefined)
    throw new BlitError(`--${name} ${JSON.stringify(text)}: not a size (try 100K, 5M, 1G)`);
  return size;
}

/** Reads --files-from: one relative path per line; blank lines and lines starting with '#' are ignored. */
export function readFilesFrom(path: string): string[] {
  let raw: Buffer;
  try {
    raw = path === '-' ? readFileSync(0) : readFileSync(path);
  } catch (error) {
    throw new BlitError(`${showPath(path)}: ${reasonOf(error)}`);
  }
  if (!isUtf8(raw))
    throw new BlitError(`${showPath(path)}: not valid UTF-8 (non-UTF-8 names are not supported)`);
  const text = raw.toString('utf8').replace(/^\uFEFF/, '');
  const rels: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '' || line.startsWith('#')) return;
    const rel = line
      .replace(/^(\.\/)+/, '')
      .replace(/^\/+/, '')
      .replace(/\/+$/, '');
    if (!isSafeRel(rel) || rel === '') {
      throw new BlitError(
        `${showPath(path)}:${index + 1}: ${JSON.stringify(line)} is not a relative path inside the source`,
      );
    }
    rels.push(rel);
  });
  return rels;
}

/** The transfer options the flags ask for, checked. */
export function transferOptions(operation: Operation, flags: TransferFlags): TransferOptions {
  const filter: FilterSpec = {
    include: flags.include ?? [],
    exclude: flags.exclude ?? [],
    minSize: sizeFlag('min-size', flags.minSize),
    maxSize: sizeFlag('max-size', flags.maxSize),
  };
  if (flags.filesFrom !== undefined) filter.filesFrom = readFilesFrom(flags.filesFrom);
  return {
    operation,
    compare: compareModeOf(flags),
    filter,
    dryRun: Boolean(flags.dryRun),
    deleteExcluded: Boolean(flags.deleteExcluded),
    preserve: {
      owner: flags.owner !== false,
      xattrs: flags.xattrs !== false,
      acls: flags.acls !== false,
      hardLinks: flags.hardLinks !== false,
      numericIds: Boolean(flags.numericIds),
    },
  };
}

/** What every transfer's command line sets up: the action list, progress display and signals. */
export interface CommandSession {
  progress: Progress;
  display?: ProgressDisplay;
  /** Aborted with the signal's name by the first SIGINT or SIGTERM. */
  interruption: AbortController;
  onAction?: (action: Action) => void;
  /** Stops the display and removes the signal handlers. */
  close(): void;
}

export function startCommandSession(options: TransferOptions, flags: TransferFlags): CommandSession {
  const listActions = Boolean(flags.verbose || flags.dryRun);
  const writeAction = flags.json ? err : out;
  const progress = newProgress();
  let style = progressStyle(flags.progress, Boolean(flags.json), isTerminal(2));
  // Listed actions are progress enough on a terminal; a redrawn line would garble them.
  if (style === 'line' && listActions && !flags.json) style = undefined;
  const display = style ? new ProgressDisplay(progress, style) : undefined;
  display?.start();
  // The first SIGINT or SIGTERM stops the run cleanly (no temp file left, nothing deleted); a
  // second one, with the handler gone, ends the process at once.
  const interruption = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => interruption.abort(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    progress,
    display,
    interruption,
    onAction: listActions ? (action) => printActions(writeAction, action, options.dryRun) : undefined,
    close() {
      display?.stop();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/**
 * The deletion question, asked as locally: --yes deletes; without a terminal nothing is deleted
 * (with one line saying so); otherwise the person at the terminal is asked.
 */
export async function askDeletions(
  session: CommandSession,
  flags: TransferFlags,
  candidates: DeletionCandidate[],
  where: string,
  total = candidates.length,
): Promise<boolean> {
  if (flags.yes) return true;
  if (!canAsk()) {
    session.display?.stop();
    err(
      `blit: not deleting ${countOf(total, 'entry', 'entries')} from ${showPath(where)} without confirmation; run on a terminal or pass --yes\n`,
    );
    return false;
  }
  // The prompt takes the terminal; progress goes on after it (deletions, deferred copies).
  session.display?.stop();
  try {
    return await confirmDeletions(candidates, where, session.interruption.signal, total);
  } finally {
    session.display?.start();
  }
}

/** Prints the report and says how the command exits. */
export function finishReport(report: TransferReport, flags: TransferFlags): number {
  printReport(report, Boolean(flags.json));
  return report.failed > 0 ? 2 : 0;
}

/**
 * A push's walk finds its first directories listed by the time the session opens: only for what it
 * will list whole, a directory (not a link to one, unless given with a trailing '/'), without filters.
 */
function readSourceAhead(src: string, filter: TransferOptions['filter']): void {
  if (src === '' || filter.include.length > 0 || filter.exclude.length > 0 || filter.filesFrom) return;
  const root = sourcePath(src);
  if (localProbe.kind(root, src.endsWith('/')) === 'dir') readTreeAhead(root);
}

export async function runTransferCommand(
  operation: Operation,
  src: string,
  dst: string,
  flags: TransferFlags,
): Promise<number> {
  const [srcRemote, dstRemote] = readPathArguments(src, dst);
  if (flags.ludicrousSpeed)
    err('blit: --ludicrous-speed is deprecated and does nothing: blit tunes itself\n');
  const options = transferOptions(operation, flags);
  if (srcRemote || dstRemote) {
    if (dstRemote && !srcRemote) readSourceAhead(src, options.filter);
    // gRPC loads only for remote transfers.
    const { runRemoteTransfer } = await import('./remote-transfer.js');
    return runRemoteTransfer(src, dst, { srcRemote: srcRemote!, dstRemote: dstRemote! }, options, flags);
  }
  const endpoints = resolveEndpoints(src, dst, localProbe);
  const perf = startPerfRun({ source: endpoints.source, destination: endpoints.target, ...options });
  const mark = startXattrMark({
    source: endpoints.source,
    destination: endpoints.target,
    ...options,
    keepXattrs: keepMask(options.preserve ?? PRESERVE_ALL),
    native: nativeAddon() !== undefined,
  });
  let sourceCtimeMaxMs: number | undefined;
  const session = startCommandSession(options, flags);
  const report = await transferLocally(endpoints, options, {
    signal: session.interruption.signal,
    progress: session.progress,
    plan: perf.plan,
    xattrsUnchangedBefore: mark.unchangedBefore,
    onStats: (stats) => {
      sourceCtimeMaxMs = stats.sourceCtimeMaxMs;
      perf.onStats(stats);
    },
    onAction: session.onAction,
    confirmDeletions: (candidates) => askDeletions(session, flags, candidates, endpoints.target),
  })
    .finally(() => session.close())
    .catch((error: unknown) => {
      perf.finish('fatal', error);
      throw error;
    });
  perf.finish(report.failed > 0 ? 'partial' : 'ok');
  mark.finish(endedClean(report.failed, report.fidelity) && report.deletionsWithheld === 0, sourceCtimeMaxMs);
  return finishReport(report, flags);
}
